#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jsonw.h"

void jsonw_init(struct jsonw *w, size_t reserve)
{
	memset(w, 0, sizeof *w);
	w->len = reserve;
	if (reserve) {
		w->cap = reserve + 256;
		if (!(w->p = malloc(w->cap)))
			w->err = COMPAT_ENOMEM;
	}
}

void jsonw_set_indent(struct jsonw *w, unsigned indent)
{
	w->indent = indent > JSONW_MAX_INDENT ? JSONW_MAX_INDENT : indent;
}

/* Room for n more bytes (and a NUL). */
static int reserve(struct jsonw *w, size_t n)
{
	if (w->err)
		return -1;
	if (w->cap - w->len > n)
		return 0;
	size_t cap = w->cap ? w->cap : 256;
	while (cap - w->len <= n) {
		if (cap > ((size_t)-1) / 2) {
			w->err = COMPAT_ENOMEM;
			return -1;
		}
		cap *= 2;
	}
	char *p = realloc(w->p, cap);
	if (!p) {
		w->err = COMPAT_ENOMEM;
		return -1;
	}
	w->p = p;
	w->cap = cap;
	return 0;
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	if (reserve(w, n) == 0) {
		memcpy(w->p + w->len, s, n);
		w->len += n;
	}
}

/* With an indent: a line break and depth levels of it. */
static void newline(struct jsonw *w, unsigned depth)
{
	size_t n = (size_t)w->indent * depth;
	if (reserve(w, n + 1) == 0) {
		w->p[w->len++] = '\n';
		memset(w->p + w->len, ' ', n);
		w->len += n;
	}
}

/* Before a value (or a key): the comma between members. */
static void member(struct jsonw *w)
{
	if (w->err)
		return;
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	uint32_t bit = 1u << w->depth;
	if (w->depth && (w->has_items & bit))
		put(w, ",", 1);
	w->has_items |= bit;
	if (w->indent && w->depth)
		newline(w, w->depth);
}

static void open_level(struct jsonw *w, char c)
{
	member(w);
	if (w->err)
		return;
	if (w->depth + 1 >= JSONW_MAX_DEPTH) {
		w->err = COMPAT_EINVAL;
		return;
	}
	put(w, &c, 1);
	w->depth++;
	w->has_items &= ~(1u << w->depth);
}

static void close_level(struct jsonw *w, char c)
{
	if (w->err)
		return;
	if (!w->depth || w->after_key) {
		w->err = COMPAT_EINVAL;
		return;
	}
	if (w->indent && (w->has_items & (1u << w->depth)))
		newline(w, w->depth - 1);
	w->depth--;
	put(w, &c, 1);
}

void jsonw_object_begin(struct jsonw *w)
{
	open_level(w, '{');
}

void jsonw_object_end(struct jsonw *w)
{
	close_level(w, '}');
}

void jsonw_array_begin(struct jsonw *w)
{
	open_level(w, '[');
}

void jsonw_array_end(struct jsonw *w)
{
	close_level(w, ']');
}

int jsonw_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		/* ASCII, eight bytes at a time */
		uint64_t w8;
		while (i + 8 <= n && (memcpy(&w8, s + i, 8), !(w8 & 0x8080808080808080ull)))
			i += 8;
		if (i >= n)
			break;
		unsigned c = s[i];
		size_t size;
		uint32_t v;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			size = 2;
			v = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			size = 3;
			v = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			size = 4;
			v = c & 0x07;
		} else {
			return 0;	/* a continuation byte first, 0xC0, 0xC1, 0xF5.. */
		}
		if (n - i < size)
			return 0;
		for (size_t k = 1; k < size; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			v = (v << 6) | (s[i + k] & 0x3F);
		}
		if ((size == 3 && v < 0x800) || (v >= 0xD800 && v <= 0xDFFF) ||
		    (size == 4 && (v < 0x10000 || v > 0x10FFFF)))
			return 0;
		i += size;
	}
	return 1;
}

/* The bytes jansson escapes: '"', '\\' and controls. */
static const unsigned char needs_escape[256] = {
	[0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* "s", escaped as jansson escapes it: runs of plain bytes copied whole; the
 * UTF-8 check only when a byte above 0x7f was seen. */
static void quoted(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	if (w->err)
		return;
	/* At most 6 bytes out per byte in, and the quotes. */
	if (n > ((size_t)-1) / 8 || reserve(w, 6 * n + 2) < 0) {
		w->err = COMPAT_ENOMEM;
		return;
	}
	char *o = w->p + w->len;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	unsigned high = 0;
	*o++ = '"';
	for (;;) {
		const unsigned char *run = p;
		while (p < end && !needs_escape[*p])
			high |= *p++;
		memcpy(o, run, (size_t)(p - run));
		o += p - run;
		if (p == end)
			break;
		unsigned c = *p++;
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	if ((high & 0x80) && !jsonw_utf8_valid(s, n)) {
		w->err = COMPAT_EINVAL;	/* nothing of it kept: w->len is as it was */
		return;
	}
	w->len = (size_t)(o - w->p);
}

void jsonw_key(struct jsonw *w, const char *key)
{
	member(w);
	quoted(w, key);
	put(w, ": ", w->indent ? 2 : 1);
	if (!w->err)
		w->after_key = 1;
}

void jsonw_string(struct jsonw *w, const char *s)
{
	if (!s)
		return jsonw_null(w);
	member(w);
	quoted(w, s);
}

void jsonw_bool(struct jsonw *w, int b)
{
	member(w);
	if (b)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jsonw_null(struct jsonw *w)
{
	member(w);
	put(w, "null", 4);
}

int jsonw_finish(struct jsonw *w)
{
	if (!w->err && (w->depth || w->after_key))
		w->err = COMPAT_EINVAL;
	if (!w->err && reserve(w, 0) == 0)
		w->p[w->len] = '\0';
	if (w->err) {
		int rc = w->err;
		jsonw_free(w);
		return rc;
	}
	return 0;
}

void jsonw_free(struct jsonw *w)
{
	free(w->p);
	w->p = NULL;
	w->len = w->cap = 0;
}
