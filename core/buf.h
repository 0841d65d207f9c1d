/* A growable byte buffer with a bound, for bytes that come from outside
 * (request and reply bodies). Always NUL-terminated after the data. */
#ifndef COMPAT_BUF_H
#define COMPAT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *p;	/* malloc'd; the owner frees it (buf_free) */
	size_t len, cap;
};

/* Append n bytes unless that would pass max bytes in all.
 * Returns 0, COMPAT_ELIMIT (nothing appended), COMPAT_ENOMEM. */
int buf_append(struct buf *b, const void *data, size_t n, size_t max);

void buf_free(struct buf *b);

#endif
