#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* The new-format header: its entry count, and the hwcaps subdirectory
 * names from the extension section. The extension and its sections are at
 * file offsets; the strings, like the entries' strings, count from the
 * new header. */
static int parse_new(struct ldcache *c, const char *name, struct cerr *err)
{
	const unsigned char *img = c->image, *h = img + c->table;
	size_t size = c->size, avail = size - c->table;
	if (avail < NEW_HEADER)
		return cerr_set(err, COMPAT_EINVAL, "%s: truncated header", name);
	uint32_t nlibs = rd32(h + 20);
	uint32_t ext_off = rd32(h + 32);
	if ((uint64_t)nlibs * NEW_ENTRY > avail - NEW_HEADER)
		return cerr_set(err, COMPAT_EINVAL, "%s: %u entries do not fit in %zu bytes", name,
				nlibs, avail);
	c->nraw = nlibs;
	if (!ext_off || size < 8 || ext_off > size - 8 || rd32(img + ext_off) != EXT_MAGIC)
		return 0;
	uint32_t count = rd32(img + ext_off + 4);
	for (uint32_t i = 0; i < count && i < 64; i++) {
		size_t so = (size_t)ext_off + 8 + (size_t)i * 16;
		if (so + 16 > size)
			break;
		uint32_t tag = rd32(img + so), off = rd32(img + so + 8), sz = rd32(img + so + 12);
		if (tag != EXT_TAG_HWCAPS || off > size || sz > size - off || sz % 4)
			continue;
		c->nhwcaps = sz / 4;
		if (!(c->hwcaps = calloc(c->nhwcaps ? c->nhwcaps : 1, sizeof *c->hwcaps)))
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		for (size_t k = 0; k < c->nhwcaps; k++)
			c->hwcaps[k] = str_at(h, avail, rd32(img + off + k * 4));
		break;
	}
	return 0;
}

/* The key of raw entry i, or NULL when its offset is bogus. */
static const char *key_at(const struct ldcache *c, size_t i)
{
	const unsigned char *h = (const unsigned char *)c->image + c->table;
	return str_at(h, c->size - c->table, rd32(h + NEW_HEADER + i * NEW_ENTRY + 4));
}

/* Raw entry i decoded into *e; 0 when it cannot be read (a bogus string
 * offset, an unknown hwcaps index): such an entry provides nothing. */
static int entry_at(const struct ldcache *c, size_t i, struct ldcache_entry *e)
{
	const unsigned char *h = (const unsigned char *)c->image + c->table;
	size_t avail = c->size - c->table;
	const unsigned char *p = h + NEW_HEADER + i * NEW_ENTRY;
	uint64_t hwcap;
	memcpy(&hwcap, p + 16, 8);
	memset(e, 0, sizeof *e);
	e->flags = (int32_t)rd32(p);
	e->key = str_at(h, avail, rd32(p + 4));
	e->value = str_at(h, avail, rd32(p + 8));
	if (!e->key || !e->value)
		return 0;
	if (hwcap & HWCAP_EXTENSION) {
		uint32_t idx = (uint32_t)hwcap;
		if (idx >= c->nhwcaps || !c->hwcaps[idx])
			return 0;
		e->hwcaps = c->hwcaps[idx];
	} else {
		e->hwcap = hwcap;
	}
	return 1;
}

int ldcache_libcmp(const char *a, const char *b)
{
	/* glibc's _dl_cache_libcmp, which ldconfig sorts with and ld.so
	 * searches by: runs of digits compare as numbers (with int
	 * arithmetic, wrapping as the compiled loader's does) and after any
	 * other character. */
	const unsigned char *p1 = (const unsigned char *)a, *p2 = (const unsigned char *)b;
	while (*p1) {
		int d1 = *p1 >= '0' && *p1 <= '9', d2 = *p2 >= '0' && *p2 <= '9';
		if (d1 && d2) {
			uint32_t v1 = 0, v2 = 0;
			while (*p1 >= '0' && *p1 <= '9')
				v1 = v1 * 10 + (uint32_t)(*p1++ - '0');
			while (*p2 >= '0' && *p2 <= '9')
				v2 = v2 * 10 + (uint32_t)(*p2++ - '0');
			if (v1 != v2)
				return (int32_t)v1 < (int32_t)v2 ? -1 : 1;
		} else if (d1) {
			return 1;
		} else if (d2) {
			return -1;
		} else if (*p1 != *p2) {
			return *p1 - *p2;
		} else {
			p1++;
			p2++;
		}
	}
	return *p1 - *p2;
}

int ldcache_parse_owned(void *buf, size_t len, int mapped, const char *name, struct ldcache *c,
			struct cerr *err)
{
	memset(c, 0, sizeof *c);
	c->image = buf;
	c->size = len;
	c->mapped = mapped;
	const unsigned char *img = buf;
	int rc;

