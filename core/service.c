#include <elf.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "artifact.h"
#include "compat.pb.h"
#include "elf.h"
#include "grpc.h"
#include "health.pb.h"
#include "jsonw.h"
#include "memo.h"
#include "oci.h"
#include "pathlist.h"
#include "pbstr.h"
#include "reflection.h"
#include "service.h"
#include "verdict.h"

#define PATH_CHECK "/" SERVICE_NAME "/CheckCompatibility"
#define PATH_LOCATE "/" SERVICE_NAME "/LocateLibraries"
#define PATH_HEALTH "/grpc.health.v1.Health/Check"

/* Directories an artifact's rpath or runpath list may name. */
#define MAX_SEARCH_DIRS 64

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int service_has_method(const char *path)
{
	return strcmp(path, PATH_CHECK) == 0 || strcmp(path, PATH_LOCATE) == 0 ||
	       strcmp(path, PATH_HEALTH) == 0 || reflection_is_method(path);
}

int service_is_streaming(const char *path)
{
	return reflection_is_method(path);
}

static void fail(struct service_reply *r, int status, const char *msg)
{
	r->status = status;
	snprintf(r->message, sizeof r->message, "%.255s", msg);
}

/* Encode a message into a malloc'd buffer, within the reply limit. */
static void encode(const struct service *s, const pb_msgdesc_t *fields, const void *msg, struct service_reply *r)
{
	size_t size;
	if (!pb_get_encoded_size(&size, fields, msg))
		return fail(r, GRPC_INTERNAL, "cannot encode the response");
	if (s->max_reply && size > s->max_reply) {
		char m[160];
		snprintf(m, sizeof m, "the reply would be %zu bytes, over this server's limit of %zu "
			 "(compat serve --max-reply)", size, s->max_reply);
		return fail(r, GRPC_RESOURCE_EXHAUSTED, m);
	}
	r->body = malloc(size ? size : 1);
	if (!r->body)
		return fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	pb_ostream_t os = pb_ostream_from_buffer(r->body, size);
	if (!pb_encode(&os, fields, msg)) {
		free(r->body);
		r->body = NULL;
		return fail(r, GRPC_INTERNAL, "cannot encode the response");
	}
	r->len = os.bytes_written;
}

/* ---- CheckCompatibility ---- */

static void copy_trunc(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

/* The Response is written here, field by field, as nanopb would encode it
 * (tests/unit/test_service.c decodes and re-encodes it with nanopb to
 * check): 1 payload, 2 compatible (when true), 3 status (when not 0),
 * 4 findings, each Finding with its strings cut to the sizes
 * compat.options gives them (kind 31, soname 255, detail 1023 bytes) and
 * left out when empty, and warning when true. No tree, no allocation per
 * finding: the report is written by jsonw behind room for the payload's
 * tag and length, and the rest appended to the same buffer. */
#define PB_HEAD 6	/* a tag and a length of up to 5 bytes */

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	for (; v >= 0x80; v >>= 7)
		*p++ = (uint8_t)(v | 0x80);
	*p++ = (uint8_t)v;
	return p;
}

static size_t cut(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n < max ? n : max;
}

static size_t string_field_size(size_t n)
{
	return n ? 1 + varint_size(n) + n : 0;
}

static uint8_t *put_string_field(uint8_t *p, uint8_t tag, const char *s, size_t n)
{
	if (!n)
		return p;
	*p++ = tag;
	p = put_varint(p, n);
	memcpy(p, s, n);
	return p + n;
}

static size_t finding_size(const struct finding *f)
{
	return string_field_size(cut(f->kind, 31)) + string_field_size(cut(f->soname, 255)) +
	       string_field_size(cut(f->detail, 1023)) + (f->warning ? 2 : 0);
}

/* Finish the Response whose payload w holds (jsonw_init(w, PB_HEAD), the
 * report written, not finished): r->body is w's buffer. v: its findings
 * (NULL: none). Frees w's buffer on failure. */
