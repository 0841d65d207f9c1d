#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pathlist.h"

int pathlist_split(const char *s, const char *seps, unsigned flags, struct pathlist *out)
{
	memset(out, 0, sizeof *out);
	if (!s || !*s)
		return 0;
	size_t len = strlen(s), n = 1;
	for (const char *p = s; *p; p++)
		n += strchr(seps, *p) != NULL;
	/* The strings are s itself with separators turned into NULs. */
	out->mem = malloc(len + 1);
	out->v = calloc(n + 1, sizeof *out->v);
	if (!out->mem || !out->v) {
		pathlist_free(out);
		return COMPAT_ENOMEM;
	}
	memcpy(out->mem, s, len + 1);
	char *start = out->mem;
	for (char *p = out->mem;; p++) {
		int end = *p == '\0';
		if (!end && !strchr(seps, *p))
			continue;
		*p = '\0';
		if (*start || (flags & PATHLIST_KEEP_EMPTY))
			out->v[out->n++] = start;
		if (end)
			break;
		start = p + 1;
	}
	out->v[out->n] = NULL;
	return 0;
}

void pathlist_free(struct pathlist *l)
{
	free(l->v);
	free(l->mem);
	memset(l, 0, sizeof *l);
}
