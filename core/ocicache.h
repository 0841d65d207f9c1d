/* The local artifact cache: an OCI image layout (oci-layout, index.json,
 * blobs/sha256/HEX) at $COMPAT_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/compat.
 * Every write is atomic (temp file, fsync, rename); every read checks the
 * blob against its digest, so a corrupt entry is reported, never used. */
#ifndef COMPAT_OCICACHE_H
#define COMPAT_OCICACHE_H

#include <stddef.h>

#include "err.h"

/* The cache directory for dir (NULL: from the environment) into out. */
int ocicache_dir(const char *dir, char *out, size_t cap, struct cerr *err);

/* A digest as text: "sha256:" and 64 lower-case hex digits, 71 bytes, so
 * OCI_DIGEST_SIZE with its NUL. */
#define OCI_DIGEST_LEN 71
#define OCI_DIGEST_SIZE (OCI_DIGEST_LEN + 1)

/* "sha256:" + hex of data into digest. */
void oci_digest(const void *data, size_t len, char digest[OCI_DIGEST_SIZE]);

/* 1 when d (may be NULL) is such a digest, else 0: the one check of a
 * digest's form, for references, manifests, indexes and cache paths. */
int oci_digest_valid(const char *d);

/* Store a blob whose digest is already known to be right. 0 or COMPAT_EIO. */
int ocicache_put_blob(const char *dir, const char *digest, const void *data, size_t len, struct cerr *err);

/* Read a blob and verify it. 0; COMPAT_ENOTFOUND (absent); COMPAT_EDIGEST
 * (the bytes do not match: the entry is removed); COMPAT_EIO. Caller frees. */
int ocicache_get_blob(const char *dir, const char *digest, size_t max, char **data, size_t *len,
		      struct cerr *err);

/* Record manifest_digest under ref (the full reference) and tag in
 * index.json (one entry per ref; ref.name = tag for other OCI tools). */
int ocicache_tag(const char *dir, const char *ref, const char *tag, const char *manifest_digest,
		 size_t manifest_size, struct cerr *err);

/* The manifest digest recorded for ref, into digest; COMPAT_ENOTFOUND. */
int ocicache_lookup(const char *dir, const char *ref, char digest[OCI_DIGEST_SIZE], struct cerr *err);

#endif
