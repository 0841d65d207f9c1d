#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "ldcache.h"

#define OLD_MAGIC "ld.so-1.7.0"
#define NEW_MAGIC "glibc-ld.so.cache1.1"
#define NEW_HEADER 48
#define NEW_ENTRY 24
#define OLD_HEADER 16	/* magic[11] + pad + nlibs */
#define OLD_ENTRY 12
#define EXT_MAGIC 0xeaa42174u
#define EXT_TAG_HWCAPS 1u
#define HWCAP_EXTENSION (1ull << 62)

static uint32_t rd32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* A NUL-terminated string at off inside [0,size), or NULL. */
static const char *str_at(const unsigned char *base, size_t size, uint64_t off)
{
	if (off >= size || !memchr(base + off, '\0', size - off))
		return NULL;
	return (const char *)base + off;
}

static int parse_new(const unsigned char *img, size_t size, size_t start, const char *name,
		     struct ldcache *c, struct cerr *err)
{
	const unsigned char *h = img + start;
	size_t avail = size - start;
	if (avail < NEW_HEADER)
		return cerr_set(err, COMPAT_EINVAL, "%s: truncated header", name);
	uint32_t nlibs = rd32(h + 20);
	uint32_t ext_off = rd32(h + 32);
	if ((uint64_t)nlibs * NEW_ENTRY > avail - NEW_HEADER)
		return cerr_set(err, COMPAT_EINVAL, "%s: %u entries do not fit in %zu bytes", name,
				nlibs, avail);

	/* hwcaps subdirectory names from the extension section. The
	 * extension and its sections are at file offsets; the strings, like
	 * the entries' strings, count from the new header. */
	const char **hwcaps = NULL;
	size_t nhwcaps = 0;
	if (ext_off && ext_off <= size - 8 && rd32(img + ext_off) == EXT_MAGIC) {
		uint32_t count = rd32(img + ext_off + 4);
		for (uint32_t i = 0; i < count && i < 64; i++) {
			size_t so = (size_t)ext_off + 8 + (size_t)i * 16;
			if (so + 16 > size)
				break;
			uint32_t tag = rd32(img + so), off = rd32(img + so + 8), sz = rd32(img + so + 12);
			if (tag != EXT_TAG_HWCAPS || off > size || sz > size - off || sz % 4)
				continue;
			nhwcaps = sz / 4;
			hwcaps = calloc(nhwcaps ? nhwcaps : 1, sizeof *hwcaps);
			if (!hwcaps)
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			for (size_t k = 0; k < nhwcaps; k++)
				hwcaps[k] = str_at(h, avail, rd32(img + off + k * 4));
			break;
		}
	}

	c->entries = calloc(nlibs ? nlibs : 1, sizeof *c->entries);
	if (!c->entries) {
		free(hwcaps);
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	}
	for (uint32_t i = 0; i < nlibs; i++) {
		const unsigned char *e = h + NEW_HEADER + (size_t)i * NEW_ENTRY;
		struct ldcache_entry *ce = &c->entries[c->n];
		uint64_t hwcap;
		memcpy(&hwcap, e + 16, 8);
		ce->flags = (int32_t)rd32(e);
		ce->key = str_at(h, avail, rd32(e + 4));
		ce->value = str_at(h, avail, rd32(e + 8));
		if (!ce->key || !ce->value)
			continue;	/* an entry we cannot read provides nothing */
		if (hwcap & HWCAP_EXTENSION) {
			uint32_t idx = (uint32_t)hwcap;
			if (idx >= nhwcaps || !hwcaps[idx])
				continue;
			ce->hwcaps = hwcaps[idx];
		} else {
			ce->hwcap = hwcap;
		}
		c->n++;
	}
	free(hwcaps);
	return 0;
}

