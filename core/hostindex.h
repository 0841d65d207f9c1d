/* The host library index (DESIGN §4): what the loader of each ABI of a host
 * (or of a tree, --root) would find, read once and looked up in O(1): the
 * libraries named by ld.so.cache, those in the loaders' default
 * directories and in extra directories, each with its path, soname, ELF
 * class, machine, OS ABI, version definitions and DT_NEEDED list. The
 * search rules are ldso.h's; this is their answer per step, precomputed.
 * Every file is opened inside the root (ldso_open). */
#ifndef COMPAT_HOSTINDEX_H
#define COMPAT_HOSTINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ldso.h"

struct host_lib {
	const char *path;	/* as ld.so would open it (inside the root) */
	const char *soname;	/* DT_SONAME, or the file name when absent */
	uint8_t elf_class;	/* ELFCLASS32 / ELFCLASS64 */
	uint16_t machine;	/* EM_* */
	uint8_t osabi;
	const char **verdefs;	/* version names it defines (SHT_GNU_verdef) */
	size_t nverdefs;
	const char **needed;	/* its DT_NEEDED, in order */
	size_t nneeded;
};

struct index_opts {
	const char *root;		/* NULL or "/" for the running host */
	const char *const *extra_dirs;	/* searched first (--library-path), in order */
	size_t nextra;
	int no_system;			/* only the extra directories (no cache, no defaults) */
	int lazy;			/* read nothing up front but ld.so.cache: each name is
					 * looked for when a lookup first reaches a directory, each
					 * library read when first found (one process judging a few
					 * artifacts: a few dozen look-ups, not every library of the
					 * host). The answers are a full index's. Lookups fill a lazy
					 * index: it is not for sharing between threads (a full
					 * one is: see index_slot). */
};

struct host_index;

/* Build the index. *out is owned by the caller (index_free).
 * Returns 0, COMPAT_EIO (root unusable), COMPAT_ENOMEM. */
int index_build(const struct index_opts *o, struct host_index **out, struct cerr *err);

/* What one step of the search finds for soname, for a program of this
 * class and machine (0, 0: any ABI, the host's own first):
 * LDSO_RPATH, LDSO_LD_LIBRARY_PATH, LDSO_RUNPATH: the extra directories in
 * order; LDSO_CACHE: the entry ld.so.cache gives that ABI's loader;
 * LDSO_DEFAULT: that ABI's default directories in order. In each
 * directory the glibc-hwcaps and legacy subdirectories come first; a
 * candidate of another class or machine is passed over. Returns the
 * library, or NULL; *bad (if given) is set to the path of a file that is
 * not a loadable ELF object and stops ld.so's search there (it fails with
 * "invalid ELF header" or "file too short"), else to NULL. Borrowed. */
const struct host_lib *index_lookup_step(const struct host_index *idx, const char *soname, int elf_class,
					 int machine, enum ldso_how how, const char **bad);

/* The extra directories, then the cache, then the default directories:
 * the library ld.so would load for soname with LD_LIBRARY_PATH set to the
 * extra directories, or NULL. Borrowed from the index. */
const struct host_lib *index_lookup_soname(const struct host_index *idx, const char *soname,
					   int elf_class, int machine);

/* The library at path when the index read it: an ld.so.cache entry, or the
 * loader of an ABI (its PT_INTERP path). NULL otherwise. Borrowed. */
const struct host_lib *index_lookup_path(const struct host_index *idx, const char *path);

/* Does lib define symbol (any version, hidden ones too)? 1 yes, 0 no,
 * -1 unreadable, COMPAT_ENOMEM (the next call tries again). Looked up in
 * the library's own hash table from a
 * read-only mapping, opened on first use and kept. */
int index_lib_exports(const struct host_index *idx, const struct host_lib *lib, const char *symbol);

/* Would ld.so bind a reference to name@version (version NULL: an
 * unversioned reference) to a definition in lib? 1 yes, 0 no, -1 unreadable,
 * COMPAT_ENOMEM (the next call tries again). */
int index_lib_defines(const struct host_index *idx, const struct host_lib *lib, const char *name,
		      const char *version);

/* Is path a regular file on the indexed host (inside its root)? */
int index_path_exists(const struct host_index *idx, const char *path);

/* The default directories of the loader for this class and machine that
 * exist on the indexed host, in search order (static strings), into dirs
 * (room for LDSO_MAX_DIRS); returns how many. */
size_t index_default_dirs(const struct host_index *idx, int elf_class, int machine, const char **dirs);

/* The root the index was built in: "/" or its real path. Borrowed. */
const char *index_root(const struct host_index *idx);

/* The extra directories, as given. */
const char *const *index_extra_dirs(const struct host_index *idx, size_t *n);

/* Does the indexed host run programs of this class and machine? Its CPU
 * is this machine's for the running host; for a root, the CPU its loaders
 * are built for (an aarch64 tree is an aarch64 host), or this machine's
 * when it has none. */
int index_runs(const struct host_index *idx, int elf_class, int machine);

/* EM_* of the indexed host's CPU (see index_runs). */
int index_cpu(const struct host_index *idx);

/* Was the index built lazy (index_opts.lazy)? */
int index_lazy(const struct host_index *idx);

/* How many lookups so far ran out of memory (their answer may have been
 * "not found"): a caller compares the count before and after its own. */
unsigned long index_failures(const struct host_index *idx);

/* Number of libraries indexed (a lazy index: those looked at so far). */
size_t index_count(const struct host_index *idx);

/* True when /etc/ld.so.cache (under root) changed since the index was built. */
int index_is_stale(const struct host_index *idx);

/* Free the index now (its only owner). */
void index_free(struct host_index *idx);

/* Drop one reference (index_build gives the first, index_slot_acquire
 * more); the last one frees the index. NULL is ignored. */
void index_release(struct host_index *idx);

/* One current full index shared by threads (the server's loops), swapped
 * whole on a rebuild. A full index is safe to look up from several
 * threads at once: what it reads on first use is read once under a lock
 * (hostindex.c); a lazy one is not. Readers keep a reference for as long
 * as they use it and compare the generation (one atomic load) to see
 * whether a newer one was published; an old index is freed when its last
 * reader lets it go. */
struct index_slot;

/* A slot holding idx (taken: the slot's reference). 0 or COMPAT_ENOMEM. */
int index_slot_new(struct index_slot **out, struct host_index *idx);

/* The current index with a reference for the caller (index_release), and
 * its generation in *gen (if given). */
struct host_index *index_slot_acquire(struct index_slot *s, unsigned long *gen);

/* The generation of the current index: it changes with each publish. */
unsigned long index_slot_generation(const struct index_slot *s);

/* Make idx (taken) the current index; the slot's reference to the old one
 * is dropped. */
void index_slot_publish(struct index_slot *s, struct host_index *idx);

/* Drops the slot's reference to its index. */
void index_slot_free(struct index_slot *s);

#endif
