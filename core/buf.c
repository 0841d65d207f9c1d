#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"

int buf_append(struct buf *b, const void *data, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return COMPAT_ELIMIT;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 1024;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if (ncap > max + 1)
			ncap = max + 1;
		uint8_t *np = realloc(b->p, ncap);
		if (!np)
			return COMPAT_ENOMEM;
		b->p = np;
		b->cap = ncap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}
