/* The one monotonic clock of the program (CLOCK_MONOTONIC): timeouts,
 * deadlines and durations everywhere, server and clients alike. */
#ifndef COMPAT_CLOCK_H
#define COMPAT_CLOCK_H

#include <stdint.h>

/* Milliseconds since an arbitrary start. */
int64_t clock_now_ms(void);

/* Nanoseconds since the same start. */
int64_t clock_now_ns(void);

#endif
