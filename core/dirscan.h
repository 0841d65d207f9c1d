/* Directories a request names (CompatRequest.library_path, an artifact's
 * llnl.compatlib.search-path): checked, read within bounds and indexed off
 * the server's event loop, then kept in a small cache on the loop.
 *
 * dirscan_build runs on a worker thread: it resolves each directory
 * (realpath; one that does not exist is left out, as ld.so skips it),
 * holds it to the allowed prefixes, reads it within the entry bound,
 * refuses a library-named entry that is a FIFO, device or socket (opening
 * one for reading could block for ever), builds a host index of the
 * directories (hostindex.h, no system libraries) and reads every library
 * of it, so that judging against it on the loop reads no file headers.
 * The loop only looks indexes up in a struct dircache and judges. */
#ifndef COMPAT_DIRSCAN_H
#define COMPAT_DIRSCAN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hostindex.h"

struct dirscan_limits {
	size_t max_dirs;		/* directories per list */
	size_t max_entries;		/* entries read per directory */
	size_t max_libs;		/* library files per list, all directories */
	int timeout_ms;			/* for one list, checked between steps */
	const char *const *allow;	/* allowed prefixes (--allow-path); nallow 0: any */
	size_t nallow;
};

/* Without I/O: path is absolute and, with prefixes given, under one of
 * them (component-wise: /a/b allows /a/b and /a/b/c, not /a/bc).
 * Returns 0 or COMPAT_EPERM (message names the path). */
int dirscan_allowed(const char *path, const struct dirscan_limits *lim, struct cerr *err);

/* Build the index of dirs (in order) as described above; *out is owned by
 * the caller (index_free). On a worker thread; cancelled (may be NULL) is
 * polled between steps. Returns 0; COMPAT_EPERM (a directory resolves
 * outside the allowed prefixes); COMPAT_ELIMIT (too many directories,
 * entries or libraries, or out of time); COMPAT_EINVAL (a FIFO, device or
 * socket named like a library); COMPAT_ENOMEM; COMPAT_EIO. */
int dirscan_build(const char *const *dirs, size_t n, const struct dirscan_limits *lim, const int *cancelled,
		  struct host_index **out, struct cerr *err);

/* A bounded cache of built indexes, keyed by the list of directories as
 * the request named them; owned by one loop (no locking). An entry lives
 * ttl_ms after it was built; the least recently used goes first when more
 * than max_lists lists or max_libs libraries are held. */
struct dircache;

int dircache_new(struct dircache **out, size_t max_lists, size_t max_libs, int64_t ttl_ms);

/* The index built for dirs[0..n), or NULL. Borrowed: valid until the next
 * dircache_put, dircache_expire or dircache_clear. now: ms, monotonic. */
struct host_index *dircache_get(struct dircache *c, const char *const *dirs, size_t n, int64_t now);

/* As dircache_get, and *until (if given) says when the entry expires: an
 * answer judged with it is no fresher than that. */
struct host_index *dircache_lookup(struct dircache *c, const char *const *dirs, size_t n, int64_t now,
				   int64_t *until);

/* How long an entry lives (ms). */
int64_t dircache_ttl(const struct dircache *c);

/* Keep idx (taken in every case) for dirs. Returns 0, COMPAT_ENOMEM. */
int dircache_put(struct dircache *c, const char *const *dirs, size_t n, struct host_index *idx, int64_t now);

/* Drop entries older than the ttl. */
void dircache_expire(struct dircache *c, int64_t now);

/* Drop everything (the host index was rebuilt). */
void dircache_clear(struct dircache *c);

size_t dircache_count(const struct dircache *c);

void dircache_free(struct dircache *c);

#endif