static void send_response(const struct service *s, struct jsonw *w, int compatible, int status,
			  const struct verdict *v, struct service_reply *r)
{
	int rc = jsonw_finish(w);
	if (rc < 0)
		return fail(r, rc == COMPAT_ENOMEM ? GRPC_RESOURCE_EXHAUSTED : GRPC_INTERNAL,
			    rc == COMPAT_ENOMEM ? "out of memory" : "cannot encode the report (not UTF-8)");
	size_t jl = w->len - PB_HEAD, head = 1 + varint_size(jl), size = head + jl;
	size += compatible ? 2 : 0;
	size += status ? 1 + varint_size((uint64_t)status) : 0;
	for (size_t i = 0; v && i < v->nfindings; i++) {
		size_t fs = finding_size(&v->findings[i]);
		size += 1 + varint_size(fs) + fs;
	}
	if (s->max_reply && size > s->max_reply) {
		char m[160];
		jsonw_free(w);
		snprintf(m, sizeof m, "the reply would be %zu bytes, over this server's limit of %zu "
			 "(compat serve --max-reply)", size, s->max_reply);
		return fail(r, GRPC_RESOURCE_EXHAUSTED, m);
	}
	uint8_t *b = (uint8_t *)w->p;
	if (size > w->cap && !(b = realloc(w->p, size))) {
		jsonw_free(w);
		return fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	memmove(b + head, b + PB_HEAD, jl);
	b[0] = 0x0a;
	put_varint(b + 1, jl);
	uint8_t *p = b + head + jl;
	if (compatible) {
		*p++ = 0x10;
		*p++ = 1;
	}
	if (status) {
		*p++ = 0x18;
		p = put_varint(p, (uint64_t)status);
	}
	for (size_t i = 0; v && i < v->nfindings; i++) {
		const struct finding *f = &v->findings[i];
		*p++ = 0x22;
		p = put_varint(p, finding_size(f));
		p = put_string_field(p, 0x0a, f->kind, cut(f->kind, 31));
		p = put_string_field(p, 0x12, f->soname, cut(f->soname, 255));
		p = put_string_field(p, 0x1a, f->detail, cut(f->detail, 1023));
		if (f->warning) {
			*p++ = 0x20;
			*p++ = 1;
		}
	}
	r->body = b;
	r->len = (size_t)(p - b);
	w->p = NULL;
}

#define RESULT_SUCCESS convergedcomputing_org_grpc_v1_Response_ResultType_SUCCESS
#define RESULT_ERROR convergedcomputing_org_grpc_v1_Response_ResultType_ERROR
#define RESULT_DENIED convergedcomputing_org_grpc_v1_Response_ResultType_DENIED

/* A Response with status ERROR or DENIED and {"error": msg}. */
static void refuse(const struct service *s, int status, const char *msg, struct service_reply *r)
{
	struct jsonw w;
	jsonw_init(&w, PB_HEAD);
	jsonw_object_begin(&w);
	jsonw_key(&w, "error");
	jsonw_string(&w, msg);
	jsonw_object_end(&w);
	r->verdict = status == RESULT_DENIED ? SERVICE_DENIED : SERVICE_ERROR;
	send_response(s, &w, 0, status, NULL, r);
}

/* An error of ours as the client should see it: a bound is a gRPC
 * RESOURCE_EXHAUSTED; a refusal by policy DENIED; the rest a Response
 * with status ERROR. */
static void answer_error(const struct service *s, int rc, const char *msg, struct service_reply *r)
{
	if (rc == COMPAT_ELIMIT)
		fail(r, GRPC_RESOURCE_EXHAUSTED, msg);
	else if (rc == COMPAT_ENOMEM)
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	else
		refuse(s, rc == COMPAT_EPERM ? RESULT_DENIED : RESULT_ERROR, msg, r);
}

/* A request being answered: what it named, and what was found for it. */
/* One of an artifact's directory lists, split, and its index once read. */
struct service_dirs {
	int has;			/* the artifact has this list */
	struct pathlist dirs;
	struct host_index *idx;		/* built off the loop (SERVICE_SCAN) */
};

/* Split a ':'-list of the artifact into d (empty entries dropped, as
 * ld.so does), at most MAX_SEARCH_DIRS of them. 0, COMPAT_ELIMIT,
 * COMPAT_ENOMEM. */
static int split_dirs(const char *list, struct service_dirs *d, struct cerr *err)
{
	if (!list || !*list)
		return 0;
	d->has = 1;
	if (pathlist_split(list, ":", 0, &d->dirs) < 0)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	if (d->dirs.n > MAX_SEARCH_DIRS)
		return cerr_set(err, COMPAT_ELIMIT, "the artifact's rpath or runpath names %zu directories; at most %d",
				d->dirs.n, MAX_SEARCH_DIRS);
	return 0;
}

struct service_work {
	int stage;
	struct pbstr_list dirs;		/* library_path */
	struct pbstr payload;		/* the artifact's JSON (sent, or fetched) */
	/* SERVICE_FETCH */
	char *ref;			/* REGISTRY/REPO[:TAG|@DIGEST], malloc'd */
	int plain_http;
	struct oci_opts oo;
	int rc;
	struct cerr err;
	/* SERVICE_SCAN */
	struct artifact a;
	int have_artifact;
	struct service_dirs lists[2];	/* the artifact's rpath, runpath */
	struct dirscan_limits lim;
	struct host_index *extra_idx;
	/* The memo's key: library_path (its count, then each entry and a
	 * NUL), then the payload, kept until the answer is memoised. */
	uint8_t *key;
	size_t keylen;
	int keep_payload;
	/* The allow-lists the worker reads: copies of the pointer arrays, so
	 * that a worker the server stopped waiting for never reads freed
	 * memory (the strings are the command line's). */
	const char **allow_copy;
};

void service_work_free(struct service_work *w)
{
	if (!w)
		return;
	pbstr_list_free(&w->dirs);
	free(w->payload.p);
	if (w->have_artifact)
		artifact_free(&w->a);
	for (int i = 0; i < 2; i++) {
		pathlist_free(&w->lists[i].dirs);
		index_free(w->lists[i].idx);
	}
	free(w->ref);
	free(w->key);
	free(w->allow_copy);
	index_free(w->extra_idx);
	free(w);
}

/* The first part of w's memo key (library_path), made once. 0 or
 * COMPAT_ENOMEM. */
static int memo_key(struct service_work *w)
{
	if (w->key)
		return 0;
	size_t n = 1;
	for (size_t i = 0; i < w->dirs.n; i++)
		n += strlen(w->dirs.v[i]) + 1;
	if (!(w->key = malloc(n)))
		return COMPAT_ENOMEM;
	uint8_t *p = w->key;
	*p++ = (uint8_t)w->dirs.n;	/* at most PBSTR_LIST_MAX */
	for (size_t i = 0; i < w->dirs.n; i++) {
		size_t l = strlen(w->dirs.v[i]) + 1;
		memcpy(p, w->dirs.v[i], l);
		p += l;
	}
	w->keylen = n;
	return 0;
}

/* Judge against the host index and the request's directories; keep the
 * answer in the memo until `until` (ms; NO_MEMO: not at all). */
#define NO_MEMO INT64_MIN
static void judge(struct service *s, struct service_work *w, const struct host_index *extra,
		  const struct host_index *const lists[2], int64_t until, struct service_reply *r)
{
	struct verdict v;
	struct cerr err;
	struct verdict_opts vo = { .extra_index = extra, .rpath_index = lists[0], .runpath_index = lists[1] };
	int rc = verdict_check(s->idx, &w->a, &vo, &v, &err);
	if (rc < 0)
		return answer_error(s, rc, err.msg, r);
	r->verdict = v.compatible ? SERVICE_COMPATIBLE : SERVICE_INCOMPATIBLE;
	struct jsonw jw;
	jsonw_init(&jw, PB_HEAD);
	verdict_write_json(&v, &jw);
	send_response(s, &jw, v.compatible, RESULT_SUCCESS, &v, r);
	verdict_free(&v);
	if (r->body && until != NO_MEMO && s->memo && w->key && w->payload.p)
		memo_put(s->memo, w->key, w->keylen, w->payload.p, w->payload.n, r->body, r->len, r->verdict, until);
}

/* An answer memoised for the same request (library_path and payload) on
 * the same index: 1 answered, 0 not kept. */
static int from_memo(struct service *s, struct service_work *w, struct service_reply *r)
{
	size_t len;
	int note;
	if (!s->memo || !w->payload.p || memo_key(w) < 0)
		return 0;
	const uint8_t *a = memo_get(s->memo, w->key, w->keylen, w->payload.p, w->payload.n, MEMO_NOW, &len, &note);
	if (!a)
		return 0;
	if (!(r->body = malloc(len ? len : 1))) {
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return 1;
	}
	memcpy(r->body, a, len);
	r->len = len;
	r->verdict = note;
	return 1;
}

/* A copy of an allow-list's pointers (n == 0: NULL, nothing allowed-listed). */
static int copy_list(const char *const *v, size_t n, const char ***out)
{
	*out = NULL;
	if (!n)
		return 0;
	if (!(*out = malloc(n * sizeof **out)))
		return COMPAT_ENOMEM;
	memcpy(*out, v, n * sizeof *v);
	return 0;
}

static int count_words(const char *s)
{
	int n = 0;
	for (int in = 0; s && *s; s++) {
		if (*s != ' ' && !in)
			n++;
		in = *s != ' ';
	}
	return n;
}

/* The request's bounds that need no file: needs and symbols. */
static int within_bounds(const struct service *s, const struct artifact *a, struct cerr *err)
{
	size_t needs = 0, names = 0, symbols = 0, ns = sizeof ARTIFACT_NS - 1;
	for (size_t i = 0; i < a->nattrs; i++) {
		const char *k = a->attrs[i].key;
		if (strncmp(k, ARTIFACT_NS, ns) != 0)
			continue;
		k += ns;
		if (strncmp(k, "needed.", 7) == 0)
			needs++;
		else if (strncmp(k, "library-name.", 13) == 0)
			names++;
		else if (strncmp(k, "symbols.", 8) == 0)
			symbols += (size_t)count_words(a->attrs[i].value);
	}
	if (!needs)
		needs = names;	/* the prototype's form: every library-name is a need */
	if (s->max_needs && needs > s->max_needs)
		return cerr_set(err, COMPAT_ELIMIT, "the artifact names %zu host needs; this server judges at most %zu "
				"(compat serve --max-needs)", needs, s->max_needs);
	if (s->max_symbols && symbols > s->max_symbols)
		return cerr_set(err, COMPAT_ELIMIT, "the artifact names %zu symbols; this server checks at most %zu "
				"(compat serve --max-symbols)", symbols, s->max_symbols);
	return 0;
}

/* How many times needle is in p[0..n), counted up to limit (a sanitizer's
 * memmem checks the whole rest of p on every call). */
static size_t occurrences(const char *p, size_t n, const char *needle, size_t limit)
{
	size_t k = 0, nl = strlen(needle);
	for (const char *q = p; k < limit && (q = memmem(q, n - (size_t)(q - p), needle, nl)) != NULL; q += nl)
		k++;
	return k;
}

/* Before parsing (a 4 MiB artifact of 100,000 keys takes a while): an
 * upper bound of its needs, from the key prefixes in the text. */
static int needs_bound(const struct service *s, const struct pbstr *payload, struct cerr *err)
{
	/* Each needed.* key takes at least 28 bytes ("llnl.compatlib.needed.X":""):
	 * a small payload cannot hold too many. */
	if (!s->max_needs || !payload->p || payload->n / 28 <= s->max_needs)
		return 0;
	size_t a = occurrences(payload->p, payload->n, "\"" ARTIFACT_NS "needed.", s->max_needs + 1);
	size_t b = occurrences(payload->p, payload->n, "\"" ARTIFACT_NS "library-name.", s->max_needs + 1);
	if (a > s->max_needs || b > s->max_needs)
		return cerr_set(err, COMPAT_ELIMIT, "the artifact names more than %zu host needs; this server judges "
				"at most %zu (compat serve --max-needs)", s->max_needs, s->max_needs);
	return 0;
}

/* The payload is here: parse it, and judge now when every directory it
 * names is indexed already; else ask for a scan. Takes w. */
static void prepare(struct service *s, struct service_work *w, struct service_reply *r)
{
	struct cerr err;
	int rc;
	if (from_memo(s, w, r))
		goto done;
	if ((rc = needs_bound(s, &w->payload, &err)) < 0) {
		answer_error(s, rc, err.msg, r);
		goto done;
	}
	if ((rc = artifact_parse(w->payload.p ? w->payload.p : "", w->payload.n, "payload", &w->a, &err)) < 0) {
		answer_error(s, rc == COMPAT_ELIMIT ? COMPAT_EINVAL : rc, err.msg, r);
		goto done;
	}
	w->have_artifact = 1;
	/* Parsed: the text is needed only as the memo's key, if it can be kept. */
	if (!w->key || w->keylen + w->payload.n > s->memo_bytes / 4) {
		free(w->payload.p);
		w->payload.p = NULL;
	}
	if ((rc = within_bounds(s, &w->a, &err)) < 0) {
		answer_error(s, rc, err.msg, r);
		goto done;
	}
	/* The artifact's own directories, as verdict.c reads them (a
	 * search-path of earlier versions of gen is a runpath). */
	const char *rp = artifact_get(&w->a, ARTIFACT_NS "rpath"), *ru = artifact_get(&w->a, ARTIFACT_NS "runpath");
	if (!rp && !ru)
		ru = artifact_get(&w->a, ARTIFACT_NS "search-path");
	const char *list_text[2] = { rp, ru };
	for (int l = 0; l < 2; l++) {
		if ((rc = split_dirs(list_text[l], &w->lists[l], &err)) < 0) {
			answer_error(s, rc, err.msg, r);
			goto done;
		}
	}
	/* Refused by policy before anything is read. */
	for (size_t i = 0; i < w->dirs.n; i++)
		if ((rc = dirscan_allowed(w->dirs.v[i], &s->scan, &err)) < 0) {
			answer_error(s, rc, err.msg, r);
			goto done;
		}
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < w->lists[l].dirs.n; i++)
			if ((rc = dirscan_allowed(w->lists[l].dirs.v[i], &s->scan, &err)) < 0) {
				answer_error(s, rc, err.msg, r);
				goto done;
			}
	int64_t now = now_ms(), until = INT64_MAX, t;
	struct host_index *extra = NULL;
	const struct host_index *found[2] = { NULL, NULL };
	int missing = 0;
	/* An answer that used request-named directories is kept no longer
	 * than the directory cache keeps them. */
	if (w->dirs.n) {
		extra = s->dirs ? dircache_lookup(s->dirs, (const char *const *)w->dirs.v, w->dirs.n, now, &t) : NULL;
		missing |= !extra;
		if (extra && t < until)
			until = t;
	}
	for (int l = 0; l < 2; l++) {
		if (!w->lists[l].has)
			continue;
		found[l] = s->dirs ? dircache_lookup(s->dirs, (const char *const *)w->lists[l].dirs.v, w->lists[l].dirs.n, now, &t) : NULL;
		missing |= !found[l];
		if (found[l] && t < until)
			until = t;
	}
	if (missing) {
		/* Reading the directories may block: off the loop. */
		w->stage = SERVICE_SCAN;
		w->lim = s->scan;
		free(w->allow_copy);
		if (copy_list(s->scan.allow, s->scan.nallow, &w->allow_copy) < 0) {
			fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			goto done;
		}
		w->lim.allow = w->allow_copy;
		r->work = w;
		r->stage = SERVICE_SCAN;
		return;
	}
	judge(s, w, extra, found, until, r);
done:
	service_work_free(w);
}

