#include <jansson.h>
#include <mbedtls/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "http1.h"
#include "oci.h"
#include "ocicache.h"

#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define EMPTY_TYPE "application/vnd.oci.empty.v1+json"
#define MAX_REDIRECTS 5

int oci_ref_parse(const char *s, struct oci_ref *r, struct cerr *err)
{
	memset(r, 0, sizeof *r);
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || (size_t)(slash - s) >= sizeof r->registry)
		return cerr_set(err, COMPAT_EINVAL, "%.200s: expected REGISTRY/REPO[:TAG|@DIGEST]", s);
	memcpy(r->registry, s, (size_t)(slash - s));
	const char *rest = slash + 1, *at = strchr(rest, '@');
	size_t rl;
	if (at) {
		rl = (size_t)(at - rest);
		if (!oci_digest_valid(at + 1))
			return cerr_set(err, COMPAT_EINVAL, "%.200s: bad digest (expected sha256:<64 hex>)", s);
		memcpy(r->digest, at + 1, OCI_DIGEST_SIZE);
	} else {
		const char *colon = strrchr(rest, ':');
		rl = colon ? (size_t)(colon - rest) : strlen(rest);
		const char *tag = colon ? colon + 1 : "latest";
		if (!*tag || strlen(tag) > 128 || strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(tag))
			return cerr_set(err, COMPAT_EINVAL, "%.200s: bad tag", s);
		strcpy(r->tag, tag);
		r->tag_given = colon != NULL;
	}
	if (!rl || rl >= sizeof r->repo)
		return cerr_set(err, COMPAT_EINVAL, "%.200s: bad repository", s);
	memcpy(r->repo, rest, rl);
	if (strspn(r->repo, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != rl || strstr(r->repo, ".."))
		return cerr_set(err, COMPAT_EINVAL, "%.200s: bad repository name", s);
	return 0;
}

int oci_host_allowed(const char *host, const char *const *allow, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(allow[i], host) == 0)	/* host names ignore case */
			return 1;
	return 0;
}

int oci_is_reference(const char *s)
{
	struct stat st;
	if (stat(s, &st) == 0 || strcmp(s, "-") == 0)
		return 0;
	const char *slash = strchr(s, '/');
	if (!slash || slash == s)
		return 0;
	size_t n = (size_t)(slash - s);
	/* "./x", "../x" and ".hidden/x" are paths: no host name starts with a dot. */
	if (s[0] == '.')
		return 0;
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && strncmp(s, "localhost", 9) == 0);
}

/* ---- a registry session: target, credentials, the current token ---- */

struct reg {
	struct http_target t;
	char basic[600];	/* "Basic base64" from the docker config, or "" */
	char auth[4200];	/* the Authorization value in use, or "" */
	const struct oci_opts *o;
	char repo[256];
	const struct http_sink *sink;	/* where a 2xx body goes, or NULL */
};

static void load_docker_auth(struct reg *g)
{
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char p[4096];
	if (dc && *dc)
		snprintf(p, sizeof p, "%s/config.json", dc);
	else if (home)
		snprintf(p, sizeof p, "%s/.docker/config.json", home);
	else
		return;
	json_t *cfg = json_load_file(p, 0, NULL);
	const char *a = json_string_value(json_object_get(json_object_get(json_object_get(cfg, "auths"),
									g->t.host), "auth"));
	if (a && strlen(a) < sizeof g->basic - 7)
		snprintf(g->basic, sizeof g->basic, "Basic %s", a);
	json_decref(cfg);
}

/* ---- WWW-Authenticate and URLs (RFC 7235 auth-params, RFC 3986) ---- */

static int is_token_char(int c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

/* Copy a parameter value; COMPAT_ELIMIT when it does not fit. */
static int put_param(char *out, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		return COMPAT_ELIMIT;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

int oci_challenge_parse(const char *h, struct oci_challenge *c, struct cerr *err)
{
	memset(c, 0, sizeof *c);
	while (*h == ' ' || *h == '\t')
		h++;
	size_t n = 0;
	while (is_token_char((unsigned char)h[n]))
		n++;
	if (!n || n >= sizeof c->scheme)
		return cerr_set(err, COMPAT_EINVAL, "WWW-Authenticate without an auth scheme");
	memcpy(c->scheme, h, n);
	c->scheme[n] = '\0';
	const char *p = h + n;
	/* auth-param *( "," auth-param ), a value a token or a quoted string */
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *k = p;
		while (is_token_char((unsigned char)*p))
			p++;
		size_t kl = (size_t)(p - k);
		while (*p == ' ' || *p == '\t')
			p++;
		if (!kl || *p != '=')
			return cerr_set(err, COMPAT_EINVAL, "WWW-Authenticate: malformed parameter");
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		char val[1024];
		size_t vl = 0;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (vl + 1 >= sizeof val)
					return cerr_set(err, COMPAT_ELIMIT, "WWW-Authenticate: a parameter over %zu bytes",
							sizeof val - 1);
				val[vl++] = *p;
			}
			if (*p != '"')
				return cerr_set(err, COMPAT_EINVAL, "WWW-Authenticate: unterminated quoted string");
			p++;
		} else {
			const char *v = p;
			while (is_token_char((unsigned char)*p) || *p == '/' || *p == ':' || *p == '=')
				p++;
			vl = (size_t)(p - v);
			if (vl >= sizeof val)
				return cerr_set(err, COMPAT_ELIMIT, "WWW-Authenticate: a parameter over %zu bytes",
						sizeof val - 1);
			memcpy(val, v, vl);
		}
		val[vl] = '\0';
		int rc = 0;
		if (kl == 5 && strncasecmp(k, "realm", 5) == 0)
			rc = put_param(c->realm, sizeof c->realm, val, vl);
		else if (kl == 7 && strncasecmp(k, "service", 7) == 0)
			rc = put_param(c->service, sizeof c->service, val, vl);
		else if (kl == 5 && strncasecmp(k, "scope", 5) == 0)
			rc = put_param(c->scope, sizeof c->scope, val, vl);
		if (rc < 0)
			return cerr_set(err, rc, "WWW-Authenticate: %.*s too long", (int)kl, k);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p && *p != ',')
			return cerr_set(err, COMPAT_EINVAL, "WWW-Authenticate: malformed parameter list");
	}
	if (strcasecmp(c->scheme, "Bearer") == 0 && !c->realm[0])
		return cerr_set(err, COMPAT_EINVAL, "bearer challenge without a realm");
	return 0;
}

