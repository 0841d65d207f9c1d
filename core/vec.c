#include <stdint.h>
#include <stdlib.h>

#include "vec.h"

void *vec_grow(void *arr, size_t n, size_t elem)
{
	if (n & (n - 1))
		return arr;	/* room left: capacity is the next power of two */
	size_t cap = n ? n * 2 : 1;
	if (n > SIZE_MAX / 2 || (elem && cap > SIZE_MAX / elem))
		return NULL;
	return realloc(arr, cap * elem);
}