void service_work_run(struct service_work *w, const int *cancelled)
{
	if (w->stage == SERVICE_FETCH) {
		free(w->payload.p);
		w->payload.p = NULL;
		w->oo.cancelled = cancelled;	/* a client that leaves ends its fetch */
		w->rc = oci_pull_artifact(w->ref, &w->oo, &w->payload.p, &w->payload.n, &w->err);
		return;
	}
	w->rc = 0;
	if (w->dirs.n)
		w->rc = dirscan_build((const char *const *)w->dirs.v, w->dirs.n, &w->lim, cancelled, &w->extra_idx,
				      &w->err);
	for (int l = 0; l < 2 && w->rc == 0; l++)
		if (w->lists[l].has)
			w->rc = dirscan_build((const char *const *)w->lists[l].dirs.v, w->lists[l].dirs.n, &w->lim, cancelled, &w->lists[l].idx,
					      &w->err);
}

void service_work_finish(struct service *s, struct service_work *w, struct service_reply *r)
{
	memset(r, 0, sizeof *r);
	if (w->stage == SERVICE_FETCH) {
		if (w->rc < 0) {
			answer_error(s, w->rc == COMPAT_EPERM && w->err.msg[0] ? COMPAT_EPERM : COMPAT_EINVAL,
				     w->err.msg, r);
			service_work_free(w);
			return;
		}
		return prepare(s, w, r);
	}
	if (w->rc < 0) {
		answer_error(s, w->rc, w->err.msg, r);
		service_work_free(w);
		return;
	}
	const struct host_index *lists[2] = { w->lists[0].idx, w->lists[1].idx };
	/* read just now: the directory cache keeps them for its ttl */
	judge(s, w, w->extra_idx, lists, s->dirs ? now_ms() + dircache_ttl(s->dirs) : NO_MEMO, r);
	/* Keep the indexes for the next request naming the same directories. */
	int64_t now = now_ms();
	if (s->dirs && w->extra_idx)
		dircache_put(s->dirs, (const char *const *)w->dirs.v, w->dirs.n, w->extra_idx, now);
	else
		index_free(w->extra_idx);
	w->extra_idx = NULL;
	for (int l = 0; l < 2; l++) {
		if (s->dirs && w->lists[l].idx)
			dircache_put(s->dirs, (const char *const *)w->lists[l].dirs.v, w->lists[l].dirs.n, w->lists[l].idx, now);
		else
			index_free(w->lists[l].idx);
		w->lists[l].idx = NULL;
	}
	service_work_free(w);
}