/* Percent-encode s (unreserved characters pass) into out; COMPAT_ELIMIT
 * when it does not fit. */
static int url_encode(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c);
		if (o + (plain ? 1 : 3) >= cap)
			return COMPAT_ELIMIT;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int oci_token_url(const struct oci_challenge *c, char *url, size_t cap, struct cerr *err)
{
	char es[800], esc[1600];
	if (!c->realm[0])
		return cerr_set(err, COMPAT_EINVAL, "bearer challenge without a realm");
	if (url_encode(c->service, es, sizeof es) < 0 || url_encode(c->scope, esc, sizeof esc) < 0)
		return cerr_set(err, COMPAT_ELIMIT, "bearer challenge: service or scope too long");
	int n = snprintf(url, cap, "%s%sservice=%s%s%s", c->realm, strchr(c->realm, '?') ? "&" : "?", es,
			 *c->scope ? "&scope=" : "", esc);
	return n < 0 || (size_t)n >= cap ? cerr_set(err, COMPAT_ELIMIT, "bearer challenge: token URL too long") : 0;
}

int oci_url_split(const char *url, int base_tls, const char *base_host, int *tls, char *host, size_t hcap,
		  char *path, size_t pcap)
{
	/* Nothing that would break the request line or the Host header. */
	for (const unsigned char *u = (const unsigned char *)url; *u; u++)
		if (*u <= 0x20 || *u == 0x7f)
			return COMPAT_EINVAL;
	const char *rest;
	if (strncasecmp(url, "https://", 8) == 0) {
		*tls = 1;
		rest = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		*tls = 0;
		rest = url + 7;
	} else {
		if (url[0] != '/' || url[1] == '/')
			return COMPAT_EINVAL;	/* relative to the path, or to the scheme: not ours */
		*tls = base_tls;
		if ((size_t)snprintf(host, hcap, "%s", base_host) >= hcap)
			return COMPAT_EINVAL;
		return (size_t)snprintf(path, pcap, "%s", url) >= pcap ? COMPAT_EINVAL : 0;
	}
	size_t hl = strcspn(rest, "/?#");
	if (!hl || hl >= hcap || memchr(rest, '@', hl))
		return COMPAT_EINVAL;	/* no host, or user info in it */
	memcpy(host, rest, hl);
	host[hl] = '\0';
	const char *tail = rest + hl;
	size_t tl = strcspn(tail, "#");	/* a fragment is not sent */
	return (size_t)snprintf(path, pcap, "%s%.*s", *tail == '/' ? "" : "/", (int)tl, tail) >= pcap ? COMPAT_EINVAL : 0;
}

static int split_url(const struct reg *g, const char *url, int *tls, char *host, size_t hcap, char *path,
		     size_t pcap)
{
	return oci_url_split(url, g->t.tls, g->t.host, tls, host, hcap, path, pcap);
}

/* With an allow-list (the server's --allow-registry), no other host is
 * ever contacted: not a redirect's, not a token realm's. The message says
 * only what we refused, nothing that such a host could have answered. */
static int may_contact(const struct reg *g, const char *host, const char *what, struct cerr *err)
{
	if (!g->o->nallow || oci_host_allowed(host, g->o->allow, g->o->nallow))
		return 0;
	return cerr_set(err, COMPAT_EPERM, "%s: %s leads to %.100s, which is not an allowed registry",
			g->t.host, what, host);
}

/* Our credentials go only where they came from: the same scheme and host
 * (https -> http on the same host is another origin). */
static int same_origin(const struct reg *g, int tls, const char *host)
{
	return tls == g->t.tls && strcasecmp(host, g->t.host) == 0;
}

