/* Memoised answers (DESIGN §5: verdicts by the payload's digest): a
 * bounded map from a request's bytes (its key) to the bytes answered, with
 * the least recently used entry dropped first. Keys are hashed (64 bits,
 * seeded per map) and compared whole on a hit, so two requests share an
 * answer only when their keys are equal byte for byte. An entry may carry
 * an expiry (an answer that used directories a request named is no fresher
 * than the directory cache it came from). One map per loop: no locking.
 *
 * Bounds: max_entries entries and max_bytes bytes of keys and answers
 * together; an entry larger than a quarter of max_bytes is not kept. */
#ifndef COMPAT_MEMO_H
#define COMPAT_MEMO_H

#include <stddef.h>
#include <stdint.h>

struct memo;

/* A map; max_entries 0 makes one that keeps nothing. Returns 0 or
 * COMPAT_ENOMEM. */
int memo_new(struct memo **out, size_t max_entries, size_t max_bytes);

/* The answer kept for the key made of two parts, key[0..klen) and
 * key2[0..k2len) (so that a caller need not copy two pieces into one;
 * equal only when both parts are), or NULL; *len its length, *note what
 * was kept with it. Borrowed until the next memo_put or memo_clear. now:
 * ms, monotonic (for the expiry), or MEMO_NOW: the clock is read only for
 * an entry that has an expiry. */
#define MEMO_NOW INT64_MIN
const uint8_t *memo_get(struct memo *m, const void *key, size_t klen, const void *key2, size_t k2len,
			int64_t now, size_t *len, int *note);

/* Keep a copy of the answer for key+key2 until `until` (ms; INT64_MAX:
 * until dropped). Returns 0, or COMPAT_ENOMEM (nothing kept: the map is
 * as it was). */
int memo_put(struct memo *m, const void *key, size_t klen, const void *key2, size_t k2len, const uint8_t *ans,
	     size_t len, int note, int64_t until);

/* Drop everything (the index the answers came from was replaced). */
void memo_clear(struct memo *m);

size_t memo_count(const struct memo *m);
size_t memo_bytes(const struct memo *m);

void memo_free(struct memo *m);

#endif
