#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "memo.h"

struct entry {
	uint64_t hash;
	size_t k1len, klen, alen;	/* the key's first part, the whole key, the answer */
	int note;
	int64_t until;
	struct entry *chain;		/* in its bucket */
	struct entry *newer, *older;	/* the LRU list */
	uint8_t data[];			/* key, then answer */
};

struct memo {
	struct entry **buckets;
	size_t nbuckets;		/* a power of two */
	size_t n, bytes, max_entries, max_bytes;
	struct entry *newest, *oldest;
	uint64_t seed;
};

/* A 64-bit hash of a then b, eight bytes at a time (a multiply-xorshift
 * mix); not cryptographic: the keys are compared whole on a hit, and the
 * seed keeps chains short for keys chosen against it only by chance. */
static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 32)) * 0xd6e8feb86659fd93ull;
	return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		h = mix(h, v);
	}
	uint64_t tail = 0;
	if (n > i)
		memcpy(&tail, p + i, n - i);
	return mix(h, tail ^ ((uint64_t)n << 56));
}

static uint64_t hash2(const struct memo *m, const void *k, size_t kl, const void *k2, size_t k2l)
{
	return hash_bytes(hash_bytes(m->seed, k, kl), k2, k2l);
}

int memo_new(struct memo **out, size_t max_entries, size_t max_bytes)
{
	struct memo *m = calloc(1, sizeof *m);
	*out = NULL;
	if (!m)
		return COMPAT_ENOMEM;
	m->max_entries = max_entries;
	m->max_bytes = max_bytes;
	size_t nb = 16;
	while (nb < 2 * max_entries && nb < (1u << 20))
		nb *= 2;
	if (max_entries && !(m->buckets = calloc(nb, sizeof *m->buckets))) {
		free(m);
		return COMPAT_ENOMEM;
	}
	m->nbuckets = nb;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m->seed = mix((uint64_t)(uintptr_t)m, (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30));
	*out = m;
	return 0;
}

static void lru_unlink(struct memo *m, struct entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		m->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		m->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct memo *m, struct entry *e)
{
	e->older = m->newest;
	e->newer = NULL;
	if (m->newest)
		m->newest->newer = e;
	m->newest = e;
	if (!m->oldest)
		m->oldest = e;
}

static void drop(struct memo *m, struct entry *e)
{
	struct entry **p = &m->buckets[e->hash & (m->nbuckets - 1)];
	while (*p != e)
		p = &(*p)->chain;
	*p = e->chain;
	lru_unlink(m, e);
	m->n--;
	m->bytes -= e->klen + e->alen;
	free(e);
}

static int key_equal(const struct entry *e, const void *k, size_t kl, const void *k2, size_t k2l)
{
	return e->k1len == kl && e->klen == kl + k2l && (!kl || memcmp(e->data, k, kl) == 0) &&
	       (!k2l || memcmp(e->data + kl, k2, k2l) == 0);
}

const uint8_t *memo_get(struct memo *m, const void *key, size_t klen, const void *key2, size_t k2len,
			int64_t now, size_t *len, int *note)
{
	if (!m || !m->n)
		return NULL;
	uint64_t h = hash2(m, key, klen, key2, k2len);
	for (struct entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->chain) {
		if (e->hash != h || !key_equal(e, key, klen, key2, k2len))
			continue;
		if (e->until != INT64_MAX && (now == MEMO_NOW ? clock_now_ms() : now) > e->until) {
			drop(m, e);
			return NULL;
		}
		lru_unlink(m, e);
		lru_push(m, e);
		*len = e->alen;
		if (note)
			*note = e->note;
		return e->data + e->klen;
	}
	return NULL;
}

int memo_put(struct memo *m, const void *key, size_t klen, const void *key2, size_t k2len, const uint8_t *ans,
	     size_t len, int note, int64_t until)
{
	if (!m || !m->max_entries)
		return 0;
	size_t size = klen + k2len + len;
	if (size < len || size > m->max_bytes / 4)
		return 0;	/* too large to keep: answered once */
	uint64_t h = hash2(m, key, klen, key2, k2len);
	for (struct entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->chain)
		if (e->hash == h && key_equal(e, key, klen, key2, k2len)) {
			drop(m, e);	/* replaced below */
			break;
		}
	struct entry *e = malloc(sizeof *e + size);
	if (!e)
		return COMPAT_ENOMEM;
	while (m->oldest && (m->n + 1 > m->max_entries || m->bytes + size > m->max_bytes))
		drop(m, m->oldest);
	e->hash = h;
	e->k1len = klen;
	e->klen = klen + k2len;
	e->alen = len;
	e->note = note;
	e->until = until;
	if (klen)
		memcpy(e->data, key, klen);
	if (k2len)
		memcpy(e->data + klen, key2, k2len);
	if (len)
		memcpy(e->data + e->klen, ans, len);
	struct entry **b = &m->buckets[h & (m->nbuckets - 1)];
	e->chain = *b;
	*b = e;
	lru_push(m, e);
	m->n++;
	m->bytes += size;
	return 0;
}

void memo_clear(struct memo *m)
{
	while (m && m->oldest)
		drop(m, m->oldest);
}

size_t memo_count(const struct memo *m)
{
	return m ? m->n : 0;
}

size_t memo_bytes(const struct memo *m)
{
	return m ? m->bytes : 0;
}

void memo_free(struct memo *m)
{
	if (!m)
		return;
	memo_clear(m);
	free(m->buckets);
	free(m);
}