/* GET a bearer token for the challenge; sets g->auth. */
static int fetch_token(struct reg *g, const char *challenge, struct cerr *err)
{
	struct oci_challenge ch;
	char url[3000], host[256], path[3000];
	int tls;
	if (oci_challenge_parse(challenge, &ch, err) < 0 || oci_token_url(&ch, url, sizeof url, err) < 0) {
		char m[sizeof err->msg];
		snprintf(m, sizeof m, "%s", err ? err->msg : "");
		return cerr_set(err, COMPAT_EPROTO, "%s: %s", g->t.host, m);
	}
	if (split_url(g, url, &tls, host, sizeof host, path, sizeof path) < 0)
		return cerr_set(err, COMPAT_EPROTO, "%s: bad token realm", g->t.host);
	int rc = may_contact(g, host, "the token realm", err);
	if (rc < 0)
		return rc;
	struct http_target t = { .host = host, .tls = tls, .ca_file = g->o->ca_file, .timeout_ms = g->t.timeout_ms,
				 .cancelled = g->o->cancelled };
	char hdr[700];
	const char *hdrs[2] = { NULL, NULL };
	/* The registry's credentials go to its token service (as docker's
	 * do), but never in clear text when the registry itself is TLS. */
	if (*g->basic && (tls || !g->t.tls)) {
		snprintf(hdr, sizeof hdr, "Authorization: %s", g->basic);
		hdrs[0] = hdr;
	}
	struct http_response r;
	if ((rc = http_request(&t, "GET", path, hdrs, NULL, 0, 64 << 10, &r, err)) < 0)
		return rc;
	json_t *j = r.status == 200 ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
	const char *tok = json_string_value(json_object_get(j, "token"));
	if (!tok)
		tok = json_string_value(json_object_get(j, "access_token"));
	/* It goes into a header line: printable ASCII only. */
	for (const char *q = tok; q && *q; q++)
		if (*q <= 0x20 || *q >= 0x7f)
			tok = NULL;
	if (tok && strlen(tok) < sizeof g->auth - 8)
		snprintf(g->auth, sizeof g->auth, "Bearer %s", tok);
	else if (r.status == 200)
		rc = cerr_set(err, COMPAT_EPROTO, "%s: the token endpoint gave no usable token", host);
	else
		rc = cerr_set(err, r.status == 401 || r.status == 403 ? COMPAT_EPERM : COMPAT_EPROTO,
			      "%s: token endpoint answered %d", host, r.status);
	json_decref(j);
	http_response_free(&r);
	return rc;
}

/* One registry request, answering an auth challenge once and following
 * redirects (without our Authorization when they lead to another scheme or
 * host; not at all to a host off the allow-list). */
static int reg_request(struct reg *g, const char *method, const char *url, const char *const *extra,
		       const void *body, size_t len, size_t max, struct http_response *r, struct cerr *err)
{
	char host[256], path[4096], auth_hdr[4300];
	int tls, tried_auth = 0;
	if (split_url(g, url, &tls, host, sizeof host, path, sizeof path) < 0)
		return cerr_set(err, COMPAT_EPROTO, "%s: bad URL %.100s", g->t.host, url);
	for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
		const char *hdrs[8];
		size_t nh = 0;
		int rc = may_contact(g, host, hop ? "a redirect" : "the request", err);
		if (rc < 0)
			return rc;
		int same_host = same_origin(g, tls, host);
		if (same_host && *g->auth) {
			snprintf(auth_hdr, sizeof auth_hdr, "Authorization: %s", g->auth);
			hdrs[nh++] = auth_hdr;
		}
		for (size_t i = 0; extra && extra[i] && nh < 7; i++)
			hdrs[nh++] = extra[i];
		hdrs[nh] = NULL;
		struct http_target t = { .host = host, .tls = tls, .ca_file = g->o->ca_file,
					 .timeout_ms = g->t.timeout_ms, .cancelled = g->o->cancelled };
		if ((rc = http_request_sink(&t, method, path, hdrs, body, len, max, g->sink, r, err)) < 0)
			return rc;
		if (r->status == 401 && same_host && !tried_auth) {
			const char *ch = http_header(r, "WWW-Authenticate");
			tried_auth = 1;
			if (ch && strncasecmp(ch, "Bearer", 6) == 0) {
				char chal[2048];
				snprintf(chal, sizeof chal, "%s", ch);
				http_response_free(r);
				if ((rc = fetch_token(g, chal, err)) < 0)
					return rc;
				hop--;
				continue;
			}
			if (ch && strncasecmp(ch, "Basic", 5) == 0 && *g->basic) {
				snprintf(g->auth, sizeof g->auth, "%s", g->basic);
				http_response_free(r);
				hop--;
				continue;
			}
		}
		if (r->status == 401 || r->status == 403) {
			int st = r->status;
			http_response_free(r);
			return cerr_set(err, COMPAT_EPERM, "%s: %s %s: %d (credentials: ~/.docker/config.json)",
					g->t.host, method, path, st);
		}
		if (r->status >= 300 && r->status < 400 && r->status != 304) {
			const char *loc = http_header(r, "Location");
			char next[4096];
			if (!loc || snprintf(next, sizeof next, "%s", loc) >= (int)sizeof next) {
				http_response_free(r);
				return cerr_set(err, COMPAT_EPROTO, "%s: redirect without a usable Location", host);
			}
			http_response_free(r);
			if (split_url(g, next, &tls, host, sizeof host, path, sizeof path) < 0)
				return cerr_set(err, COMPAT_EPROTO, "%s: bad redirect", g->t.host);
			continue;
		}
		return 0;
	}
	return cerr_set(err, COMPAT_EPROTO, "%s: too many redirects", g->t.host);
}

static void reg_init(struct reg *g, const struct oci_ref *ref, const struct oci_opts *o)
{
	memset(g, 0, sizeof *g);
	g->o = o;
	g->t.host = ref->registry;
	g->t.tls = !o->plain_http;
	g->t.ca_file = o->ca_file;
	g->t.timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
	snprintf(g->repo, sizeof g->repo, "%s", ref->repo);
	load_docker_auth(g);
}

/* Move a reply's body out (it stays NUL-terminated), then free the rest. */
static void take_body(struct http_response *r, char **data, size_t *len)
{
	*data = (char *)r->body;
	*len = r->len;
	r->body = NULL;
	http_response_free(r);
}

