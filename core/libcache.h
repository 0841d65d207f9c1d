/* What a trace saw the loader load, and the per-program library cache
 * built from it (compat trace --artifact, --cache, --from-cache).
 *
 * A "library open" is an open/openat/openat2 of a path whose file name
 * looks like a shared object ("NAME.so" or "NAME.so.DIGIT..."): the
 * candidates ld.so tries along its search path. Their successes and
 * failures are counted. Every successful open is remembered (when asked)
 * and, after the trace, the ones that are ELF shared objects (ET_DYN, not a
 * program that was exec'd) are the loaded libraries, dlopen'd ones included.
 *
 * The cache directory holds, for each loaded library, a symlink (or a copy)
 * named by the file name ld.so looked for and one named by its DT_SONAME.
 * ld.so tries DIR/glibc-hwcaps/x86-64-vN before DIR for every directory of
 * LD_LIBRARY_PATH, highest level the CPU supports first; the entries go
 * into that first subdirectory (DIR itself on a baseline CPU or other
 * architectures) so that each library is found at the first try, and into
 * DIR too, for a CPU of a lower level (a cache staged on another node).
 * DIR/compat-trace.stats records the library opens of the --cache run. */
#ifndef COMPAT_LIBCACHE_H
#define COMPAT_LIBCACHE_H

#include <stddef.h>

#include "artifact.h"
#include "err.h"
#include "ptrace.h"
#include "strmap.h"

#define LIBCACHE_STATS_FILE "compat-trace.stats"
#define LIBCACHE_STATS_MAX 4096		/* larger stats files are refused */
#define LIBCACHE_MAX_EXECS 16		/* execs remembered in order */

struct libcache_stats {
	unsigned long lib_ok, lib_failed;
};

struct libcache_seen {
	struct libcache_stats stats;
	int collect;			/* remember successful opens and execs */
	struct strmap opened;		/* set: successfully opened paths */
	struct strmap execd;		/* set: successfully exec'd paths */
	char *first_exec;		/* the first successful exec, owned */
	char *main_exec;		/* the last successful exec of the process that
					 * made the first one (through wrappers' exec
					 * chains: the real program), owned */
	pid_t main_pid;
	char *execs[LIBCACHE_MAX_EXECS];	/* with collect: the first successful
						 * execs in order (distinct), owned */
	size_t nexecs;
};

struct libcache_lib {
	char *path;			/* realpath of the file */
	char *name;			/* file name ld.so opened (basename) */
	char *soname;			/* DT_SONAME, or name when it has none */
};

/* 1 when path's file name looks like a shared object ("libz.so.1"). */
int libcache_is_library_name(const char *path);

void libcache_seen_init(struct libcache_seen *s, int collect);
void libcache_seen_free(struct libcache_seen *s);

/* Count (and, with collect, remember) one trace event. 0 or COMPAT_ENOMEM. */
int libcache_note(struct libcache_seen *s, const struct ptrace_event *ev);

/* The ELF shared objects among the opened files, sorted by soname, without
 * duplicates (*libs and its strings owned by the caller: libcache_libs_free).
 * Returns 0 or COMPAT_ENOMEM. */
int libcache_loaded(const struct libcache_seen *s, struct libcache_lib **libs, size_t *n,
		    struct cerr *err);
void libcache_libs_free(struct libcache_lib *libs, size_t n);

/* Which loaded libraries are the application's own files rather than host
 * needs: the ones opened by path (a dlopen of a path, a DT_NEEDED with
 * '/'), that is, the ones ld.so's search for their name from program (its
 * RPATH/RUNPATH, library_path as LD_LIBRARY_PATH, the cache, the default
 * directories) does not find -- or finds only through $ORIGIN. Sets own[i]
 * (n entries) to 1 for those. Returns 0, or the errors of resolver_run for
 * program (COMPAT_EIO, COMPAT_EINVAL), COMPAT_ENOMEM. */
int libcache_mark_own(const char *program, const char *library_path, const struct libcache_lib *libs, size_t n,
		      unsigned char *own, struct cerr *err);

/* Add the loaded libraries to an artifact: library-name.N becomes the
 * sorted union of the existing names and the loaded sonames, renumbered
 * without gaps; needed.SONAME is added (empty: no known version
 * requirement) for loaded sonames the artifact does not list yet, except
 * the application's own (own[i] set; own may be NULL): their needs are
 * the caller's to add (describe them). Returns 0 or COMPAT_ENOMEM. */
int libcache_merge_artifact(struct artifact *a, const struct libcache_lib *libs, size_t n,
			    const unsigned char *own);

/* The directory inside dir that ld.so searches first ("DIR/glibc-hwcaps/
 * x86-64-v3" or "DIR", as ldso_first_dir says for this CPU), into buf.
 * Returns buf, or NULL when it does not fit. */
const char *libcache_lib_dir(const char *dir, char *buf, size_t len);

/* Create dir (and the subdirectory above) and write an entry per library
 * (symlink to path, or a copy when copy is set) and the stats file.
 * Returns 0, COMPAT_EIO, COMPAT_ENOMEM. */
int libcache_write(const char *dir, const struct libcache_lib *libs, size_t n, int copy,
		   const struct libcache_stats *st, struct cerr *err);

/* Parse a stats file's text. Returns 0 or COMPAT_EINVAL. */
int libcache_stats_parse(const char *text, size_t len, struct libcache_stats *st);

/* Read DIR/compat-trace.stats. Returns 0, COMPAT_EIO, COMPAT_EINVAL,
 * COMPAT_ELIMIT. */
int libcache_stats_read(const char *dir, struct libcache_stats *st, struct cerr *err);

#endif