static void check(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	convergedcomputing_org_grpc_v1_CompatRequest req = convergedcomputing_org_grpc_v1_CompatRequest_init_zero;
	struct service_work *w = calloc(1, sizeof *w);
	if (!w)
		return fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	artifact_init(&w->a);
	req.payload.funcs.decode = pbstr_read;
	req.payload.arg = &w->payload;
	req.library_path.funcs.decode = pbstr_list_read;
	req.library_path.arg = &w->dirs;
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, convergedcomputing_org_grpc_v1_CompatRequest_fields, &req)) {
		char m[200];
		if (w->payload.nomem || w->dirs.nomem) {
			fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			service_work_free(w);
			return;
		}
		snprintf(m, sizeof m, "malformed CompatRequest: %s", PB_GET_ERROR(&is));
		fail(r, GRPC_INVALID_ARGUMENT, m);
		service_work_free(w);
		return;
	}
	if (!req.uri[0])
		return prepare(s, w, r);
	/* [http://|https://]REGISTRY/REPO[:TAG|@DIGEST] */
	const char *ref = req.uri;
	int plain = strncmp(ref, "http://", 7) == 0;
	if (plain)
		ref += 7;
	else if (strncmp(ref, "https://", 8) == 0)
		ref += 8;
	char host[256];
	snprintf(host, sizeof host, "%.*s", (int)strcspn(ref, "/"), ref);
	if (!oci_host_allowed(host, s->allow, s->nallow)) {
		char m[400];
		snprintf(m, sizeof m, "registry %s is not allowed (compat serve --allow-registry)", host);
		refuse(s, RESULT_DENIED, m, r);
		service_work_free(w);
		return;
	}
	/* The fetch blocks: hand it to the caller, who runs it off the loop. */
	w->stage = SERVICE_FETCH;
	w->plain_http = plain;
	if (!(w->ref = strdup(ref))) {
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		service_work_free(w);
		return;
	}
	if (copy_list(s->allow, s->nallow, &w->allow_copy) < 0) {
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		service_work_free(w);
		return;
	}
	w->oo = (struct oci_opts){ .timeout_ms = s->fetch_timeout_ms ? s->fetch_timeout_ms : 10000,
				   .plain_http = plain, .allow = w->allow_copy, .nallow = s->nallow };
	r->work = w;
	r->stage = SERVICE_FETCH;
}

