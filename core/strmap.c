#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "strmap.h"

/* Eight bytes at a time (the keys are paths and sonames, 10-60 bytes),
 * mixed at the end so that the low bits, which pick the slot, depend on
 * every byte. */
static uint64_t hash_str(const char *s)
{
	size_t len = strlen(s);
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;
	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

/* The slot of key (hash h), or the empty slot where it would go. */
static struct strmap_slot *find_h(const struct strmap *m, const char *key, uint64_t h)
{
	size_t i = h & (m->cap - 1);
	while (m->slots[i].key) {
		if (m->slots[i].hash == h && strcmp(m->slots[i].key, key) == 0)
			return &m->slots[i];
		i = (i + 1) & (m->cap - 1);
	}
	return &m->slots[i];
}

static struct strmap_slot *find(const struct strmap *m, const char *key)
{
	return m->cap ? find_h(m, key, hash_str(key)) : NULL;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s = find(m, key);
	return s && s->key ? s->value : NULL;
}

static int grow(struct strmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct strmap_slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = calloc(ncap, sizeof *m->slots);
	if (!m->slots) {
		m->slots = old;
		return -1;
	}
	m->cap = ncap;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			*find_h(m, old[i].key, old[i].hash) = old[i];
	free(old);
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	if ((m->n + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -1;
	uint64_t h = hash_str(key);
	struct strmap_slot *s = find_h(m, key, h);
	if (!s->key) {
		if (!(s->key = m->borrowed ? (char *)key : strdup(key)))
			return -1;
		s->hash = h;
		m->n++;
	}
	s->value = value;
	return 0;
}

void strmap_each(const struct strmap *m, void (*fn)(void *value))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			fn(m->slots[i].value);
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap && !m->borrowed; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

int strset_add(struct strmap *m, const char *key)
{
	return strmap_get(m, key) || strmap_put(m, key, (void *)1) == 0 ? 0 : COMPAT_ENOMEM;
}
