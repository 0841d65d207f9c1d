/* The ld.so search, emulated on the file system (DESIGN §3): given a
 * program, find the libraries glibc's loader would load, in its order,
 * without running it. The rules -- the per-ABI table, the search order,
 * opening inside a root -- are ldso.h's; this module walks them:
 *  - Loading is breadth-first from the program's DT_NEEDED list. A name
 *    already loaded (as a requested name or a DT_SONAME, or the same file by
 *    device and inode) is reused; the loader itself is loaded from the start
 *    and answers to its path and its soname.
 *  - A name containing '/' is opened as a path, after $ORIGIN/$LIB/$PLATFORM
 *    expansion; any other name is searched in ldso_search_order's steps.
 *  - A candidate of the wrong ELF class or machine is skipped; a file that is
 *    not ELF stops the search for that name (ld.so's "invalid ELF header"),
 *    and so does a FIFO or device (never opened for reading: "not a regular
 *    file").
 *  - PT_INTERP's ABI picks the table row, hence the cache flags and default
 *    directories; --root makes every path relative to a sysroot. */
#ifndef COMPAT_RESOLVE_H
#define COMPAT_RESOLVE_H

#include <stddef.h>
#include <sys/types.h>

#include "elf.h"
#include "err.h"

enum rs_how {
	RS_MAIN,		/* the program itself */
	RS_INTERP,		/* the loader named by PT_INTERP */
	RS_PATH,		/* DT_NEEDED with a '/' */
	RS_RPATH,
	RS_LD_LIBRARY_PATH,
	RS_RUNPATH,
	RS_LDCACHE,
	RS_DEFAULT,
	RS_NOTFOUND,
};

struct rs_searched {
	char *dir;		/* directory as searched (expanded) */
	enum rs_how why;	/* RS_RPATH ... RS_DEFAULT */
};

struct rs_obj {
	char *name;		/* as requested (DT_NEEDED) or as given (program) */
	char *path;		/* as ld.so would open it (inside root); NULL if not found */
	enum rs_how how;
	int loader;		/* index of the object that first needed it; -1 */
	int via_origin;		/* found through a $ORIGIN-relative directory or path */
	char *problem;		/* why it was not found beyond "no such file", or NULL */
	struct rs_searched *searched;	/* when not found: where ld.so looked */
	size_t nsearched;
	int *needs;		/* per info->needed[k]: the object index it resolved to */
	const struct elf_info *info;	/* NULL when not found; owned by the resolver */
	const struct elf_symtab *symtab; /* its dynamic symbols; owned by the resolver */
	dev_t dev;
	ino_t ino;
};

struct resolution {
	struct rs_obj *objs;	/* [0] = the program, then load (breadth-first) order */
	size_t n;
	int interp;		/* index of the loader object, or -1 */
};

struct rs_opts {
	const char *root;		/* sysroot, NULL for "/" */
	const char *library_path;	/* LD_LIBRARY_PATH to emulate, NULL for none */
	unsigned elf_flags;		/* elf_read flags for the program (ELF_READ_UNDEFS);
					 * libraries are read without undefined symbols */
	int no_symtabs;			/* the closure only (gen --list, --tree): no symbol
					 * tables (rs_obj.symtab stays NULL), each file read
					 * as ld.so reads it and never mapped */
};

struct resolver;

/* A resolver keeps the ld.so.cache and every ELF file it read, so that
 * resolving many programs reads each library once.
 * Returns 0, COMPAT_EIO (root not usable), COMPAT_ENOMEM. */
int resolver_new(const struct rs_opts *o, struct resolver **out, struct cerr *err);

/* Resolve the program at path (a host path, even with a root). *r is
 * owned by the caller (resolution_free); it borrows from the resolver.
 * Returns 0 (libraries not found are reported in *r, not as errors);
 * COMPAT_EIO / COMPAT_EINVAL when the program itself cannot be read. */
int resolver_run(struct resolver *rv, const char *path, struct resolution *r, struct cerr *err);

/* Search name as ld.so would for a DT_NEEDED (or a dlopen by name) of the
 * program at path: its RPATH/RUNPATH, LD_LIBRARY_PATH, the cache, the
 * default directories. Returns 1 found (*path malloc'd, the caller frees;
 * *via_origin set when through a $ORIGIN directory), 0 not found (*path
 * NULL), or COMPAT_EIO / COMPAT_EINVAL / COMPAT_ENOMEM as resolver_run. */
int resolver_find(struct resolver *rv, const char *program, const char *name, char **path, int *via_origin,
		  struct cerr *err);

/* Open a path as the loader would see it (inside the root). -1 on error
 * with errno set. */
int resolver_open(const struct resolver *rv, const char *path);

void resolution_free(struct resolution *r);
void resolver_free(struct resolver *rv);

/* "[rpath]", "[LD_LIBRARY_PATH]", "[runpath]", "[ld.so.cache]", "[default path]",
 * "[direct]", "[interpreter]", "[program]", "not found". */
const char *rs_how_name(enum rs_how how);

#endif
