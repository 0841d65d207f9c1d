/* Small file-system helpers shared by core modules. */
#ifndef COMPAT_FSUTIL_H
#define COMPAT_FSUTIL_H

#include <stddef.h>

#include "err.h"

/* Write len bytes to path atomically: a temp file in the same directory,
 * fsync, rename, fsync of the directory. On failure the old file (if any)
 * is untouched and no temp file is left. The file gets mode 0666 less the
 * umask, as any new file. An existing destination that is not a regular
 * file (/dev/null, a FIFO) is written in place instead.
 * Returns 0, COMPAT_EIO, COMPAT_EINVAL (path too long). */
int fs_write_atomic(const char *path, const void *data, size_t len, struct cerr *err);

/* Write len bytes to the file name in the directory dirfd atomically,
 * never following a symlink nor creating anything outside that directory:
 * a temp file created there with O_CREAT|O_EXCL|O_NOFOLLOW (mode 0644 under
 * the umask), fsync, renameat over name (which replaces a symlink or file
 * there, never what it points to), fsync of the directory. name must be a
 * plain file name; shown (the directory as the user named it) is used in
 * messages. Returns 0, COMPAT_EINVAL (name has a '/'), COMPAT_EIO. */
int fs_write_atomic_at(int dirfd, const char *shown, const char *name, const void *data, size_t len,
		       struct cerr *err);

/* Read a whole file into a malloc'd, NUL-terminated buffer (caller frees).
 * Fails with COMPAT_ELIMIT when it is larger than max bytes.
 * Returns 0, COMPAT_EIO, COMPAT_ELIMIT, COMPAT_ENOMEM. */
int fs_read_file(const char *path, size_t max, char **data, size_t *len, struct cerr *err);

#endif
