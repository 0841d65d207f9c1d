/* The verdict (DESIGN §4): judge an artifact against a host index and list
 * every finding, root causes first, each with what a user can act on. */
#ifndef COMPAT_VERDICT_H
#define COMPAT_VERDICT_H

#include <stddef.h>

#include "artifact.h"
#include "hostindex.h"
#include "jsonw.h"

/* Finding kinds (DESIGN §4), as they appear on the wire. */
#define FINDING_WRONG_ARCH "wrong-arch"
#define FINDING_MISSING_INTERP "missing-interpreter"
#define FINDING_MISSING_SONAME "missing-soname"
#define FINDING_MISSING_VERSION "missing-version"
#define FINDING_ISA_LEVEL "isa-level"
#define FINDING_UNDEFINED_SYMBOL "undefined-symbol"
#define FINDING_KERNEL "kernel"	/* the running kernel is older than the artifact's kernel ABI */
#define FINDING_PLUGIN_IMPORTS "plugin-imports"	/* always a warning */

struct finding {
	char *kind;	/* one of FINDING_* */
	char *soname;	/* "" when not about one library */
	char *detail;	/* a sentence for people */
	int warning;	/* 1: reported but does not make it incompatible */
	char **symbols;	/* missing-version, undefined-symbol, plugin-imports: the
			 * symbols concerned (NAME or NAME@VERSION), sorted */
	size_t nsymbols;
	char **folded;	/* wrong-arch, missing-interpreter: the missing sonames
			 * they explain (not reported on their own), sorted */
	size_t nfolded;
	char *version;	/* missing-version: the version needed, else NULL */
	char *host_newest; /* missing-version: the newest version of that family
			    * the host library defines, or NULL */
};

struct resolved {
	char *soname;
	char *path;	/* NULL when not found */
};

struct searched {
	char *dir;	/* a directory, or "/etc/ld.so.cache" */
	const char *why; /* "[rpath]", "[LD_LIBRARY_PATH]", "[runpath]", "[ld.so.cache]",
			  * "[default path]" (static) */
};

struct version_min {
	char *family;	/* "GLIBC", "GLIBCXX", "CXXABI", "GCC" */
	char *version;	/* the newest one required: "2.38" */
};

struct verdict {
	int compatible;
	struct finding *findings;	/* root causes (wrong-arch, missing-interpreter)
					 * first, then by kind and soname, warnings last */
	size_t nfindings;
	struct resolved *resolved;	/* every host need, sorted by soname */
	size_t nresolved;
	struct searched *searched;	/* where a host need is looked for, in order
					 * (the same for every need of an artifact) */
	size_t nsearched;
	char **notes;			/* what was not checked, and why */
	size_t nnotes;
	struct version_min *minimum;	/* GLIBC, GLIBCXX, CXXABI, GCC: newest required */
	size_t nminimum;
	char *summary;			/* "needs glibc >= 2.38, GLIBCXX >= 3.4.31", or NULL */
};

#define VERDICT_DEFAULT_MAX_NEEDS 65536		/* host needs (needed.* keys) */
#define VERDICT_DEFAULT_MAX_SYMBOLS 262144	/* symbol tokens (symbols.*, unbound, plugin-imports) */
#define VERDICT_MAX_CLOSURE 4096		/* host libraries loaded with the needs */

struct verdict_opts {
	const char *const *extra_dirs;	/* per-request extra library dirs (searched
					 * as LD_LIBRARY_PATH, before the index's own) */
	size_t nextra;
	size_t max_needs;		/* 0: VERDICT_DEFAULT_MAX_NEEDS */
	size_t max_symbols;		/* 0: VERDICT_DEFAULT_MAX_SYMBOLS */
	/* Hook for the server, which reads request-named directories off its
	 * event loop (dirscan.h): when set, these stand for extra_dirs and for
	 * the artifact's rpath and runpath lists, and nothing is scanned here
	 * for them. Each must list the directories of its list, in order
	 * (index_extra_dirs). Borrowed. */
	const struct host_index *extra_index, *rpath_index, *runpath_index;
};

/* Judge a. *v is owned by the caller (verdict_free). Returns 0;
 * COMPAT_EINVAL when the artifact itself is unusable; COMPAT_ELIMIT when it
 * has more needs or symbols than o allows (err says which), or its closure
 * more than VERDICT_MAX_CLOSURE libraries; COMPAT_ENOMEM. Time is linear in
 * the needs and in symbols times closure size. */
int verdict_check(const struct host_index *idx, const struct artifact *a,
		  const struct verdict_opts *o, struct verdict *v, struct cerr *err);

/* JSON report, keys in this order: {"compatible", "findings": [{"detail",
 * "folded"?, "host_newest"?, "kind", "soname", "symbols"?, "version"?,
 * "warning"}], "minimum": {FAMILY: VERSION} (GLIBC, GLIBCXX, CXXABI, GCC),
 * "notes": [...], "resolved": {soname: path|null}, "searched": [{"dir",
 * "why"}], "summary": TEXT|null}; caller frees. NULL when out of memory. */
char *verdict_to_json(const struct verdict *v, size_t *len);

/* The same report appended to a JSON writer (jsonw.h) at its current
 * place, with no tree and no allocation but the writer's buffer. Returns
 * the writer's error (0, COMPAT_ENOMEM, COMPAT_EINVAL: a string that is
 * not UTF-8, which jansson refused too). */
int verdict_write_json(const struct verdict *v, struct jsonw *w);

/* The inverse of verdict_to_json (what check --host reads from a server).
 * Unknown fields are ignored; missing optional ones stay empty. Returns 0,
 * COMPAT_EINVAL (not such a report), COMPAT_ENOMEM; *v is the caller's
 * (verdict_free) on success, empty on failure. */
int verdict_from_json(const char *json, size_t len, struct verdict *v);

void verdict_free(struct verdict *v);

#endif
