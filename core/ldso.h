/* The one model of glibc's dynamic loader (ld.so) that gen, check, serve
 * and trace share (DESIGN §3, §4): the per-ABI table, the search order, the
 * open-inside-a-root helper and ld.so.cache loading. resolve.c walks it on
 * the file system, hostindex.c and verdict.c on the host index, libcache.c
 * names its cache directories with it. Nothing else holds a copy.
 *
 * The search for a DT_NEEDED name without '/', as glibc 2.36 elf/dl-load.c
 * _dl_map_object does it:
 *   1. DT_RPATH of the requesting object, then of the object that loaded it,
 *      and so on up to the program -- only when the requester has no
 *      DT_RUNPATH; the program's DT_RPATH is ignored when the program has
 *      DT_RUNPATH (_dl_init_paths);
 *   2. LD_LIBRARY_PATH (separated by ':' or ';'; $ORIGIN is the program's);
 *   3. the requester's own DT_RUNPATH (never inherited);
 *   4. /etc/ld.so.cache, entries with this ABI's flags; with DF_1_NODEFLIB on
 *      the requester, entries inside the default directories are skipped;
 *   5. the default directories, unless the requester has DF_1_NODEFLIB.
 * Each directory of 1, 2, 3 and 5 is tried with the glibc-hwcaps
 * subdirectories this CPU supports first, then the legacy ones, then itself.
 * An empty list entry is the current directory. */
#ifndef COMPAT_LDSO_H
#define COMPAT_LDSO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "err.h"
#include "ldcache.h"

#define LDSO_MAX_DIRS 4
#define LDSO_MAX_HWCAPS 3
#define LDSO_MAX_LEGACY 8
/* glibc-hwcaps + legacy + the directory itself */
#define LDSO_MAX_SUBDIRS (LDSO_MAX_HWCAPS + LDSO_MAX_LEGACY + 1)

struct ldso_hwcap {
	const char *name;	/* "x86-64-v3" (as in the ld.so.cache extension) */
	const char *subdir;	/* "glibc-hwcaps/x86-64-v3" */
	int x86_level;		/* the x86-64 level the CPU needs for it */
};

/* One row per loader and library layout. Rows of the same class and
 * machine are tried in order; the first whose probe directory exists in
 * the root applies (Debian's multiarch layout before the lib64 one). */
struct ldso_abi {
	const char *name;		/* "x86_64", "x86_64-lib64", "i386", ... */
	uint8_t elf_class;		/* ELFCLASS32 / ELFCLASS64 */
	uint16_t machine;		/* EM_* */
	uint16_t cpu;			/* EM_* of the CPU that runs it natively */
	const char *interp;		/* the loader's path (PT_INTERP) */
	int32_t cache_flags[2];		/* ld.so.cache entry flags it accepts */
	size_t ncache_flags;
	const char *probe[2];		/* the row applies when one of these directories
					 * exists in the root; none given: always */
	const char *dirs[LDSO_MAX_DIRS];	/* default directories, in search order */
	size_t ndirs;
	const char *lib;		/* $LIB */
	const char *platform;		/* $PLATFORM (AT_PLATFORM) */
	struct ldso_hwcap hwcaps[LDSO_MAX_HWCAPS];	/* best first */
	size_t nhwcaps;
	const char *legacy[LDSO_MAX_LEGACY];	/* legacy hwcap subdirectories, in search order */
	size_t nlegacy;
};

/* The whole table (static). */
const struct ldso_abi *ldso_table(size_t *n);

/* A root directory everything is opened inside ("/" for the running host). */
struct ldso_root {
	int fd;		/* O_PATH descriptor of the root; -1 for "/" */
	char *path;	/* its real path, "/" for the running host (owned) */
};

/* Open dir (NULL or "/" for the running host) as a root. Returns 0,
 * COMPAT_EIO (cannot open it, or not a directory), COMPAT_ENOMEM. */
int ldso_root_open(const char *dir, struct ldso_root *root, struct cerr *err);
void ldso_root_close(struct ldso_root *root);

/* The one open helper: open path (absolute or relative) as a process
 * chrooted at root would see it -- openat2(RESOLVE_IN_ROOT), so absolute
 * symlinks and ".." stay inside the root (root NULL or fd -1: the running
 * host, plain openat). Only regular files (and, with O_DIRECTORY or O_PATH
 * in flags, directories) are opened: a FIFO, socket or device is refused
 * with ENXIO before it can block or have side effects (the open itself is
 * O_NONBLOCK). O_CLOEXEC is added. Returns the fd, or -1 with errno set. */
int ldso_open(const struct ldso_root *root, const char *path, int flags);

/* 1 when path is a directory inside root, else 0 (O_PATH: no side effects). */
int ldso_is_dir(const struct ldso_root *root, const char *path);

/* The row for a program of this class and machine in root, or NULL when no
 * loader of that ABI is modelled. Probes directories (a few O_PATH opens). */
const struct ldso_abi *ldso_abi_for(const struct ldso_root *root, int elf_class, int machine);

/* The row for a loader the table does not know: no interpreter, no
 * ld.so.cache entries, default directories /lib and /usr/lib. */
const struct ldso_abi *ldso_generic_abi(void);

/* The row whose loader is interp (exact path), or NULL. */
const struct ldso_abi *ldso_abi_by_interp(const struct ldso_root *root, const char *interp);

