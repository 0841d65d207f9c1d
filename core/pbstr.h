/* nanopb callbacks for string fields too large to hold in a static
 * field (artifact payloads, reports): read into a malloc'd, NUL-terminated
 * buffer bounded by the message (itself bounded by the transport), write
 * from a C string. */
#ifndef COMPAT_PBSTR_H
#define COMPAT_PBSTR_H

#include <pb_decode.h>
#include <pb_encode.h>
#include <stddef.h>

struct pbstr {
	char *p;	/* malloc'd; the caller frees it */
	size_t n;
	int nomem;	/* reading failed for lack of memory (not a bad message) */
};

/* A repeated string field, bounded: at most PBSTR_LIST_MAX entries of at
 * most PBSTR_LIST_ITEM bytes each (more is a decode error). */
#define PBSTR_LIST_MAX 16
#define PBSTR_LIST_ITEM 4096

struct pbstr_list {
	char *v[PBSTR_LIST_MAX];	/* malloc'd; pbstr_list_free */
	size_t n;
	int nomem;			/* as in struct pbstr */
};

/* Decode callback for a repeated string: *arg is a struct pbstr_list. */
bool pbstr_list_read(pb_istream_t *stream, const pb_field_t *field, void **arg);

/* Encode callback for a repeated string: *arg is a struct pbstr_list. */
bool pbstr_list_write(pb_ostream_t *stream, const pb_field_t *field, void *const *arg);

void pbstr_list_free(struct pbstr_list *l);

/* Decode callback: *arg is a struct pbstr. */
bool pbstr_read(pb_istream_t *stream, const pb_field_t *field, void **arg);

/* Encode callback: *arg is a NUL-terminated string. */
bool pbstr_write(pb_ostream_t *stream, const pb_field_t *field, void *const *arg);

#endif
