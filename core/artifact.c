#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "fsutil.h"

void artifact_init(struct artifact *a)
{
	memset(a, 0, sizeof *a);
}

void artifact_free(struct artifact *a)
{
	for (size_t i = 0; i < a->nattrs; i++) {
		free(a->attrs[i].key);
		free(a->attrs[i].value);
	}
	free(a->attrs);
	free(a->version);
	artifact_init(a);
}

/* Index of key, or -(insertion point) - 1. */
static long attr_find(const struct artifact *a, const char *key)
{
	size_t lo = 0, hi = a->nattrs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a->attrs[mid].key, key);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

const char *artifact_get(const struct artifact *a, const char *key)
{
	long i = attr_find(a, key);
	return i >= 0 ? a->attrs[i].value : NULL;
}

int artifact_set(struct artifact *a, const char *key, const char *value)
{
	long i = attr_find(a, key);
	char *v = strdup(value);
	if (!v)
		return COMPAT_ENOMEM;
	if (i >= 0) {
		free(a->attrs[i].value);
		a->attrs[i].value = v;
		return 0;
	}
	size_t at = (size_t)(-i - 1);
	if (a->nattrs == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		struct artifact_attr *n = realloc(a->attrs, ncap * sizeof *n);
		if (!n) {
			free(v);
			return COMPAT_ENOMEM;
		}
		a->attrs = n;
		a->cap = ncap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return COMPAT_ENOMEM;
	}
	memmove(a->attrs + at + 1, a->attrs + at, (a->nattrs - at) * sizeof *a->attrs);
	a->attrs[at].key = k;
	a->attrs[at].value = v;
	a->nattrs++;
	return 0;
}

static int cmp_attr(const void *x, const void *y)
{
	return strcmp(((const struct artifact_attr *)x)->key, ((const struct artifact_attr *)y)->key);
}

/* Add an attribute at the end (artifact_parse sorts afterwards). */
static int append_attr(struct artifact *a, const char *key, const char *value)
{
	if (a->nattrs == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		struct artifact_attr *n = realloc(a->attrs, ncap * sizeof *n);
		if (!n)
			return COMPAT_ENOMEM;
		a->attrs = n;
		a->cap = ncap;
	}
	char *k = strdup(key), *v = strdup(value);
	if (!k || !v) {
		free(k);
		free(v);
		return COMPAT_ENOMEM;
	}
	a->attrs[a->nattrs].key = k;
	a->attrs[a->nattrs].value = v;
	a->nattrs++;
	return 0;
}

int artifact_parse(const char *json, size_t len, const char *name,
		   struct artifact *a, struct cerr *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	int rc = 0;

	artifact_init(a);
	if (len > ARTIFACT_MAX_BYTES)
		return cerr_set(err, COMPAT_ELIMIT, "%s: artifact larger than %u bytes", name,
				ARTIFACT_MAX_BYTES);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return cerr_set(err, COMPAT_EINVAL, "%s:%d: %s", name, jerr.line, jerr.text);
	if (!json_is_object(root)) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: expected a JSON object", name);
		goto out;
	}
	json_t *version = json_object_get(root, "version");
	if (!json_is_string(version)) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: expected string for \"version\"", name);
		goto out;
	}
	json_t *attrs = json_object_get(root, "attributes");
	if (!json_is_object(attrs)) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: expected object for \"attributes\"", name);
		goto out;
	}
	if (!(a->version = strdup(json_string_value(version)))) {
		rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	const char *key;
	json_t *val;
	json_object_foreach(attrs, key, val) {
		if (!json_is_string(val)) {
			/* Our own namespace must be strings; others' values we
			 * cannot represent are skipped, never an error. */
			if (strncmp(key, ARTIFACT_NS, strlen(ARTIFACT_NS)) == 0) {
				rc = cerr_set(err, COMPAT_EINVAL, "%s: expected string for \"%.80s\"",
					      name, key);
				goto out;
			}
			continue;
		}
		if (append_attr(a, key, json_string_value(val)) < 0) {
			rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			goto out;
		}
	}
	/* Sorted once: inserting each in place costs n^2 moves, seconds for
	 * 100,000 keys in reverse order (a server's request). Keys are unique
	 * (JSON_REJECT_DUPLICATES). */
	if (a->nattrs > 1)
		qsort(a->attrs, a->nattrs, sizeof *a->attrs, cmp_attr);
out:
	json_decref(root);
	if (rc < 0)
		artifact_free(a);
	return rc;
}

int artifact_load(const char *path, struct artifact *a, struct cerr *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = fs_read_file(path, ARTIFACT_MAX_BYTES, &data, &len, err);
	if (rc == 0)
		rc = artifact_parse(data, len, strcmp(path, "-") == 0 ? "<stdin>" : path, a, err);
	else
		artifact_init(a);
	free(data);
	return rc;
}

char *artifact_to_json(const struct artifact *a, size_t *len)
{
	json_t *root = json_object(), *attrs = json_object();
	char *out = NULL;

	if (!root || !attrs)
		goto out;
	for (size_t i = 0; i < a->nattrs; i++)
		if (json_object_set_new(attrs, a->attrs[i].key, json_string(a->attrs[i].value)) < 0)
			goto out;
	if (json_object_set(root, "attributes", attrs) < 0)
		goto out;
	if (json_object_set_new(root, "version",
				json_string(a->version ? a->version : ARTIFACT_VERSION)) < 0)
		goto out;
	/* attrs are kept sorted and jansson keeps insertion order, so the
	 * output is sorted without JSON_SORT_KEYS (a measurable cost). */
	char *s = json_dumps(root, JSON_INDENT(2));
	if (!s)
		goto out;
	size_t n = strlen(s);
	out = malloc(n + 2);
	if (out) {
		memcpy(out, s, n);
		out[n] = '\n';
		out[n + 1] = '\0';
		if (len)
			*len = n + 1;
	}
	free(s);
out:
	json_decref(attrs);
	json_decref(root);
	return out;
}
