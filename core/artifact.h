/* The compatibility artifact (DESIGN §2): a version string and a flat map of
 * string attributes, read and written as deterministic JSON (sorted keys,
 * two-space indent, trailing newline), so equal artifacts give equal bytes.
 *
 * Keys the project defines (prefix ARTIFACT_NS = "llnl.compatlib."):
 *   executable-name, library-name.N, elf.class, elf.machine, elf.osabi,
 *   elf.interpreter, isa-level, needed.SONAME, symbols.SONAME.
 * Unknown keys are kept and written back unchanged. */
#ifndef COMPAT_ARTIFACT_H
#define COMPAT_ARTIFACT_H

#include <stddef.h>

#include "err.h"

#define ARTIFACT_NS "llnl.compatlib."
#define ARTIFACT_VERSION "0.1.0"
#define ARTIFACT_MAX_BYTES (4u << 20)	/* largest artifact JSON accepted */

struct artifact_attr {
	char *key;
	char *value;
};

struct artifact {
	char *version;			/* owned; "0.0.1" for prototype artifacts */
	struct artifact_attr *attrs;	/* owned, kept sorted by key */
	size_t nattrs, cap;
};

/* Parse JSON text (need not be NUL-terminated). name is used in messages
 * ("artifact.json:3: expected string for \"version\""). On success *a owns
 * everything; on failure *a is empty. Returns 0, COMPAT_EINVAL, COMPAT_ELIMIT,
 * COMPAT_ENOMEM. */
int artifact_parse(const char *json, size_t len, const char *name,
		   struct artifact *a, struct cerr *err);

/* The two readers behind artifact_parse (which tries the first, then the
 * second), for tests/fuzz/fuzz_artifact.c to compare:
 * artifact_parse_flat reads an artifact of the usual flat shape (see
 * artifact.c) without jansson; returns 0, 1 (declined: not that shape, or
 * not valid; *a empty) or COMPAT_ENOMEM. artifact_parse_json reads any
 * JSON with jansson, as artifact_parse documents. */
int artifact_parse_flat(const char *json, size_t len, struct artifact *a);
int artifact_parse_json(const char *json, size_t len, const char *name, struct artifact *a, struct cerr *err);

/* Read and parse a file ("-" = stdin). Same returns plus COMPAT_EIO. */
int artifact_load(const char *path, struct artifact *a, struct cerr *err);

/* Set (replace) an attribute; key and value are copied. 0 or COMPAT_ENOMEM. */
int artifact_set(struct artifact *a, const char *key, const char *value);

/* Value of key, or NULL. Borrowed: valid until the artifact changes. */
const char *artifact_get(const struct artifact *a, const char *key);

/* Deterministic JSON; caller frees. NULL only when out of memory. */
char *artifact_to_json(const struct artifact *a, size_t *len);

void artifact_init(struct artifact *a);
void artifact_free(struct artifact *a);

#endif