static uint32_t key_hash(const char *s)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Index the entries by key, keeping file order within a key. */
static int build_index(struct ldcache *c)
{
	c->nslots = 16;
	while (c->nslots < c->n * 2)
		c->nslots *= 2;
	c->slots = malloc(c->nslots * sizeof *c->slots);
	c->next = malloc((c->n ? c->n : 1) * sizeof *c->next);
	int32_t *last = malloc(c->nslots * sizeof *last);
	if (!c->slots || !c->next || !last) {
		free(last);
		return COMPAT_ENOMEM;
	}
	for (size_t i = 0; i < c->nslots; i++)
		c->slots[i] = last[i] = -1;
	for (size_t i = 0; i < c->n; i++) {
		size_t s = key_hash(c->entries[i].key) & (c->nslots - 1);
		while (c->slots[s] >= 0 && strcmp(c->entries[c->slots[s]].key, c->entries[i].key) != 0)
			s = (s + 1) & (c->nslots - 1);
		c->next[i] = -1;
		if (c->slots[s] < 0)
			c->slots[s] = (int32_t)i;
		else
			c->next[last[s]] = (int32_t)i;
		last[s] = (int32_t)i;
	}
	free(last);
	return 0;
}

int ldcache_parse(const void *buf, size_t len, const char *name, struct ldcache *c,
		  struct cerr *err)
{
	memset(c, 0, sizeof *c);
	if (len > LDCACHE_MAX_BYTES)
		return cerr_set(err, COMPAT_ELIMIT, "%s: larger than %u bytes", name, LDCACHE_MAX_BYTES);
	c->image = malloc(len ? len : 1);
	if (!c->image)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	memcpy(c->image, buf, len);
	c->size = len;
	const unsigned char *img = c->image;
	size_t start;
	int rc;

	if (len >= sizeof NEW_MAGIC - 1 && memcmp(img, NEW_MAGIC, sizeof NEW_MAGIC - 1) == 0) {
		start = 0;
	} else if (len >= OLD_HEADER && memcmp(img, OLD_MAGIC, sizeof OLD_MAGIC - 1) == 0) {
		/* Old table first; the new header follows it, 8-aligned. */
		uint32_t nold = rd32(img + 12);
		uint64_t end = OLD_HEADER + (uint64_t)nold * OLD_ENTRY;
		start = (size_t)((end + 7) & ~7ull);
		if (end > len || start > len || len - start < sizeof NEW_MAGIC - 1 ||
		    memcmp(img + start, NEW_MAGIC, sizeof NEW_MAGIC - 1) != 0) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: old-format cache without a new-format part",
				      name);
			goto fail;
		}
	} else {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: not an ld.so.cache (bad magic)", name);
		goto fail;
	}
	if ((rc = parse_new(img, len, start, name, c, err)) < 0)
		goto fail;
	if (build_index(c) < 0) {
		rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	return 0;
fail:
	ldcache_free(c);
	return rc;
}

int ldcache_load(const char *path, struct ldcache *c, struct cerr *err)
{
	char *data;
	size_t len;
	memset(c, 0, sizeof *c);
	int rc = fs_read_file(path, LDCACHE_MAX_BYTES, &data, &len, err);
	if (rc < 0)
		return rc;
	rc = ldcache_parse(data, len, path, c, err);
	free(data);
	return rc;
}

const struct ldcache_entry *ldcache_lookup(const struct ldcache *c, const char *soname,
					   const int32_t *want_flags, size_t n_flags,
					   const char *const *hwcaps_prio, size_t n_prio)
{
	const struct ldcache_entry *plain = NULL, *best = NULL;
	size_t best_rank = (size_t)-1;

	if (!c->nslots)
		return NULL;
	size_t s = key_hash(soname) & (c->nslots - 1);
	while (c->slots[s] >= 0 && strcmp(c->entries[c->slots[s]].key, soname) != 0)
		s = (s + 1) & (c->nslots - 1);
	for (int32_t i = c->slots[s]; i >= 0; i = c->next[i]) {
		const struct ldcache_entry *e = &c->entries[i];
		int ok = 0;
		for (size_t k = 0; k < n_flags; k++)
			ok |= e->flags == want_flags[k];
		if (!ok)
			continue;
		if (e->hwcaps) {
			for (size_t r = 0; r < n_prio && r < best_rank; r++)
				if (strcmp(hwcaps_prio[r], e->hwcaps) == 0) {
					best = e;
					best_rank = r;
				}
		} else if (!plain && e->hwcap == 0) {
			plain = e;
		}
	}
	return best ? best : plain;
}

void ldcache_free(struct ldcache *c)
{
	free(c->slots);
	free(c->next);
	free(c->entries);
	free(c->image);
	memset(c, 0, sizeof *c);
}
