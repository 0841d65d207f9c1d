/* The host library index (DESIGN §4): every library named by ld.so.cache,
 * the loader's default directories and extra directories, each with its
 * path, soname, ELF class, machine, OS ABI and version definitions. Built
 * once, looked up by soname in O(1). */
#ifndef COMPAT_HOSTINDEX_H
#define COMPAT_HOSTINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct host_lib {
	const char *path;	/* as ld.so would open it */
	const char *soname;	/* DT_SONAME, or the file name when absent */
	uint8_t elf_class;	/* ELFCLASS32 / ELFCLASS64 */
	uint16_t machine;	/* EM_* */
	uint8_t osabi;
	const char **verdefs;	/* version names it defines (SHT_GNU_verdef) */
	size_t nverdefs;
};

struct index_opts {
	const char *root;		/* NULL or "/" for the running host */
	const char *const *extra_dirs;	/* searched first (--library-path) */
	size_t nextra;
	int no_system;			/* only the extra directories */
};

struct host_index;

/* Build the index. *out is owned by the caller (index_free).
 * Returns 0, COMPAT_EIO (unreadable cache), COMPAT_ENOMEM. */
int index_build(const struct index_opts *o, struct host_index **out, struct cerr *err);

/* The library ld.so would load for soname for a program of this class and
 * machine, or NULL. Borrowed from the index. */
const struct host_lib *index_lookup_soname(const struct host_index *idx, const char *soname,
					   int elf_class, int machine);

/* Does lib define symbol (any version)? 1 yes, 0 no, -1 unreadable.
 * Looked up in the library's own hash table from a read-only mapping,
 * opened on first use and kept. */
int index_lib_exports(const struct host_index *idx, const struct host_lib *lib, const char *symbol);

/* Does path exist on the indexed host (inside its root)? */
int index_path_exists(const struct host_index *idx, const char *path);

/* Directories searched, in order, for messages ("/etc/ld.so.cache"
 * included); a static list. */
const char *const *index_search_dirs(size_t *n);

/* Number of libraries indexed. */
size_t index_count(const struct host_index *idx);

/* True when /etc/ld.so.cache (under root) changed since the index was built. */
int index_is_stale(const struct host_index *idx);

void index_free(struct host_index *idx);

#endif