static int unexpected(const char *host, const char *what, const struct http_response *r, struct cerr *err)
{
	return cerr_set(err, COMPAT_EPROTO, "%s: %s: unexpected HTTP status %d", host, what, r->status);
}

/* ---- push ---- */

static int push_blob(struct reg *g, const char *digest, const void *data, size_t len, struct cerr *err)
{
	char url[1024];
	struct http_response r;
	snprintf(url, sizeof url, "/v2/%s/blobs/%s", g->repo, digest);
	int rc = reg_request(g, "HEAD", url, NULL, NULL, 0, 0, &r, err);
	if (rc < 0)
		return rc;
	int exists = r.status == 200;
	http_response_free(&r);
	if (exists)
		return 0;
	snprintf(url, sizeof url, "/v2/%s/blobs/uploads/", g->repo);
	if ((rc = reg_request(g, "POST", url, NULL, NULL, 0, 64 << 10, &r, err)) < 0)
		return rc;
	const char *loc = http_header(&r, "Location");
	if (r.status != 202 || !loc) {
		rc = unexpected(g->t.host, "starting an upload", &r, err);
		http_response_free(&r);
		return rc;
	}
	char put[4200];
	snprintf(put, sizeof put, "%s%sdigest=%s", loc, strchr(loc, '?') ? "&" : "?", digest);
	http_response_free(&r);
	static const char *const hdrs[] = { "Content-Type: application/octet-stream", NULL };
	if ((rc = reg_request(g, "PUT", put, hdrs, data, len, 64 << 10, &r, err)) < 0)
		return rc;
	if (r.status != 201)
		rc = unexpected(g->t.host, "uploading a blob", &r, err);
	http_response_free(&r);
	return rc;
}

struct descriptor {
	char media_type[128];
	char digest[OCI_DIGEST_SIZE];
	size_t size;
};

/* The subject image's manifest descriptor (HEAD, then GET if needed). */
static int subject_descriptor(struct reg *g, const struct oci_ref *ref, struct descriptor *d, struct cerr *err)
{
	static const char *const hdrs[] = {
		"Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
		"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
		NULL };
	char url[1024];
	struct http_response r;
	snprintf(url, sizeof url, "/v2/%s/manifests/%s", ref->repo, ref->digest[0] ? ref->digest : ref->tag);
	int rc = reg_request(g, "GET", url, hdrs, NULL, 0, OCI_MAX_MANIFEST, &r, err);
	if (rc < 0)
		return rc;
	if (r.status != 200) {
		rc = cerr_set(err, COMPAT_ENOTFOUND, "subject %s/%s: HTTP %d", ref->registry, ref->repo, r.status);
		http_response_free(&r);
		return rc;
	}
	const char *ct = http_header(&r, "Content-Type");
	snprintf(d->media_type, sizeof d->media_type, "%s", ct ? ct : OCI_MANIFEST_TYPE);
	oci_digest(r.body, r.len, d->digest);
	d->size = r.len;
	if (ref->digest[0] && strcmp(ref->digest, d->digest) != 0)
		rc = cerr_set(err, COMPAT_EDIGEST, "subject manifest digest mismatch: %s", d->digest);
	http_response_free(&r);
	return rc;
}

/* Registries without the referrers API: the index tagged sha256-<hex>
 * of the subject lists the artifacts attached to it. */
static int update_fallback_index(struct reg *g, const struct descriptor *subject, const char *digest,
				 size_t size, const char *created, struct cerr *err)
{
	char url[1024];
	static const char *const get_hdrs[] = { "Accept: application/vnd.oci.image.index.v1+json", NULL };
	static const char *const put_hdrs[] = { "Content-Type: application/vnd.oci.image.index.v1+json", NULL };
	struct http_response r;
	snprintf(url, sizeof url, "/v2/%s/manifests/sha256-%s", g->repo, subject->digest + 7);
	int rc = reg_request(g, "GET", url, get_hdrs, NULL, 0, OCI_MAX_MANIFEST, &r, err);
	if (rc < 0)
		return rc;
	json_t *idx = r.status == 200 ? json_loadb((const char *)r.body, r.len, 0, NULL) : NULL;
	http_response_free(&r);
	if (!json_is_object(idx) || !json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
				"application/vnd.oci.image.index.v1+json", "manifests");
	}
	json_t *ms = json_object_get(idx, "manifests"), *m;
	size_t i;
	json_array_foreach(ms, i, m)
		if (json_is_string(json_object_get(m, "digest")) &&
		    strcmp(json_string_value(json_object_get(m, "digest")), digest) == 0)
			break;
	if (i == json_array_size(ms)) {
		json_t *d = json_pack("{s:s, s:s, s:I, s:s}", "mediaType", OCI_MANIFEST_TYPE, "digest", digest, "size",
				      (json_int_t)size, "artifactType", OCI_ARTIFACT_TYPE);
		/* As a referrers API answer would: the manifest's annotations. */
		if (d && created)
			json_object_set_new(d, "annotations", json_pack("{s:s}", OCI_CREATED_ANNOTATION, created));
		json_array_append_new(ms, d);
	}
	char *text = json_dumps(idx, JSON_COMPACT);
	json_decref(idx);
	if (!text)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	rc = reg_request(g, "PUT", url, put_hdrs, text, strlen(text), 64 << 10, &r, err);
	free(text);
	if (rc == 0) {
		if (r.status != 201)
			rc = unexpected(g->t.host, "putting the referrers fallback index", &r, err);
		http_response_free(&r);
	}
	return rc;
}

