/* Small parsers of numbers in text, shared so that nothing needs sscanf
 * (whose static copy costs ~40 KB of the static binary's 2 MiB budget). */
#ifndef COMPAT_PARSE_H
#define COMPAT_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* "6.1.0-18-amd64" -> {6, 1, 0}: up to max dot-separated decimal numbers
 * from the start of s (missing ones are 0). Returns how many were read
 * (0 when s does not start with a digit); *end (if non-NULL) is set past
 * the last one. Numbers beyond UINT32_MAX stop the parse. */
size_t parse_dotted(const char *s, unsigned *v, size_t max, const char **end);

/* A decimal number of at most 10 digits at s; -1 when there is none. *end
 * (if non-NULL) is set past it. */
long parse_uint(const char *s, const char **end);

/* A hexadecimal number (no "0x") of at most 16 digits at s; 0 with *ok = 0
 * when there is none. *end (if non-NULL) is set past it. */
uint64_t parse_hex(const char *s, const char **end, int *ok);

#endif
