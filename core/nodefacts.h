/* What a node offers the images scheduled on it, for `compat labels`
 * (Node Feature Discovery's local source): machine, x86-64 ISA level,
 * kernel, and the newest GLIBC_ and GLIBCXX_ versions its libc.so.6 and
 * libstdc++.so.6 define (through the host index, as check finds them). */
#ifndef COMPAT_NODEFACTS_H
#define COMPAT_NODEFACTS_H

#include <stddef.h>

#include "err.h"

struct node_facts {
	char machine[65];	/* uname -m: "x86_64" */
	int isa_level;		/* 1..4 on x86_64, else 0 */
	unsigned kernel[3];	/* running kernel, major.minor.patch */
	char glibc[32];		/* "2.36", "" when libc.so.6 defines no GLIBC_ version */
	char glibcxx[32];	/* "3.4.30", "" when there is no libstdc++.so.6 */
};

/* Read the facts of the node (libraries inside root, NULL for /).
 * Returns 0, COMPAT_EIO, COMPAT_ENOMEM. */
int node_facts_read(const char *root, struct node_facts *f, struct cerr *err);

/* The newest of a version family among names ("GLIBC_" + "2.36" beats
 * "GLIBC_2.4"), into out (without the prefix); "" when none. Numeric
 * per dotted component. */
void node_newest_version(const char *const *names, size_t n, const char *prefix, char *out, size_t cap);

/* Write a feature file for NFD: atomically, through a temporary file whose
 * name starts with a dot (NFD skips those), in the same directory.
 * Returns 0, COMPAT_EIO (the directory must exist). */
int node_write_features(const char *path, const char *text, size_t len, struct cerr *err);

#endif
