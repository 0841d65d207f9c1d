/* What a trace saw the loader load, and the per-program library cache
 * built from it (compat trace --artifact, --cache, --from-cache; check
 * --exec --cache).
 *
 * A "library open" is an open/openat/openat2 of a path whose file name
 * looks like a shared object ("NAME.so" or "NAME.so.DIGIT..."): the
 * candidates ld.so tries along its search path. Their successes and
 * failures are counted. Every successful open is remembered (when asked)
 * and, after the trace, the ones that are ELF shared objects (ET_DYN, not a
 * program that was exec'd) are the loaded libraries, dlopen'd ones included.
 *
 * The cache directory DIR holds:
 * - DIR/compat-audit.map (core/audit/auditmap.h): for each loaded library,
 *   under the file name ld.so looked for and under its DT_SONAME, its ELF
 *   ABI, path and identity (device, inode, size, mtime);
 * - DIR/compat-audit-ABI.so, the LD_AUDIT object (core/audit/compat-audit.c,
 *   embedded in compat at build time) for each ABI the map holds: run with
 *   LD_AUDIT=DIR/compat-audit-ABI.so, ld.so asks it first for every name and
 *   loads the recorded file without searching (DT_RPATH programs included);
 * - a symlink (or a copy) per library and name, for LD_LIBRARY_PATH=DIR
 *   (the older approach, which DT_RPATH defeats). ld.so tries
 *   DIR/glibc-hwcaps/x86-64-vN before DIR for every directory of
 *   LD_LIBRARY_PATH, highest level the CPU supports first; the entries go
 *   into that first subdirectory (DIR itself on a baseline CPU or other
 *   architectures) so that each library is found at the first try, and into
 *   DIR too, for a CPU of a lower level (a cache staged on another node).
 *   With copies, the map points at the copies;
 * - DIR/compat-trace.stats: the library opens and start time of the --cache
 *   run.
 * The map names each library by the path ld.so opened in the traced run
 * (so that its $ORIGIN is the same), and leaves out libraries ld.so took
 * from a glibc-hwcaps/ subdirectory: that choice depends on the CPU, and
 * the normal search makes it again on the node that runs the program.
 * The map stays within the audit object's limits (AUDITMAP_MAX_BYTES,
 * AUDITMAP_MAX_ENTRIES per ABI); libraries beyond them are searched.
 * Everything is created through directory file descriptors, with
 * O_NOFOLLOW and O_EXCL temp files renamed into place: a symlink planted in
 * DIR never makes compat write outside it, and a DIR that is a symlink or
 * belongs to another user is refused. */
#ifndef COMPAT_LIBCACHE_H
#define COMPAT_LIBCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "artifact.h"
#include "err.h"
#include "ptrace.h"
#include "strmap.h"

#define LIBCACHE_STATS_FILE "compat-trace.stats"
#define LIBCACHE_STATS_MAX 4096		/* larger stats files are refused */
#define LIBCACHE_MAX_EXECS 16		/* execs remembered in order */

struct libcache_stats {
	unsigned long lib_ok, lib_failed;
	uint64_t entry_ns;		/* time to reach the program's entry point, 0: unknown */
	uint64_t exit_ns;		/* time to its exit, 0: unknown */
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
	char *opened;			/* the path ld.so opened it by (absolute), or NULL */
	char *name;			/* file name ld.so opened (basename) */
	char *soname;			/* DT_SONAME, or name when it has none */
	uint8_t elf_class;		/* ELFCLASS32, ELFCLASS64 */
	uint16_t machine;		/* e_machine */
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

/* Make dir the cache of these libraries: create it (and its parents) when
 * missing, then write an entry per library and name (symlink to path, or a
 * copy when copy is set), the map, the audit object of each ABI in the map
 * that this build carries, and the stats file. Refuses a dir that is a
 * symlink or is not owned by the caller, and never follows a symlink found
 * inside it. Libraries whose name or path the map cannot hold are left to
 * the normal search; so are names recorded with two different files.
 * Returns 0, COMPAT_EIO, COMPAT_EPERM (dir is a symlink or another user's),
 * COMPAT_ENOMEM. */
int libcache_write(const char *dir, const struct libcache_lib *libs, size_t n, int copy,
		   const struct libcache_stats *st, struct cerr *err);

/* The bytes of this build's audit object for an ABI ("x86_64", "i386"), or
 * NULL (*len 0) when it carries none for it. Static storage. */
const unsigned char *libcache_audit_object(const char *abi, size_t *len);

/* How to run program from the cache at dir (trace --from-cache, check
 * --exec --cache). */
struct libcache_audit {
	char ld_audit[4200];		/* the value for LD_AUDIT (absolute path of the
					 * audit object), the old LD_AUDIT appended */
	const char *abi;		/* "x86_64", "i386" (static) */
	int setid;			/* program is set-user-ID or set-group-ID:
					 * ld.so ignores LD_AUDIT when it runs with
					 * those privileges (secure mode) */
	size_t nentries;		/* map entries for this ABI */
};

/* Check dir, its map and the audit object for program's ABI, and fill a.
 * program is looked up in PATH as execvp does; its ABI is its ELF class
 * and machine (a script's: its #! interpreter's; else this build's own).
 * Refuses (COMPAT_EPERM) a dir, map or audit object that others can
 * change: group- or other-writable, or owned by a user other than the
 * caller or root; a map or audit object that is a symlink. Returns 0;
 * COMPAT_EPERM; COMPAT_EIO (dir unreadable, map missing: "make it with
 * compat trace --cache"); COMPAT_EINVAL (malformed map, with its line);
 * COMPAT_ELIMIT (map too large); COMPAT_ENOTFOUND (no audit object for
 * that ABI in dir: a->abi is set; nothing of this ABI was cached). */
int libcache_audit_prepare(const char *dir, const char *program, struct libcache_audit *a,
			   struct cerr *err);

/* Does the cache in dir cover program as it is now? 1 when every library
 * its load needs, breadth first from its DT_NEEDED, is a map entry for its
 * ABI whose file is unchanged (device, inode, size, mtime): ld.so with the
 * audit object loads exactly those files, as the traced run did, so a
 * launcher need not search or judge again. 0 with the reason in why when
 * not (a name not in the map, a changed file, a missing loader); else
 * COMPAT_EIO, COMPAT_EINVAL (malformed map or ELF file), COMPAT_ENOTFOUND
 * (program), COMPAT_ENOMEM. Call after libcache_audit_prepare accepted dir. */
int libcache_audit_covers(const char *dir, const char *program, char *why, size_t cap, struct cerr *err);

/* Parse a stats file's text. Returns 0 or COMPAT_EINVAL. */
int libcache_stats_parse(const char *text, size_t len, struct libcache_stats *st);

/* Read DIR/compat-trace.stats. Returns 0, COMPAT_EIO, COMPAT_EINVAL,
 * COMPAT_ELIMIT. */
int libcache_stats_read(const char *dir, struct libcache_stats *st, struct cerr *err);

#endif
