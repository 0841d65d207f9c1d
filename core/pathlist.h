/* Splitting separator-delimited lists ("a:b:c"): LD_LIBRARY_PATH, DT_RPATH,
 * DT_RUNPATH, --library-path, PATH, an artifact's search paths. One
 * implementation, no limit on the number of entries. */
#ifndef COMPAT_PATHLIST_H
#define COMPAT_PATHLIST_H

#include <stddef.h>

struct pathlist {
	char **v;	/* the entries, in order; v[n] is NULL */
	size_t n;
	char *mem;	/* one block holding v's strings (owned) */
};

enum pathlist_flags {
	PATHLIST_KEEP_EMPTY = 1,	/* keep empty entries as "" (ld.so and execvp read
					 * them as the current directory); default: drop them */
};

/* Split s (NULL or "" give no entries) at any character of seps into *out
 * (zeroed first; pathlist_free releases it). Returns 0 or COMPAT_ENOMEM. */
int pathlist_split(const char *s, const char *seps, unsigned flags, struct pathlist *out);

void pathlist_free(struct pathlist *l);

#endif