/* "2026-11-30T06:14:00Z" for a Unix time (days to a civil date after
 * H. Hinnant's algorithm): gmtime/strftime would pull glibc's time-zone
 * and locale code into the static binary for one UTC string. */
static void rfc3339_utc(int64_t t, char out[80])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), sec = t - days * 86400;
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m, (int)d, (int)(sec / 3600),
		 (int)(sec / 60 % 60), (int)(sec % 60));
}

/* The manifest, deterministic: the same artifact gives the same digest
 * (an attached one also carries its creation time, so that the newest of
 * several attached to an image can be told). */
static char *make_manifest(const char *layer_digest, size_t layer_size, const struct descriptor *subject,
			   const char *created)
{
	json_t *m = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:i, s:s}, s:[{s:s, s:s, s:I, s:{s:s}}]}",
			      "schemaVersion", 2, "mediaType", OCI_MANIFEST_TYPE, "artifactType",
			      OCI_ARTIFACT_TYPE, "config", "mediaType", EMPTY_TYPE, "digest", EMPTY_DIGEST,
			      "size", 2, "data", "e30=", "layers", "mediaType", OCI_LAYER_TYPE, "digest",
			      layer_digest, "size", (json_int_t)layer_size, "annotations",
			      "org.opencontainers.image.title", "compat.json");
	if (m && subject)
		json_object_set_new(m, "subject", json_pack("{s:s, s:s, s:I}", "mediaType", subject->media_type,
							     "digest", subject->digest, "size",
							     (json_int_t)subject->size));
	if (m && created)
		json_object_set_new(m, "annotations", json_pack("{s:s}", OCI_CREATED_ANNOTATION, created));
	char *s = m ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	return s;
}

int oci_push_artifact(const char *refs, const char *json, size_t len, const struct oci_opts *o,
		      char digest[OCI_DIGEST_SIZE], struct cerr *err)
{
	struct oci_ref ref;
	struct reg g;
	char layer[OCI_DIGEST_SIZE], cache[4096], url[1024];
	int rc = oci_ref_parse(refs, &ref, err);
	if (rc < 0)
		return rc;
	if (len > OCI_MAX_BLOB)
		return cerr_set(err, COMPAT_ELIMIT, "artifact larger than %u bytes", OCI_MAX_BLOB);
	reg_init(&g, &ref, o);
	struct descriptor subject;
	if (o->subject) {
		struct oci_ref sref;
		struct reg sg;
		if ((rc = oci_ref_parse(o->subject, &sref, err)) < 0)
			return rc;
		if (strcmp(sref.registry, ref.registry) != 0 || strcmp(sref.repo, ref.repo) != 0)
			return cerr_set(err, COMPAT_EINVAL, "--subject must be in the same repository as %s", refs);
		reg_init(&sg, &sref, o);
		if ((rc = subject_descriptor(&sg, &sref, &subject, err)) < 0)
			return rc;
	}
	char created[80] = "";
	if (o->subject) {
		const char *sde = getenv("SOURCE_DATE_EPOCH");
		rfc3339_utc(sde && *sde ? (int64_t)strtoll(sde, NULL, 10) : (int64_t)time(NULL), created);
	}
	oci_digest(json, len, layer);
	if ((rc = push_blob(&g, EMPTY_DIGEST, "{}", 2, err)) < 0 || (rc = push_blob(&g, layer, json, len, err)) < 0)
		return rc;
	char *man = make_manifest(layer, len, o->subject ? &subject : NULL, o->subject ? created : NULL);
	if (!man)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	size_t mlen = strlen(man);
	oci_digest(man, mlen, digest);
	if (ref.digest[0] && strcmp(ref.digest, digest) != 0) {
		free(man);
		return cerr_set(err, COMPAT_EDIGEST, "%s: the manifest's digest is %s", refs, digest);
	}
	/* Attaching without a tag written: by digest, so no tag moves. */
	int by_digest = ref.digest[0] || (o->subject && !ref.tag_given);
	snprintf(url, sizeof url, "/v2/%s/manifests/%s", ref.repo, by_digest ? digest : ref.tag);
	static const char *const hdrs[] = { "Content-Type: " OCI_MANIFEST_TYPE, NULL };
	struct http_response r;
	if ((rc = reg_request(&g, "PUT", url, hdrs, man, mlen, 64 << 10, &r, err)) == 0) {
		int referrers_api = http_header(&r, "OCI-Subject") != NULL;
		if (r.status != 201)
			rc = unexpected(ref.registry, "putting the manifest", &r, err);
		http_response_free(&r);
		if (rc == 0 && o->subject && !referrers_api)
			rc = update_fallback_index(&g, &subject, digest, mlen, created, err);
	}
	/* What we pushed is known good: keep it in the cache too. */
	if (rc == 0 && ocicache_dir(o->cache_dir, cache, sizeof cache, NULL) == 0 &&
	    ocicache_put_blob(cache, layer, json, len, NULL) == 0 &&
	    ocicache_put_blob(cache, EMPTY_DIGEST, "{}", 2, NULL) == 0 &&
	    ocicache_put_blob(cache, digest, man, mlen, NULL) == 0 &&
	    !by_digest)	/* a digest needs no index entry: the blob is found by it */
		ocicache_tag(cache, refs, ref.tag, digest, mlen, NULL);
	free(man);
	return rc;
}

/* ---- pull ---- */

