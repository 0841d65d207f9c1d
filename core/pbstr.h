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
};

/* Decode callback: *arg is a struct pbstr. */
bool pbstr_read(pb_istream_t *stream, const pb_field_t *field, void **arg);

/* Encode callback: *arg is a NUL-terminated string. */
bool pbstr_write(pb_ostream_t *stream, const pb_field_t *field, void *const *arg);

#endif
