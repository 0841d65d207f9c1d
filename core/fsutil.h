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

/* Read a whole file into a malloc'd, NUL-terminated buffer (caller frees).
 * Fails with COMPAT_ELIMIT when it is larger than max bytes.
 * Returns 0, COMPAT_EIO, COMPAT_ELIMIT, COMPAT_ENOMEM. */
int fs_read_file(const char *path, size_t max, char **data, size_t *len, struct cerr *err);

#endif
