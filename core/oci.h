/* Artifacts in an OCI registry (distribution spec 1.1), ORAS-style: an
 * empty config, one layer holding the artifact JSON, artifactType
 * application/vnd.llnl.compatlib.v1. Pulls go through the local cache
 * (ocicache.h) and verify every digest before anything is stored. Auth:
 * WWW-Authenticate Basic and Bearer (token endpoint), with credentials from
 * ~/.docker/config.json (or $DOCKER_CONFIG). */
#ifndef COMPAT_OCI_H
#define COMPAT_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ocicache.h"

#define OCI_ARTIFACT_TYPE "application/vnd.llnl.compatlib.v1"
#define OCI_LAYER_TYPE "application/vnd.llnl.compatlib.artifact.v1+json"
#define OCI_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
#define OCI_INDEX_TYPE "application/vnd.oci.image.index.v1+json"
#define OCI_IMAGE_CONFIG_TYPE "application/vnd.oci.image.config.v1+json"
#define DOCKER_MANIFEST_TYPE "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST_TYPE "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_CREATED_ANNOTATION "org.opencontainers.image.created"
#define OCI_MAX_MANIFEST (4u << 20)
#define OCI_MAX_BLOB (4u << 20)

struct oci_ref {
	char registry[256];	/* host[:port] */
	char repo[256];
	char tag[129];		/* "" when by digest */
	char digest[OCI_DIGEST_SIZE];	/* "" when by tag */
	int tag_given;		/* the tag was written, not the "latest" default */
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
 * or is "localhost"; never one starting with '.', so "./x.json" and
 * "../x.json" are files even when they do not exist). */
int oci_is_reference(const char *s);

/* Push the artifact JSON to ref; the manifest digest goes to digest.
 * With o->subject, the manifest's subject names that image's manifest
 * (and carries an org.opencontainers.image.created annotation: now, or
 * $SOURCE_DATE_EPOCH), and where the registry answers without OCI-Subject
 * (no referrers API), the fallback index tagged sha256-<hex of the
 * subject> lists it. With a subject and no tag written in ref, the
 * manifest is pushed by digest only (as oras attach): no tag moves.
 * Returns 0; COMPAT_EUNREACH; COMPAT_EPERM (auth refused); COMPAT_EPROTO
 * (unexpected reply); COMPAT_EINVAL (bad ref). */
int oci_push_artifact(const char *ref, const char *json, size_t len, const struct oci_opts *o,
		      char digest[OCI_DIGEST_SIZE], struct cerr *err);

/* Pull the artifact JSON of ref (caller frees *json), through the cache.
 * When ref names an image (a manifest or an index) rather than a compat
 * artifact, the newest compat artifact attached to it is pulled instead
 * (oci_client_referrer); none gives COMPAT_ENOTFOUND "an image; no compat
 * artifact is attached", and any other kind of manifest COMPAT_EINVAL
 * naming what it is. Nothing is cached but verified compat artifacts.
 * Same returns plus COMPAT_EDIGEST when a manifest or blob does not match
 * its digest (nothing is stored then). */
int oci_pull_artifact(const char *ref, const struct oci_opts *o, char **json, size_t *len,
		      struct cerr *err);

/* The artifact layer of a manifest (its digest and size), with the
 * checks of the title annotation. Exposed for the fuzz target. Returns 0,
 * COMPAT_EINVAL. */
int oci_manifest_layer(const char *manifest, size_t len, char digest[OCI_DIGEST_SIZE], size_t *size, struct cerr *err);

/* ---- reading images: a client that keeps its session (auth token) ---- */

struct oci_client;
struct http_sink;

/* A client for ref's registry and repository (parsed into *ref when not
 * NULL). Caller frees with oci_client_free. 0 or COMPAT_EINVAL. */
int oci_client_new(const char *refs, const struct oci_opts *o, struct oci_ref *ref, struct oci_client **out,
		   struct cerr *err);
void oci_client_free(struct oci_client *c);

/* The manifest or index named by reference (a tag or a digest), any of
 * the OCI and Docker v2 media types: the body (caller frees), its
 * verified digest and its media type (from the body, else the reply).
 * Returns 0; COMPAT_ENOTFOUND; COMPAT_EDIGEST; COMPAT_EUNREACH; COMPAT_EPERM;
 * COMPAT_EPROTO; COMPAT_ELIMIT (over OCI_MAX_MANIFEST). */
int oci_client_manifest(struct oci_client *c, const char *reference, char **body, size_t *len,
			char digest[OCI_DIGEST_SIZE], char media_type[128], struct cerr *err);

/* A small blob (config), verified against digest. Same returns. */
int oci_client_blob(struct oci_client *c, const char *digest, size_t max, char **data, size_t *len,
		    struct cerr *err);

/* Stream a blob of size bytes to sink (the caller verifies the digest as
 * the bytes go by). Same returns, and whatever the sink returned. */
int oci_client_blob_stream(struct oci_client *c, const char *digest, uint64_t size,
			   const struct http_sink *sink, struct cerr *err);

/* The newest compat artifact attached to the manifest with subject_digest:
 * the referrers API (GET /v2/R/referrers/D?artifactType=...), else the
 * sha256-<hex> fallback index; newest by the created annotation, the
 * later entry on a tie. Its digest into out. COMPAT_ENOTFOUND when none. */
int oci_client_referrer(struct oci_client *c, const char *subject_digest, char out[OCI_DIGEST_SIZE], struct cerr *err);

/* What a manifest is, for messages and decisions: OCI_KIND_ARTIFACT (a
 * compat artifact), OCI_KIND_IMAGE, OCI_KIND_INDEX, OCI_KIND_OTHER (its
 * artifactType or config media type into what), or COMPAT_EINVAL. */
enum { OCI_KIND_ARTIFACT = 1, OCI_KIND_IMAGE, OCI_KIND_INDEX, OCI_KIND_OTHER };
int oci_manifest_kind(const char *manifest, size_t len, const char *reply_type, char *what, size_t cap);

#endif