int oci_manifest_layer(const char *manifest, size_t len, char digest[OCI_DIGEST_SIZE], size_t *size, struct cerr *err)
{
	json_error_t je;
	json_t *m = json_loadb(manifest, len, JSON_REJECT_DUPLICATES, &je);
	int rc = 0;
	json_t *layers = json_object_get(m, "layers"), *l, *pick = NULL;
	size_t i;
	if (!json_is_object(m) || !json_is_array(layers) || !json_array_size(layers)) {
		rc = cerr_set(err, COMPAT_EINVAL, "manifest without layers");
		goto out;
	}
	json_array_foreach(layers, i, l) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		if (!pick || (mt && strcmp(mt, OCI_LAYER_TYPE) == 0))
			pick = l;
	}
	const char *d = json_string_value(json_object_get(pick, "digest"));
	json_t *sz = json_object_get(pick, "size");
	const char *title = json_string_value(json_object_get(json_object_get(pick, "annotations"),
							     "org.opencontainers.image.title"));
	if (!oci_digest_valid(d)) {
		rc = cerr_set(err, COMPAT_EINVAL, "manifest layer without a sha256 digest");
		goto out;
	}
	if (!json_is_integer(sz) || json_integer_value(sz) < 0 || json_integer_value(sz) > OCI_MAX_BLOB) {
		rc = cerr_set(err, COMPAT_EINVAL, "manifest layer size missing or over %u bytes", OCI_MAX_BLOB);
		goto out;
	}
	if (title && (title[0] == '/' || strstr(title, "..") || !*title)) {
		rc = cerr_set(err, COMPAT_EINVAL, "manifest layer title \"%.100s\" is not a plain file name", title);
		goto out;
	}
	memcpy(digest, d, OCI_DIGEST_SIZE);
	*size = (size_t)json_integer_value(sz);
out:
	json_decref(m);
	return rc;
}

/* GET a manifest (any kind named in accept) by tag or digest, and verify
 * its digest against the reference and the registry's own header. */
static int get_manifest(struct reg *g, const char *refs, const char *reference, const char *accept, char **man,
			size_t *mlen, char digest[OCI_DIGEST_SIZE], char media_type[128], struct cerr *err)
{
	char url[1024], hdr[600];
	const char *hdrs[2] = { hdr, NULL };
	struct http_response r;
	snprintf(hdr, sizeof hdr, "Accept: %s", accept);
	snprintf(url, sizeof url, "/v2/%s/manifests/%s", g->repo, reference);
	int rc = reg_request(g, "GET", url, hdrs, NULL, 0, OCI_MAX_MANIFEST, &r, err);
	if (rc < 0)
		return rc;
	if (r.status != 200) {
		rc = r.status == 404 ? cerr_set(err, COMPAT_ENOTFOUND, "%s: not found in the registry", refs)
				     : unexpected(g->t.host, "getting the manifest", &r, err);
		http_response_free(&r);
		return rc;
	}
	oci_digest(r.body, r.len, digest);
	const char *dcd = http_header(&r, "Docker-Content-Digest");
	int by_digest = strncmp(reference, "sha256:", 7) == 0;
	if ((by_digest && strcmp(reference, digest) != 0) || (dcd && strcmp(dcd, digest) != 0)) {
		rc = cerr_set(err, COMPAT_EDIGEST, "%s: manifest digest mismatch: content is %s, expected %s", refs,
			      digest, by_digest ? reference : dcd);
		http_response_free(&r);
		return rc;
	}
	const char *ct = http_header(&r, "Content-Type");
	snprintf(media_type, 128, "%s", ct ? ct : "");
	take_body(&r, man, mlen);
	return 0;
}

#define ACCEPT_ALL OCI_MANIFEST_TYPE ", " OCI_INDEX_TYPE ", " DOCKER_MANIFEST_TYPE ", " DOCKER_LIST_TYPE

