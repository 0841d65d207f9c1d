/* /etc/ld.so.cache, read directly as ld.so does (ldconfig's output):
 * the new format "glibc-ld.so.cache1.1" (48-byte header, 24-byte entries,
 * optional extension section naming glibc-hwcaps subdirectories), found
 * either at offset 0 or after the old "ld.so-1.7.0" table. */
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
	const char *value;	/* path */
	int32_t flags;
	const char *hwcaps;	/* glibc-hwcaps subdirectory ("x86-64-v3") or NULL */
	uint64_t hwcap;		/* legacy hwcap bits (0 for most entries) */
};

struct ldcache {
	struct ldcache_entry *entries;	/* in file order */
	size_t n;
	/* Lookup by key: an open-addressing table of first entries, and
	 * for each entry the next one with the same key (or -1). */
	int32_t *slots, *next;
	size_t nslots;
	void *image;			/* owned copy of the file */
	size_t size;
};

/* Parse a cache image (copied). Returns 0, COMPAT_EINVAL (bad magic,
 * offsets out of range), COMPAT_ENOMEM. name is for messages. */
int ldcache_parse(const void *buf, size_t len, const char *name, struct ldcache *c,
		  struct cerr *err);

/* Read and parse a cache file. COMPAT_EIO when it cannot be read. */
int ldcache_load(const char *path, struct ldcache *c, struct cerr *err);

/* The entry ld.so would pick for soname: flags must be one of want_flags
 * (n_flags of them); among glibc-hwcaps entries the best subdirectory in
 * hwcaps_prio (most preferred first) wins over plain ones. NULL if none. */
const struct ldcache_entry *ldcache_lookup(const struct ldcache *c, const char *soname,
					   const int32_t *want_flags, size_t n_flags,
					   const char *const *hwcaps_prio, size_t n_prio);

void ldcache_free(struct ldcache *c);

#endif
