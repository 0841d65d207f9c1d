/* The verdict (DESIGN §4): judge an artifact against the host index and
 * list every finding, not just the first. */
#ifndef COMPAT_VERDICT_H
#define COMPAT_VERDICT_H

#include <stddef.h>

#include "artifact.h"
#include "hostindex.h"

/* Finding kinds (DESIGN §4), as they appear on the wire. */
#define FINDING_WRONG_ARCH "wrong-arch"
#define FINDING_MISSING_INTERP "missing-interpreter"
#define FINDING_MISSING_SONAME "missing-soname"
#define FINDING_MISSING_VERSION "missing-version"
#define FINDING_ISA_LEVEL "isa-level"
#define FINDING_UNDEFINED_SYMBOL "undefined-symbol"

struct finding {
	char *kind;	/* one of FINDING_* */
	char *soname;	/* "" when not about one library */
	char *detail;	/* a sentence for people */
	int warning;	/* 1: reported but does not make it incompatible */
};

struct resolved {
	char *soname;
	char *path;	/* NULL when not found */
};

struct verdict {
	int compatible;
	struct finding *findings;	/* findings first, then warnings */
	size_t nfindings;
	struct resolved *resolved;	/* every host need, sorted by soname */
	size_t nresolved;
};

struct verdict_opts {
	const char *const *extra_dirs;	/* per-request extra library dirs */
	size_t nextra;
	/* Hook for the server, which reads request-named directories off its
	 * event loop (dirscan.h): when set, these stand for extra_dirs and for
	 * the artifact's search-path, and nothing is scanned here. Borrowed. */
	const struct host_index *extra_index, *search_index;
};

/* Judge a. *v is owned by the caller (verdict_free). Returns 0, or
 * COMPAT_EINVAL when the artifact itself is unusable, COMPAT_ENOMEM. */
int verdict_check(const struct host_index *idx, const struct artifact *a,
		  const struct verdict_opts *o, struct verdict *v, struct cerr *err);

/* JSON report {"compatible":..,"findings":[..],"resolved":{..}}; caller frees. */
char *verdict_to_json(const struct verdict *v, size_t *len);

void verdict_free(struct verdict *v);

#endif