int oci_manifest_kind(const char *manifest, size_t len, const char *reply_type, char *what, size_t cap)
{
	json_t *m = json_loadb(manifest, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	const char *at = json_string_value(json_object_get(m, "artifactType"));
	const char *ct = json_string_value(json_object_get(json_object_get(m, "config"), "mediaType"));
	int kind = OCI_KIND_OTHER;
	if (!mt)
		mt = reply_type ? reply_type : "";
	/* What compat pushes always has artifactType; oras's older form put
	 * the type in the config's media type. */
	if (!json_is_object(m))
		kind = COMPAT_EINVAL;
	else if ((at && strcmp(at, OCI_ARTIFACT_TYPE) == 0) || (ct && strcmp(ct, OCI_ARTIFACT_TYPE) == 0))
		kind = OCI_KIND_ARTIFACT;
	else if (json_is_array(json_object_get(m, "manifests")))
		kind = OCI_KIND_INDEX;
	else if (!at && ct && (strcmp(ct, OCI_IMAGE_CONFIG_TYPE) == 0 ||
			       strcmp(ct, "application/vnd.docker.container.image.v1+json") == 0))
		kind = OCI_KIND_IMAGE;
	else if (what)
		snprintf(what, cap, "%s", at ? at : ct ? ct : *mt ? mt : "unknown");
	json_decref(m);
	return kind;
}

/* The descriptors of a referrers list (API answer or fallback index):
 * the newest compat artifact, by created annotation, later on a tie. */
static int pick_newest(const char *body, size_t len, char out[OCI_DIGEST_SIZE])
{
	json_t *idx = json_loadb(body, len, 0, NULL), *ms = json_object_get(idx, "manifests"), *m;
	const char *best = NULL, *best_created = "";
	size_t i;
	json_array_foreach(ms, i, m) {
		const char *at = json_string_value(json_object_get(m, "artifactType"));
		const char *d = json_string_value(json_object_get(m, "digest"));
		const char *cr = json_string_value(json_object_get(json_object_get(m, "annotations"),
								  OCI_CREATED_ANNOTATION));
		/* (the digest's form is checked when it is pulled) */
		if (!at || strcmp(at, OCI_ARTIFACT_TYPE) != 0 || !oci_digest_valid(d))
			continue;
		if (!cr)
			cr = "";
		if (!best || strcmp(cr, best_created) >= 0) {
			best = d;
			best_created = cr;
		}
	}
	int found = best != NULL;
	if (found)
		memcpy(out, best, OCI_DIGEST_SIZE);
	json_decref(idx);
	return found;
}

static int find_referrer(struct reg *g, const char *subject, char out[OCI_DIGEST_SIZE], struct cerr *err)
{
	char url[1024];
	static const char *const hdrs[] = { "Accept: " OCI_INDEX_TYPE, NULL };
	struct http_response r;
	/* The artifactType filter is a hint the registry may ignore: the list
	 * is filtered here again. */
	snprintf(url, sizeof url, "/v2/%s/referrers/%s?artifactType=application%%2Fvnd.llnl.compatlib.v1", g->repo,
		 subject);
	int rc = reg_request(g, "GET", url, hdrs, NULL, 0, OCI_MAX_MANIFEST, &r, err);
	if (rc < 0)
		return rc;
	int api = r.status == 200;
	int found = api && pick_newest((const char *)r.body, r.len, out);
	http_response_free(&r);
	if (found)
		return 0;
	if (!api) {
		/* No referrers API: the tag schema (distribution-spec 1.1). */
		snprintf(url, sizeof url, "/v2/%s/manifests/sha256-%s", g->repo, subject + 7);
		if ((rc = reg_request(g, "GET", url, hdrs, NULL, 0, OCI_MAX_MANIFEST, &r, err)) < 0)
			return rc;
		found = r.status == 200 && pick_newest((const char *)r.body, r.len, out);
		http_response_free(&r);
		if (found)
			return 0;
	}
	return cerr_set(err, COMPAT_ENOTFOUND, "%s: no compat artifact is attached", subject);
}

static int pull_artifact(const char *refs, const struct oci_opts *o, int follow, char **json, size_t *len,
			 struct cerr *err);

int oci_pull_artifact(const char *refs, const struct oci_opts *o, char **json, size_t *len,
		      struct cerr *err)
{
	return pull_artifact(refs, o, 1, json, len, err);
}

static int pull_artifact(const char *refs, const struct oci_opts *o, int follow, char **json, size_t *len,
			 struct cerr *err)
{
	struct oci_ref ref;
	struct reg g;
	char cache[4096], mdigest[OCI_DIGEST_SIZE], ldigest[OCI_DIGEST_SIZE], got[OCI_DIGEST_SIZE], url[1024], mtype[128] = "";
	char *man = NULL, *blob = NULL;
	size_t mlen = 0, lsize = 0, blen = 0;
	int rc = oci_ref_parse(refs, &ref, err), from_cache = 0;
	if (rc < 0)
		return rc;
	if ((rc = ocicache_dir(o->cache_dir, cache, sizeof cache, err)) < 0)
		return rc;
	reg_init(&g, &ref, o);
	/* By digest, a verified cached manifest is as good as the registry's. */
	if (ref.digest[0] && ocicache_get_blob(cache, ref.digest, OCI_MAX_MANIFEST, &man, &mlen, NULL) == 0) {
		from_cache = 1;
		memcpy(mdigest, ref.digest, OCI_DIGEST_SIZE);
	} else if ((rc = get_manifest(&g, refs, ref.digest[0] ? ref.digest : ref.tag, ACCEPT_ALL, &man, &mlen,
				      mdigest, mtype, err)) < 0) {
		return rc;
	}
	char what[128] = "";
	int kind = oci_manifest_kind(man, mlen, mtype, what, sizeof what);
	if (kind == OCI_KIND_IMAGE || kind == OCI_KIND_INDEX) {
		/* An image: the compat artifact attached to it, if any. */
		char adigest[OCI_DIGEST_SIZE], aref[600];
		free(man);
		if (!follow)
			return cerr_set(err, COMPAT_EINVAL, "%s: an image, not a compat artifact", refs);
		rc = find_referrer(&g, mdigest, adigest, err);
		if (rc == COMPAT_ENOTFOUND)
			return cerr_set(err, COMPAT_ENOTFOUND, "%s: an image%s; no compat artifact is attached", refs,
					kind == OCI_KIND_INDEX ? " index" : "");
		if (rc < 0)
			return rc;
		snprintf(aref, sizeof aref, "%s/%s@%s", ref.registry, ref.repo, adigest);
		return pull_artifact(aref, o, 0, json, len, err);
	}
	if (kind == OCI_KIND_OTHER) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: an artifact of type %s, not a compat artifact", refs, what);
		goto out;
	}
	if (kind < 0) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: the manifest is not JSON", refs);
		goto out;
	}
	if ((rc = oci_manifest_layer(man, mlen, ldigest, &lsize, err)) < 0)
		goto out;
	if (ocicache_get_blob(cache, ldigest, OCI_MAX_BLOB, &blob, &blen, NULL) != 0) {
		struct http_response r;
		snprintf(url, sizeof url, "/v2/%s/blobs/%s", ref.repo, ldigest);
		if ((rc = reg_request(&g, "GET", url, NULL, NULL, 0, OCI_MAX_BLOB, &r, err)) < 0)
			goto out;
		if (r.status != 200) {
			rc = unexpected(ref.registry, "getting the artifact blob", &r, err);
			http_response_free(&r);
			goto out;
		}
		take_body(&r, &blob, &blen);
		oci_digest(blob ? blob : "", blen, got);
		if (blen != lsize || strcmp(got, ldigest) != 0) {
			rc = cerr_set(err, COMPAT_EDIGEST, "%s: artifact blob digest mismatch: content is %s (%zu bytes), "
				      "manifest says %s (%zu bytes)", refs, got, blen, ldigest, lsize);
			goto out;
		}
		if (!blob && !(blob = strdup(""))) {
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
			goto out;
		}
	}
	/* Everything verified: now the cache may hold it. A failure to cache
	 * does not fail the pull. */
	if (ocicache_put_blob(cache, ldigest, blob, blen, NULL) == 0 &&
	    ocicache_put_blob(cache, EMPTY_DIGEST, "{}", 2, NULL) == 0 &&
	    (from_cache || ocicache_put_blob(cache, mdigest, man, mlen, NULL) == 0))
		ocicache_tag(cache, refs, ref.tag[0] ? ref.tag : NULL, mdigest, mlen, NULL);
	*json = blob;
	*len = blen;
	blob = NULL;