	if (len > LDCACHE_MAX_BYTES) {
		rc = cerr_set(err, COMPAT_ELIMIT, "%s: larger than %u bytes", name, LDCACHE_MAX_BYTES);
		goto fail;
	}
	if (len >= sizeof NEW_MAGIC - 1 && memcmp(img, NEW_MAGIC, sizeof NEW_MAGIC - 1) == 0) {
		c->table = 0;
	} else if (len >= OLD_HEADER && memcmp(img, OLD_MAGIC, sizeof OLD_MAGIC - 1) == 0) {
		/* Old table first; the new header follows it, 8-aligned. */
		uint32_t nold = rd32(img + 12);
		uint64_t end = OLD_HEADER + (uint64_t)nold * OLD_ENTRY;
		c->table = (size_t)((end + 7) & ~7ull);
		if (end > len || c->table > len || len - c->table < sizeof NEW_MAGIC - 1 ||
		    memcmp(img + c->table, NEW_MAGIC, sizeof NEW_MAGIC - 1) != 0) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: old-format cache without a new-format part",
				      name);
			goto fail;
		}
	} else {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: not an ld.so.cache (bad magic)", name);
		goto fail;
	}
	if ((rc = parse_new(c, name, err)) < 0)
		goto fail;
	return 0;
fail:
	ldcache_free(c);
	return rc;
}

int ldcache_parse(const void *buf, size_t len, const char *name, struct ldcache *c,
		  struct cerr *err)
{
	memset(c, 0, sizeof *c);
	if (len > LDCACHE_MAX_BYTES)
		return cerr_set(err, COMPAT_ELIMIT, "%s: larger than %u bytes", name, LDCACHE_MAX_BYTES);
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	memcpy(copy, buf, len);
	return ldcache_parse_owned(copy, len, 0, name, c, err);
}

int ldcache_load(const char *path, struct ldcache *c, struct cerr *err)
{
	char *data;
	size_t len;
	memset(c, 0, sizeof *c);
	int rc = fs_read_file(path, LDCACHE_MAX_BYTES, &data, &len, err);
	if (rc < 0)
		return rc;
	return ldcache_parse_owned(data, len, 0, path, c, err);
}

int ldcache_entries(struct ldcache *c)
{
	if (c->entries || !c->nraw)
		return 0;
	if (!(c->entries = calloc(c->nraw, sizeof *c->entries)))
		return COMPAT_ENOMEM;
	for (size_t i = 0; i < c->nraw; i++)
		c->n += (size_t)entry_at(c, i, &c->entries[c->n]);
	return 0;
}

int ldcache_lookup(const struct ldcache *c, const char *soname, const int32_t *want_flags, size_t n_flags,
		   const char *const *hwcaps_prio, size_t n_prio, struct ldcache_entry *out)
{
	struct ldcache_entry e, plain = { 0 }, best = { 0 };
	size_t best_rank = (size_t)-1;
	int have_plain = 0, have_best = 0;

	/* ld.so's search (elf/dl-cache.c): a binary search over the entries
	 * in file order, then back to the first of the run of equal keys, then
	 * that run forward. A bogus key ends the search, as there. */
	long left = 0, right = (long)c->nraw - 1;
	while (left <= right) {
		long middle = left + (right - left) / 2;
		const char *key = key_at(c, (size_t)middle);
		if (!key)
			break;
		int cmp = ldcache_libcmp(soname, key);
		if (cmp == 0) {
			left = middle;
			while (middle > 0 && (key = key_at(c, (size_t)middle - 1)) && ldcache_libcmp(soname, key) == 0)
				middle--;
			for (; middle <= right; middle++) {
				if (middle > left && (!(key = key_at(c, (size_t)middle)) || ldcache_libcmp(soname, key) != 0))
					break;
				if (!entry_at(c, (size_t)middle, &e))
					continue;
				int ok = 0;
				for (size_t k = 0; k < n_flags; k++)
					ok |= e.flags == want_flags[k];
				if (!ok)
					continue;
				if (e.hwcaps) {
					for (size_t r = 0; r < n_prio && r < best_rank; r++)
						if (strcmp(hwcaps_prio[r], e.hwcaps) == 0) {
							best = e;
							best_rank = r;
							have_best = 1;
						}
				} else if (!have_plain && e.hwcap == 0) {
					plain = e;
					have_plain = 1;
				}
			}
			break;
		}
		if (cmp < 0)
			left = middle + 1;
		else
			right = middle - 1;
	}
	if (have_best || have_plain)
		*out = have_best ? best : plain;
	return have_best || have_plain;
}

void ldcache_free(struct ldcache *c)
{
	free(c->entries);
	free(c->hwcaps);
	if (c->mapped)
		munmap(c->image, c->size);
	else
		free(c->image);
	memset(c, 0, sizeof *c);
}
