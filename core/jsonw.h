/* A small JSON writer for the reports compat sends (verdict_to_json, the
 * server's error payloads) and the artifacts gen writes (indented, see
 * jsonw_set_indent): values appended in order to one growing
 * buffer, no tree. Its output is exactly what jansson's
 * json_dumps(JSON_COMPACT) prints for the same values inserted in the same
 * order: no spaces, '"' '\\' \b \f \n \r \t escaped as such, other bytes
 * below 0x20 as \u00XX (upper-case hex), everything else (UTF-8 included)
 * as it is. Strings must be valid UTF-8 (jansson refuses the others, and
 * so does this writer, with COMPAT_EINVAL).
 *
 * Errors are sticky: after a failed allocation or a bad string every call
 * is a no-op and jsonw_finish says what went wrong; nothing is ever
 * written half (no shortened document). Not for untrusted nesting depth:
 * at most JSONW_MAX_DEPTH levels. */
#ifndef COMPAT_JSONW_H
#define COMPAT_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define JSONW_MAX_DEPTH 32
#define JSONW_MAX_INDENT 31	/* jansson's JSON_MAX_INDENT */

struct jsonw {
	char *p;		/* malloc'd (the caller's after jsonw_finish) */
	size_t len, cap;
	int err;		/* 0, COMPAT_ENOMEM, COMPAT_EINVAL */
	unsigned depth;
	uint32_t has_items;	/* per depth: a member was written at this level */
	int after_key;		/* a key was written: its value comes next */
	unsigned indent;	/* 0: compact; else jansson's JSON_INDENT(indent) */
};

/* Start empty, with room reserved: the document begins at offset
 * reserve (the caller writes a header there later, e.g. a protobuf tag). */
void jsonw_init(struct jsonw *w, size_t reserve);

/* Write as json_dumps(JSON_INDENT(indent)) does instead: every member on
 * a line of its own, indent spaces a level, ": " after keys; empty
 * objects and arrays stay "{}" and "[]". Set before the first value. */
void jsonw_set_indent(struct jsonw *w, unsigned indent);

void jsonw_object_begin(struct jsonw *w);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w);
void jsonw_array_end(struct jsonw *w);
/* An object's key; its value is the next call. */
void jsonw_key(struct jsonw *w, const char *key);
/* A string value; NULL writes null. */
void jsonw_string(struct jsonw *w, const char *s);
void jsonw_bool(struct jsonw *w, int b);
void jsonw_null(struct jsonw *w);

/* Finish: the document is w->p[reserve .. w->len), NUL-terminated; the
 * buffer is the caller's (free). Returns 0, COMPAT_ENOMEM or
 * COMPAT_EINVAL (invalid UTF-8; unbalanced nesting): then nothing is
 * returned and the buffer is freed. */
int jsonw_finish(struct jsonw *w);

/* Drop a writer without finishing it. */
void jsonw_free(struct jsonw *w);

/* Is s (n bytes) valid UTF-8 as jansson checks it (no overlong forms, no
 * surrogates, nothing past U+10FFFF)? */
int jsonw_utf8_valid(const char *s, size_t n);

#endif