/* ---- LocateLibraries ---- */

static void locate(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	convergedcomputing_org_grpc_v1_LocateRequest *req = calloc(1, sizeof *req);
	convergedcomputing_org_grpc_v1_LocateResponse *resp = calloc(1, sizeof *resp);
	if (!req || !resp) {
		fail(r, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		goto out;
	}
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, convergedcomputing_org_grpc_v1_LocateRequest_fields, req)) {
		char m[200];
		snprintf(m, sizeof m, "malformed LocateRequest: %s", PB_GET_ERROR(&is));
		fail(r, GRPC_INVALID_ARGUMENT, m);
		goto out;
	}
	int cls = req->elf_class[0] ? elf_class_from_name(req->elf_class) : ELFCLASS64;
	int mach = req->machine[0] ? elf_machine_from_name(req->machine) : EM_X86_64;
	if (cls < 0 || mach < 0) {
		fail(r, GRPC_INVALID_ARGUMENT, "unknown elf_class or machine");
		goto out;
	}
	for (pb_size_t i = 0; i < req->soname_count; i++) {
		const struct host_lib *l = index_lookup_soname(s->idx, req->soname[i], cls, mach);
		convergedcomputing_org_grpc_v1_Location *loc = &resp->locations[resp->locations_count++];
		copy_trunc(loc->soname, sizeof loc->soname, req->soname[i]);
		copy_trunc(loc->path, sizeof loc->path, l ? l->path : "");
	}
	encode(s, convergedcomputing_org_grpc_v1_LocateResponse_fields, resp, r);
