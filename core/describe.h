/* Describe ELF programs as an artifact (what `compat gen` prints): resolve
 * each one's dependencies as ld.so would (resolve.h) and record the host
 * needs, symbol versions and bound symbols of DESIGN §2. */
#ifndef COMPAT_DESCRIBE_H
#define COMPAT_DESCRIBE_H

#include <stddef.h>

#include "artifact.h"

struct describe_opts {
	const char *root;		/* NULL or "/": this host */
	const char *library_path;	/* LD_LIBRARY_PATH to emulate, or NULL */
	int no_symbols;			/* leave symbols.SONAME out */
	/* Called for each soname a described file's closure needs and
	 * nothing provides (once per file and soname); NULL: not told. */
	void (*missing)(void *ctx, const char *path, const char *soname);
	void *missing_ctx;
	const char *machine;		/* with files of several machines: describe
					 * only those of this one ("x86_64"), else refuse */
};

/* Warnings, one line each, through this callback (path or "", message;
 * NULL to ignore them): a file of a directory that cannot be described
 * (skipped), symbols a program needs that nothing binds here, the groups
 * of a mixed set of architectures, the files --machine left out. */
typedef void (*describe_warn_fn)(void *ctx, const char *path, const char *msg);

/* Libraries inside a scanned directory travel with the programs (they are
 * not host needs): recognised by file identity (device and inode), so a
 * tree described with root set to itself (an unpacked image) provides
 * everything it holds, whatever paths its loader finds them by.
 *
 * Describe paths (files or directories, recursively) into *a (initialised
 * by the caller). Returns 0; COMPAT_EINVAL/COMPAT_EIO when a named file is
 * not a usable ELF file (a FIFO or device is refused without being
 * opened), no ELF file was found, or the files are of several machines or
 * classes (and o->machine does not pick one); COMPAT_ELIMIT with more than
 * 100,000 files; COMPAT_ENOMEM. */
int describe_paths(const char *const *paths, size_t npaths, const struct describe_opts *o,
		   describe_warn_fn warn, void *ctx, struct artifact *a, struct cerr *err);

#endif
