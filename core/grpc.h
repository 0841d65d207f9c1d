/* gRPC over HTTP/2, the parts above the framing layer (PROTOCOL-NOTES):
 * the 5-byte length-prefixed message, status codes, the percent-encoded
 * grpc-message, grpc-timeout. Bytes in, bytes out; no I/O. */
#ifndef COMPAT_GRPC_H
#define COMPAT_GRPC_H

#include <stddef.h>
#include <stdint.h>

enum grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
};

#define GRPC_PREFIX 5

/* Parse a length prefix: returns 0 and sets *compressed and *len, or
 * COMPAT_EINVAL when fewer than 5 bytes are given. */
int grpc_prefix_decode(const uint8_t *buf, size_t n, int *compressed, uint32_t *len);

/* Write the prefix of an uncompressed message of len bytes into out[5]. */
void grpc_prefix_encode(uint8_t out[GRPC_PREFIX], uint32_t len);

/* Percent-encode msg for grpc-message into out (size cap, NUL-terminated,
 * truncated if needed). Bytes 0x20-0x7E except '%' pass through. */
void grpc_message_encode(const char *msg, char *out, size_t cap);

/* grpc-timeout ("100m", "5S", up to 8 digits and a unit H M S m u n) in
 * nanoseconds; COMPAT_EINVAL (negative) when malformed. */
int64_t grpc_timeout_parse(const char *value);

/* Decimal text of a status (no leading zeros), into out[4]. */
void grpc_status_text(int status, char out[4]);

#endif