out:
	free(req);
	free(resp);
}

/* ---- grpc.health.v1.Health/Check ---- */

static void health(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	grpc_health_v1_HealthCheckRequest req = grpc_health_v1_HealthCheckRequest_init_zero;
	grpc_health_v1_HealthCheckResponse resp = grpc_health_v1_HealthCheckResponse_init_zero;
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, grpc_health_v1_HealthCheckRequest_fields, &req))
		return fail(r, GRPC_INVALID_ARGUMENT, "malformed HealthCheckRequest");
	if (req.service[0] && strcmp(req.service, SERVICE_NAME) != 0)
		return fail(r, GRPC_NOT_FOUND, "unknown service");
	resp.status = s->serving ? grpc_health_v1_HealthCheckResponse_ServingStatus_SERVING
				 : grpc_health_v1_HealthCheckResponse_ServingStatus_NOT_SERVING;
	encode(s, grpc_health_v1_HealthCheckResponse_fields, &resp, r);
}

/* ---- grpc.reflection.v1[alpha].ServerReflection/ServerReflectionInfo ---- */

static void reflect(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	size_t setlen;
	const uint8_t *set = reflection_descriptor_set(&setlen);
	struct cerr err;
	int rc = reflection_answer(set, setlen, msg, len, &r->body, &r->len, &err);
	if (rc < 0)
		return fail(r, rc == COMPAT_ENOMEM ? GRPC_RESOURCE_EXHAUSTED : GRPC_INVALID_ARGUMENT, err.msg);
	if (s->max_reply && r->len > s->max_reply) {
		free(r->body);
		r->body = NULL;
		r->len = 0;
		fail(r, GRPC_RESOURCE_EXHAUSTED, "the reflection answer is over this server's --max-reply");
	}
}

