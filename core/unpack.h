/* Applying image layers (tar streams, tar.h) to a directory, safely: the
 * OCI image-spec layer rules (entries in order, later ones replace earlier
 * ones, ".wh.NAME" whiteouts and ".wh..wh..opq" opaque directories that
 * hide what lower layers put there) with every write relative to a
 * directory fd, never through a symbolic link:
 *  - entry and hard-link paths with a ".." component, or absolute, are
 *    refused; so is a path whose parent is a symbolic link or not a
 *    directory (each component is opened O_NOFOLLOW|O_DIRECTORY), a
 *    whiteout of the top directory, and device nodes;
 *  - files get no set-id or sticky bits (mode & 0755, owner-writable),
 *    FIFOs are not created, ownership and times are not applied;
 *  - the bytes written and the entries created over all layers are
 *    bounded, checked against an entry's declared size before any of its
 *    data is written (a 10 GB claim fails at its header).
 * Every refusal is a COMPAT_EINVAL naming the entry, or COMPAT_ELIMIT. */
#ifndef COMPAT_UNPACK_H
#define COMPAT_UNPACK_H

#include <stdint.h>

#include "err.h"
#include "strmap.h"
#include "tar.h"

#define UNPACK_MAX_BYTES (4ull << 30)	/* default: 4 GiB of file data */
#define UNPACK_MAX_FILES 500000u	/* default: entries created */
#define UNPACK_MAX_DEPTH 256		/* path components */

struct unpack {
	int root_fd;		/* the tree's top directory; not owned */
	uint64_t max_bytes, max_files;
	uint64_t bytes, files;	/* so far, over every layer */
	struct strmap layer;	/* paths this layer created (set) */
	int out_fd;		/* file being written, or -1 */
	uint64_t left;		/* its bytes still to come */
	char cur[TAR_MAX_PATH];	/* its path, for messages */
	char dir_path[TAR_MAX_PATH];	/* the cached parent directory ... */
	int dir_fd;			/* ... and its fd, or -1 */
	char layer_name[80];	/* "layer 2 (sha256:0123abcd)" for messages */
};

/* Ready to unpack into root_fd (an O_DIRECTORY fd the caller keeps
 * open); 0 for either limit means the default. */
void unpack_init(struct unpack *u, int root_fd, uint64_t max_bytes, uint64_t max_files);

/* Layer boundaries: whiteouts hide only what earlier layers created.
 * name is used in messages. */
void unpack_layer_begin(struct unpack *u, const char *name);
int unpack_layer_end(struct unpack *u, struct cerr *err);

/* The tar callbacks; ctx is the struct unpack. */
extern const struct tar_callbacks unpack_tar_callbacks;

void unpack_free(struct unpack *u);

/* Remove dirfd/name and everything under it, never following a symbolic
 * link. 0 or COMPAT_EIO. */
int unpack_remove_tree(int dirfd, const char *name, struct cerr *err);

#endif
