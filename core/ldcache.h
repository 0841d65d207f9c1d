/* /etc/ld.so.cache, read directly as ld.so does (ldconfig's output):
 * the new format "glibc-ld.so.cache1.1" (48-byte header, 24-byte entries,
 * optional extension section naming glibc-hwcaps subdirectories), found
 * either at offset 0 or after the old "ld.so-1.7.0" table.
 *
 * Parsing only checks the header: a lookup is ld.so's binary search over
 * the entries as the file holds them (ldconfig sorts them, newest version
 * first, with glibc's _dl_cache_libcmp), so no table is built per entry;
 * ldcache_entries lists them all for those who want every one. */
#ifndef COMPAT_LDCACHE_H
#define COMPAT_LDCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define LDCACHE_MAX_BYTES (64u << 20)

/* Entry flags (ldconfig's FLAG_*): low byte type, high byte arch. */
enum {
	LDCACHE_FLAG_ELF = 0x0001,
	LDCACHE_FLAG_ELF_LIBC6 = 0x0003,
	LDCACHE_FLAG_X8664_LIB64 = 0x0300,
	LDCACHE_FLAG_S390_LIB64 = 0x0400,
	LDCACHE_FLAG_POWERPC_LIB64 = 0x0500,
	LDCACHE_FLAG_X8664_LIBX32 = 0x0800,
	LDCACHE_FLAG_ARM_LIBHF = 0x0900,
	LDCACHE_FLAG_AARCH64_LIB64 = 0x0a00,
	LDCACHE_FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000,
};

struct ldcache_entry {
	const char *key;	/* soname; points into the cache image */
	const char *value;	/* path; points into the cache image */
	int32_t flags;
	const char *hwcaps;	/* glibc-hwcaps subdirectory ("x86-64-v3") or NULL */
	uint64_t hwcap;		/* legacy hwcap bits (0 for most entries) */
};

struct ldcache {
	struct ldcache_entry *entries;	/* after ldcache_entries: the readable
					 * entries, in file order; else NULL */
	size_t n;
	void *image;			/* the file's bytes: an owned copy, or a mapping */
	size_t size;
	int mapped;			/* image is a mapping (munmap'd by ldcache_free) */
	size_t table;			/* offset of the new-format header in image */
	size_t nraw;			/* entries the header announces (they fit) */
	const char **hwcaps;		/* the extension's subdirectory names, by index */
	size_t nhwcaps;
};

/* Parse a cache image (copied). Returns 0, COMPAT_EINVAL (bad magic,
 * offsets out of range), COMPAT_ELIMIT, COMPAT_ENOMEM. name is for messages. */
int ldcache_parse(const void *buf, size_t len, const char *name, struct ldcache *c,
		  struct cerr *err);

/* As ldcache_parse, taking buf instead of copying it: malloc'd memory, or
 * (mapped) a read-only mapping of len bytes. It is the cache's on success
 * and released (free, munmap) on failure. */
int ldcache_parse_owned(void *buf, size_t len, int mapped, const char *name, struct ldcache *c,
			struct cerr *err);

/* Read and parse a cache file. COMPAT_EIO when it cannot be read. */
int ldcache_load(const char *path, struct ldcache *c, struct cerr *err);

/* The entry ld.so would pick for soname, into *out: flags must be one of
 * want_flags (n_flags of them); among glibc-hwcaps entries the best
 * subdirectory in hwcaps_prio (most preferred first) wins over plain ones.
 * Returns 1 when there is one, 0 when not. Reads the cache only (callers
 * may share it between threads); the strings point into the image. */
int ldcache_lookup(const struct ldcache *c, const char *soname, const int32_t *want_flags, size_t n_flags,
		   const char *const *hwcaps_prio, size_t n_prio, struct ldcache_entry *out);

/* Fill c->entries and c->n with every readable entry, in file order (once).
 * Returns 0 or COMPAT_ENOMEM. */
int ldcache_entries(struct ldcache *c);

/* glibc's order of cache keys (_dl_cache_libcmp): digit runs compare as
 * numbers and sort after other characters; < 0, 0, > 0 as strcmp. */
int ldcache_libcmp(const char *a, const char *b);

void ldcache_free(struct ldcache *c);

#endif