/* Does abi accept an ld.so.cache entry with these flags? */
int ldso_cache_flags_ok(const struct ldso_abi *abi, int32_t flags);

/* The glibc-hwcaps names this CPU supports for abi, best first, into names
 * (cap entries); returns how many. None when abi is for another CPU. */
size_t ldso_hwcaps(const struct ldso_abi *abi, const char **names, size_t cap);

/* Subdirectories tried in each search directory, in order: the supported
 * glibc-hwcaps ones, the legacy ones, then "" (the directory itself).
 * Returns how many were written to subdirs (at most LDSO_MAX_SUBDIRS). */
size_t ldso_subdirs(const struct ldso_abi *abi, const char **subdirs);

/* The directory ld.so tries first inside dir for the running CPU
 * ("DIR/glibc-hwcaps/x86-64-v3", or DIR itself), into buf. NULL when it
 * does not fit. abi NULL: this host's native ABI. */
const char *ldso_first_dir(const struct ldso_abi *abi, const char *dir, char *buf, size_t len);

/* The native ABI of this build (x86_64 on x86_64, ...), in root; or NULL. */
const struct ldso_abi *ldso_native_abi(const struct ldso_root *root);

/* EM_* of the CPU this build runs on (0 when not modelled). */
int ldso_native_cpu(void);

/* Does a CPU of machine cpu run programs of this class and machine? */
int ldso_cpu_runs(int cpu, int elf_class, int machine);

/* Is path inside one of abi's default directories (the DF_1_NODEFLIB
 * test ld.so applies to cache entries)? */
int ldso_in_default_dir(const struct ldso_abi *abi, const char *path);

/* Expand $ORIGIN, $LIB and $PLATFORM (also ${...}) in s as ld.so does;
 * other '$' text stays. origin NULL expands $ORIGIN to ".". Sets
 * *used_origin when $ORIGIN occurred. abi NULL: $LIB "lib", $PLATFORM "".
 * Returns a malloc'd string (caller frees) or NULL when out of memory. */
char *ldso_expand(const struct ldso_abi *abi, const char *s, const char *origin, int *used_origin);

/* ---- the search order ---- */

enum ldso_how {
	LDSO_RPATH,
	LDSO_LD_LIBRARY_PATH,
	LDSO_RUNPATH,
	LDSO_CACHE,
	LDSO_DEFAULT,
};

/* "[rpath]", "[LD_LIBRARY_PATH]", "[runpath]", "[ld.so.cache]", "[default path]". */
const char *ldso_how_name(enum ldso_how how);

/* What the search needs to know of one object of the loading chain. */
struct ldso_object {
	const char *rpath;	/* DT_RPATH, or NULL */
	const char *runpath;	/* DT_RUNPATH, or NULL */
	const char *origin;	/* its directory, for $ORIGIN */
	int nodeflib;		/* DT_FLAGS_1 has DF_1_NODEFLIB */
};

/* One place in the search. */
struct ldso_step {
	enum ldso_how how;
	const char *list;	/* RPATH, LD_LIBRARY_PATH, RUNPATH: the list as written
				 * (split with ldso_list_seps, expand with ldso_expand);
				 * NULL for the cache and the default directories */
	const char *origin;	/* $ORIGIN for list */
	int nodeflib;		/* LDSO_CACHE: skip entries in the default directories */
};

#define LDSO_MAX_CHAIN 64	/* loaders followed for inherited DT_RPATH */

/* The search for a name requested by chain[0], loaded by chain[1], ..., the
 * program being chain[nchain - 1]; library_path is LD_LIBRARY_PATH (or
 * NULL). Writes the steps, in order, to steps (room for nchain + 4) and
 * returns how many. */
size_t ldso_search_order(const struct ldso_object *chain, size_t nchain, const char *library_path,
			 struct ldso_step *steps);

/* The same for an artifact, where the objects of one application are
 * flattened into one: every DT_RPATH directory they carry is searched
 * before LD_LIBRARY_PATH, every DT_RUNPATH one after it (which object asked
 * is not recorded, so the per-object rules above cannot apply). Up to 5
 * steps. */
size_t ldso_search_order_flat(const char *rpath, const char *runpath, const char *library_path,
			      struct ldso_step *steps);

/* Separators of a step's list: ":;" for LD_LIBRARY_PATH, ":" otherwise. */
const char *ldso_list_seps(enum ldso_how how);

/* ---- ld.so.cache ---- */

/* Load /etc/ld.so.cache inside root into *c (ldcache_free releases it);
 * *st (if not NULL) gets the file's stat, for staleness checks. Returns 0,
 * COMPAT_ENOTFOUND (no cache), COMPAT_EIO, COMPAT_EINVAL (not a cache),
 * COMPAT_ELIMIT (larger than LDCACHE_MAX_BYTES), COMPAT_ENOMEM. */
int ldso_cache_load(const struct ldso_root *root, struct ldcache *c, struct stat *st, struct cerr *err);

/* The cache entry the loader of abi would take for name (hwcaps-aware),
 * into *e: 1, or 0 when there is none (c or abi NULL: none). */
int ldso_cache_lookup(const struct ldcache *c, const struct ldso_abi *abi, const char *name,
		      struct ldcache_entry *e);

#endif
