#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "artifact.h"
#include "fsutil.h"
#include "jsonw.h"

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

/* ---- the flat reader ----
 *
 * An artifact is one object with a "version" string and an "attributes"
 * object of strings. This reader takes exactly that (other top-level
 * members with string values are passed over) and answers what jansson's
 * reading below gives for it: strings decoded the same way (escapes,
 * \u surrogate pairs), the same UTF-8 checks, duplicates refused. For
 * anything else (a number or a nested value anywhere, a syntax error, a
 * duplicate key, \u0000, bytes that are not UTF-8) it declines, and the
 * jansson reader decides, with its own message. tests/fuzz/fuzz_artifact.c
 * compares the two. It costs about a third of jansson's time (no tree, no
 * per-byte buffer appends), and when an allocation fails it says so (jansson's
 * lexer is not safe then: docs/serve.md). */

struct flat {
	const char *p, *end;
};

static void skip_ws(struct flat *f)
{
	while (f->p < f->end && (*f->p == ' ' || *f->p == '\t' || *f->p == '\n' || *f->p == '\r'))
		f->p++;
}

static int hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			   : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16;
		if (d > 15)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

static char *put_utf8(char *o, unsigned c)
{
	if (c < 0x80) {
		*o++ = (char)c;
	} else if (c < 0x800) {
		*o++ = (char)(0xC0 | c >> 6);
		*o++ = (char)(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		*o++ = (char)(0xE0 | c >> 12);
		*o++ = (char)(0x80 | (c >> 6 & 0x3F));
		*o++ = (char)(0x80 | (c & 0x3F));
	} else {
		*o++ = (char)(0xF0 | c >> 18);
		*o++ = (char)(0x80 | (c >> 12 & 0x3F));
		*o++ = (char)(0x80 | (c >> 6 & 0x3F));
		*o++ = (char)(0x80 | (c & 0x3F));
	}
	return o;
}

enum { FLAT_OK = 0, FLAT_DECLINE = 1 };

static const unsigned char special[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* A string at f->p ('"'), decoded into *out (malloc'd; NULL when out is
 * NULL: only checked). FLAT_OK, FLAT_DECLINE, COMPAT_ENOMEM. */
static int flat_string(struct flat *f, char **out)
{
	if (f->p >= f->end || *f->p != '"')
		return FLAT_DECLINE;
	const char *s = ++f->p, *q = s;
	int escapes = 0;
	for (;;) {
		/* the bytes that need a look: '"', '\\' and controls */
		while (q < f->end && !special[(unsigned char)*q])
			q++;
		if (q >= f->end || *q == '"')
			break;
		if ((unsigned char)*q < 0x20)
			return FLAT_DECLINE;
		escapes = 1;
		if ((q += 2) > f->end)
			return FLAT_DECLINE;
	}
	if (q >= f->end)
		return FLAT_DECLINE;
	size_t n = (size_t)(q - s);
	f->p = q + 1;
	if (!escapes) {
		if (!jsonw_utf8_valid(s, n))
			return FLAT_DECLINE;
		if (!out)
			return FLAT_OK;
		if (!(*out = malloc(n + 1)))
			return COMPAT_ENOMEM;
		memcpy(*out, s, n);
		(*out)[n] = '\0';
		return FLAT_OK;
	}
	/* Decoded, it is no longer than it was. */
	char *buf = malloc(n + 1), *o = buf;
	if (!buf)
		return COMPAT_ENOMEM;
	const char *run = s;	/* raw bytes not yet checked and copied */
	for (const char *p = s; p < q;) {
		if (*p != '\\') {
			p++;
			continue;
		}
		if (!jsonw_utf8_valid(run, (size_t)(p - run)))
			goto decline;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		char e = p[1];
		p += 2;
		switch (e) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned c, lo;
			if (q - p < 4 || hex4(p, &c) < 0)
				goto decline;
			p += 4;
			if (c >= 0xD800 && c <= 0xDBFF) {
				if (q - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 || lo < 0xDC00 ||
				    lo > 0xDFFF)
					goto decline;
				p += 6;
				c = ((c - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
			} else if ((c >= 0xDC00 && c <= 0xDFFF) || c == 0) {
				goto decline;	/* a lone low surrogate; NUL (jansson refuses both) */
			}
			o = put_utf8(o, c);
			break;
		}
		default:
			goto decline;
		}
		run = p;
	}
	if (!jsonw_utf8_valid(run, (size_t)(q - run)))
		goto decline;
	memcpy(o, run, (size_t)(q - run));
	o += q - run;
	*o = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	return FLAT_OK;
decline:
	free(buf);
	return FLAT_DECLINE;
}

/* The "attributes" object at f->p. */
static int flat_attrs(struct flat *f, struct artifact *a)
{
	int rc;
	skip_ws(f);
	if (f->p >= f->end || *f->p != '{')
		return FLAT_DECLINE;
	f->p++;
	skip_ws(f);
	if (f->p < f->end && *f->p == '}') {
		f->p++;
		return FLAT_OK;
	}
	for (;;) {
		char *k = NULL, *v = NULL;
		skip_ws(f);
		if ((rc = flat_string(f, &k)) != FLAT_OK)
			return rc;
		skip_ws(f);
		if (f->p >= f->end || *f->p != ':') {
			free(k);
			return FLAT_DECLINE;
		}
		f->p++;
		skip_ws(f);
		if ((rc = flat_string(f, &v)) != FLAT_OK) {
			free(k);
			return rc;
		}
		if (a->nattrs == a->cap) {
			size_t ncap = a->cap ? a->cap * 2 : 16;
			struct artifact_attr *n = realloc(a->attrs, ncap * sizeof *n);
			if (!n) {
				free(k);
				free(v);
				return COMPAT_ENOMEM;
			}
			a->attrs = n;
			a->cap = ncap;
		}
		a->attrs[a->nattrs].key = k;
		a->attrs[a->nattrs].value = v;
		a->nattrs++;
		skip_ws(f);
		if (f->p < f->end && *f->p == ',') {
			f->p++;
			continue;
		}
		if (f->p < f->end && *f->p == '}') {
			f->p++;
			return FLAT_OK;
		}
		return FLAT_DECLINE;
	}
}

#define FLAT_MAX_TOP 16

int artifact_parse_flat(const char *json, size_t len, struct artifact *a)
{
	struct flat f = { json, json + len };
	const char *top[FLAT_MAX_TOP];	/* the top-level keys (raw: none has an escape) */
	size_t ntop = 0, toplen[FLAT_MAX_TOP];
	int rc = FLAT_DECLINE, have_attrs = 0;
	artifact_init(a);
	skip_ws(&f);
	if (f.p >= f.end || *f.p != '{')
		goto out;
	f.p++;
	for (;;) {
		skip_ws(&f);
		const char *k = f.p + 1;
		if ((rc = flat_string(&f, NULL)) != FLAT_OK)
			goto out;
		size_t kl = (size_t)(f.p - 1 - k);
		rc = FLAT_DECLINE;
		if (memchr(k, '\\', kl) || ntop == FLAT_MAX_TOP)
			goto out;
		for (size_t i = 0; i < ntop; i++)
			if (toplen[i] == kl && memcmp(top[i], k, kl) == 0)
				goto out;	/* a duplicate: jansson's message */
		top[ntop] = k;
		toplen[ntop++] = kl;
		skip_ws(&f);
		if (f.p >= f.end || *f.p != ':')
			goto out;
		f.p++;
		skip_ws(&f);
		if (kl == 10 && memcmp(k, "attributes", 10) == 0) {
			have_attrs = 1;
			rc = flat_attrs(&f, a);
		} else {
			rc = flat_string(&f, kl == 7 && memcmp(k, "version", 7) == 0 ? &a->version : NULL);
		}
		if (rc != FLAT_OK)
			goto out;
		rc = FLAT_DECLINE;
		skip_ws(&f);
		if (f.p < f.end && *f.p == ',') {
			f.p++;
			continue;
		}
		if (f.p < f.end && *f.p == '}') {
			f.p++;
			break;
		}
		goto out;
	}
	skip_ws(&f);
	if (f.p != f.end || !a->version || !have_attrs)
		goto out;
	if (a->nattrs > 1)
		qsort(a->attrs, a->nattrs, sizeof *a->attrs, cmp_attr);
	for (size_t i = 1; i < a->nattrs; i++)
		if (strcmp(a->attrs[i - 1].key, a->attrs[i].key) == 0)
			goto out;
	rc = FLAT_OK;
out:
	if (rc != FLAT_OK)
		artifact_free(a);
	return rc;
}

int artifact_parse(const char *json, size_t len, const char *name, struct artifact *a, struct cerr *err)
{
	artifact_init(a);
	if (len > ARTIFACT_MAX_BYTES)
		return cerr_set(err, COMPAT_ELIMIT, "%s: artifact larger than %u bytes", name,
				ARTIFACT_MAX_BYTES);
	int rc = artifact_parse_flat(json, len, a);
	if (rc == COMPAT_ENOMEM)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	if (rc == FLAT_OK)
		return 0;
	return artifact_parse_json(json, len, name, a, err);
}

int artifact_parse_json(const char *json, size_t len, const char *name, struct artifact *a, struct cerr *err)
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
	/* Written as jansson's json_dumps(JSON_INDENT(2)) wrote it (the files
	 * earlier versions made are byte for byte the same), without building
	 * its tree: attrs are kept sorted, so the output is too. */
	struct jsonw w;
	jsonw_init(&w, 0);
	jsonw_set_indent(&w, 2);
	jsonw_object_begin(&w);
	jsonw_key(&w, "attributes");
	jsonw_object_begin(&w);
	for (size_t i = 0; i < a->nattrs; i++) {
		jsonw_key(&w, a->attrs[i].key);
		jsonw_string(&w, a->attrs[i].value);
	}
	jsonw_object_end(&w);
	jsonw_key(&w, "version");
	jsonw_string(&w, a->version ? a->version : ARTIFACT_VERSION);
	jsonw_object_end(&w);
	if (jsonw_finish(&w) < 0)
		return NULL;
	/* and a final newline */
	char *out = realloc(w.p, w.len + 2);
	if (!out) {
		free(w.p);
		return NULL;
	}
	out[w.len] = '\n';
	out[w.len + 1] = '\0';
	if (len)
		*len = w.len + 1;
	return out;
}
