/* Growing an array one element at a time, the one way the code does it:
 * the array's length n also tells its capacity (it doubles whenever n is 0
 * or a power of two), so appending n elements costs log n reallocations
 * and no capacity field is needed. */
#ifndef COMPAT_VEC_H
#define COMPAT_VEC_H

#include <stddef.h>

#include "err.h"

/* arr, holding n elements of elem bytes, with room for one more: arr
 * itself, or a reallocated copy. NULL when out of memory or the size would
 * overflow (arr is then unchanged and still owned by the caller). */
void *vec_grow(void *arr, size_t n, size_t elem);

/* VEC_GROW(p, n): make room for p[n]. 0, or COMPAT_ENOMEM (p unchanged). */
#define VEC_GROW(p, n)                                                     \
	__extension__({                                                    \
		__typeof__(p) vec_np_ = vec_grow((p), (n), sizeof *(p));   \
		if (vec_np_)                                               \
			(p) = vec_np_;                                     \
		vec_np_ ? 0 : COMPAT_ENOMEM;                               \
	})

#endif
