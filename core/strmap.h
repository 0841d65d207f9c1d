/* A string-keyed hash map (open addressing, linear probing). Keys are
 * copied; values are opaque pointers the caller owns. */
#ifndef COMPAT_STRMAP_H
#define COMPAT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
	char *key;
	void *value;
	uint64_t hash;	/* of key: compared before the key, kept when growing */
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap, n;
	int borrowed;	/* set before the first put: keys are not copied (nor
			 * freed); each must outlive the map */
};

/* Value for key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/* Insert or replace. Returns 0, or -1 when out of memory. */
int strmap_put(struct strmap *m, const char *key, void *value);

/* A strmap used as a set of strings: add key (no-op when present).
 * Returns 0 or COMPAT_ENOMEM. */
int strset_add(struct strmap *m, const char *key);

/* Call fn on every value (e.g. to free them). */
void strmap_each(const struct strmap *m, void (*fn)(void *value));

/* Frees keys and slots, not values. */
void strmap_free(struct strmap *m);

#endif
