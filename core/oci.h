/* Artifacts in an OCI registry (distribution spec 1.1), ORAS-style: an
 * empty config, one layer holding the artifact JSON, artifactType
 * application/vnd.llnl.compatlib.v1. Pulls go through the local cache
 * (ocicache.h) and verify every digest before anything is stored. Auth:
 * WWW-Authenticate Basic and Bearer (token endpoint), with credentials from
 * ~/.docker/config.json (or $DOCKER_CONFIG). */
#ifndef COMPAT_OCI_H
#define COMPAT_OCI_H

#include <stddef.h>

#include "err.h"

#define OCI_ARTIFACT_TYPE "application/vnd.llnl.compatlib.v1"
#define OCI_LAYER_TYPE "application/vnd.llnl.compatlib.artifact.v1+json"
#define OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_MAX_MANIFEST (4u << 20)
#define OCI_MAX_BLOB (4u << 20)

struct oci_ref {
	char registry[256];	/* host[:port] */
	char repo[256];
	char tag[129];		/* "" when by digest */
	char digest[72];	/* "" when by tag */
};

struct oci_opts {
	int plain_http;		/* http:// instead of https:// */
	const char *ca_file;	/* NULL: the system bundle */
	const char *cache_dir;	/* NULL: $COMPAT_CACHE or the XDG default */
	int timeout_ms;		/* per request; 0: 30 s */
	const char *subject;	/* push: attach to this image (REGISTRY/REPO:TAG|@DIGEST), or NULL */
	const char *const *allow;	/* with nallow > 0: the only hosts ever contacted */
	size_t nallow;
	const int *cancelled;	/* non-zero (read atomically) ends a transfer early; may be NULL */
};

/* A WWW-Authenticate challenge: its scheme and the parameters the token
 * flow uses (others are ignored). */
struct oci_challenge {
	char scheme[16];	/* "Bearer", "Basic" */
	char realm[1024];
	char service[256];
	char scope[512];
};

/* Parse a WWW-Authenticate value: a scheme, then key=token or
 * key="quoted \"string\"" parameters separated by commas. Returns 0,
 * COMPAT_EINVAL (malformed; a Bearer challenge without a realm),
 * COMPAT_ELIMIT (a value too long). */
int oci_challenge_parse(const char *value, struct oci_challenge *c, struct cerr *err);

/* The token URL of a bearer challenge: realm?service=S&scope=S (values
 * percent-encoded). Returns 0, COMPAT_EINVAL, COMPAT_ELIMIT. */
int oci_token_url(const struct oci_challenge *c, char *url, size_t cap, struct cerr *err);

/* Split a URL from a registry (Location, a token realm): http(s)://HOST/PATH
 * gives its scheme (tls) and host; /PATH keeps base_tls and base_host.
 * Refused (COMPAT_EINVAL): control characters or spaces, user info in the
 * host, a relative path not starting with "/", "//host" forms, parts that
 * do not fit. The fragment is dropped. Returns 0 or COMPAT_EINVAL. */
int oci_url_split(const char *url, int base_tls, const char *base_host, int *tls, char *host, size_t hcap,
		  char *path, size_t pcap);

/* 1 when host ("name[:port]", as in a reference) is one of allow[0..n). */
int oci_host_allowed(const char *host, const char *const *allow, size_t n);

/* Parse REGISTRY/REPO[:TAG|@sha256:HEX] (as oras; a missing tag is
 * "latest"). Returns 0 or COMPAT_EINVAL. */
int oci_ref_parse(const char *s, struct oci_ref *r, struct cerr *err);

/* 1 when s reads as a registry reference rather than a file: it is not an
 * existing path and its first component names a host (has a '.' or ':',
 * or is "localhost"). */
int oci_is_reference(const char *s);

/* Push the artifact JSON to ref; the manifest digest goes to digest.
 * With o->subject, the manifest's subject names that image's manifest,
 * and where the registry answers without OCI-Subject (no referrers API),
 * the fallback index tagged sha256-<hex of the subject> lists it.
 * Returns 0; COMPAT_EUNREACH; COMPAT_EPERM (auth refused); COMPAT_EPROTO
 * (unexpected reply); COMPAT_EINVAL (bad ref). */
int oci_push_artifact(const char *ref, const char *json, size_t len, const struct oci_opts *o,
		      char digest[72], struct cerr *err);

/* Pull the artifact JSON of ref (caller frees *json), through the cache.
 * Same returns plus COMPAT_EDIGEST when a manifest or blob does not match
 * its digest (nothing is stored then). */
int oci_pull_artifact(const char *ref, const struct oci_opts *o, char **json, size_t *len,
		      struct cerr *err);

/* The artifact layer of a manifest (its digest and size), with the
 * checks of the title annotation. Exposed for the fuzz target. Returns 0,
 * COMPAT_EINVAL. */
int oci_manifest_layer(const char *manifest, size_t len, char digest[72], size_t *size, struct cerr *err);

#endif