int service_open(struct service *s, const struct service *tmpl)
{
	*s = *tmpl;
	s->dirs = NULL;
	s->memo = NULL;
	if (s->slot)
		s->idx = index_slot_acquire(s->slot, &s->gen);
	if (dircache_new(&s->dirs, 16, 20000, 30000) < 0 ||
	    (s->memo_entries && memo_new(&s->memo, s->memo_entries, s->memo_bytes) < 0)) {
		service_close(s);
		return COMPAT_ENOMEM;
	}
	return 0;
}

void service_close(struct service *s)
{
	dircache_free(s->dirs);
	s->dirs = NULL;
	memo_free(s->memo);
	s->memo = NULL;
	if (s->slot)
		index_release(s->idx);
	s->idx = NULL;
}

void service_refresh(struct service *s)
{
	if (!s->slot || index_slot_generation(s->slot) == s->gen)
		return;
	index_release(s->idx);
	s->idx = index_slot_acquire(s->slot, &s->gen);
	if (s->dirs)
		dircache_clear(s->dirs);
	memo_clear(s->memo);	/* its answers were the old index's */
}

void service_call(struct service *s, const char *path, const uint8_t *msg, size_t len,
		  struct service_reply *r)
{
	memset(r, 0, sizeof *r);
	service_refresh(s);
	if (strcmp(path, PATH_CHECK) == 0)
		check(s, msg, len, r);
	else if (strcmp(path, PATH_LOCATE) == 0)
		locate(s, msg, len, r);
	else if (strcmp(path, PATH_HEALTH) == 0)
		health(s, msg, len, r);
	else if (reflection_is_method(path))
		reflect(s, msg, len, r);
	else
		fail(r, GRPC_UNIMPLEMENTED, "unknown method");
}