out:
	free(blob);
	free(man);
	return rc;
}

/* ---- reading images ---- */

struct oci_client {
	struct reg g;
	struct oci_ref ref;
	char name[600];		/* registry/repo, for messages */
};

int oci_client_new(const char *refs, const struct oci_opts *o, struct oci_ref *ref, struct oci_client **out,
		   struct cerr *err)
{
	struct oci_client *c = calloc(1, sizeof *c);
	if (!c)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	int rc = oci_ref_parse(refs, &c->ref, err);
	if (rc < 0) {
		free(c);
		return rc;
	}
	reg_init(&c->g, &c->ref, o);
	c->g.t.host = c->ref.registry;	/* reg_init points into c->ref: stays valid */
	snprintf(c->name, sizeof c->name, "%s/%s", c->ref.registry, c->ref.repo);
	if (ref)
		*ref = c->ref;
	*out = c;
	return 0;
}

void oci_client_free(struct oci_client *c)
{
	free(c);
}

int oci_client_manifest(struct oci_client *c, const char *reference, char **body, size_t *len,
			char digest[OCI_DIGEST_SIZE], char media_type[128], struct cerr *err)
{
	char refs[800], reply[128] = "";
	snprintf(refs, sizeof refs, "%s%s%s", c->name, strncmp(reference, "sha256:", 7) == 0 ? "@" : ":", reference);
	int rc = get_manifest(&c->g, refs, reference, ACCEPT_ALL, body, len, digest, reply, err);
	if (rc < 0)
		return rc;
	json_t *m = json_loadb(*body, *len, 0, NULL);
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	snprintf(media_type, 128, "%s", mt ? mt : reply);
	json_decref(m);
	return 0;
}

static int get_blob(struct oci_client *c, const char *digest, size_t max, struct http_response *r,
		    struct cerr *err)
{
	char url[1024];
	if (!oci_digest_valid(digest))
		return cerr_set(err, COMPAT_EINVAL, "%.80s: not a sha256 digest", digest);
	snprintf(url, sizeof url, "/v2/%s/blobs/%s", c->g.repo, digest);
	int rc = reg_request(&c->g, "GET", url, NULL, NULL, 0, max, r, err);
	if (rc < 0)
		return rc;
	if (r->status != 200) {
		rc = r->status == 404 ? cerr_set(err, COMPAT_ENOTFOUND, "%s: blob %s not found", c->name, digest)
				      : unexpected(c->g.t.host, "getting a blob", r, err);
		http_response_free(r);
	}
	return rc;
}

int oci_client_blob(struct oci_client *c, const char *digest, size_t max, char **data, size_t *len,
		    struct cerr *err)
{
	struct http_response r;
	char got[OCI_DIGEST_SIZE];
	int rc = get_blob(c, digest, max, &r, err);
	if (rc < 0)
		return rc;
	oci_digest(r.body ? (const void *)r.body : "", r.len, got);
	if (strcmp(got, digest) != 0) {
		http_response_free(&r);
		return cerr_set(err, COMPAT_EDIGEST, "%s: blob %s: digest mismatch (content is %s)", c->name, digest, got);
	}
	take_body(&r, data, len);
	if (!*data && !(*data = strdup("")))
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	return 0;
}

int oci_client_blob_stream(struct oci_client *c, const char *digest, uint64_t size,
			   const struct http_sink *sink, struct cerr *err)
{
	struct http_response r;
	int saved = c->g.t.timeout_ms;
	/* A layer may take long: its own deadline, of at least ten minutes. */
	if (c->g.t.timeout_ms < 600000)
		c->g.t.timeout_ms = 600000;
	c->g.sink = sink;
	int rc = get_blob(c, digest, size > SIZE_MAX ? SIZE_MAX : (size_t)size, &r, err);
	c->g.sink = NULL;
	c->g.t.timeout_ms = saved;
	if (rc < 0)
		return rc;
	if (r.len != size)
		rc = cerr_set(err, COMPAT_EDIGEST, "%s: blob %s: %zu bytes, the manifest says %llu", c->name, digest,
			      r.len, (unsigned long long)size);
	http_response_free(&r);
	return rc;
}

int oci_client_referrer(struct oci_client *c, const char *subject_digest, char out[OCI_DIGEST_SIZE], struct cerr *err)
{
	return find_referrer(&c->g, subject_digest, out, err);
}
