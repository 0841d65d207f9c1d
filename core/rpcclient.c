#include <errno.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.pb.h"
#include "grpc.h"
#include "rpcclient.h"
#include "buf.h"
#include "net.h"
#include "pbstr.h"
#include "service.h"

#define MAX_REPLY (16u << 20)

struct call {
	uint8_t *req;
	size_t req_len, req_off;
	struct buf body;
	int http_status, grpc_status, have_grpc_status, closed, too_big;
	char grpc_message[256];
};


static ssize_t read_req(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
			nghttp2_data_source *src, void *user)
{
	struct call *c = src->ptr;
	size_t n = c->req_len - c->req_off;
	if (n > length)
		n = length;
	memcpy(buf, c->req + c->req_off, n);
	c->req_off += n;
	if (c->req_off == c->req_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
		     const uint8_t *value, size_t vl, uint8_t flags, void *user)
{
	struct call *c = user;
	if (nl == 7 && memcmp(name, ":status", 7) == 0)
		c->http_status = atoi((const char *)value);
	else if (nl == 11 && memcmp(name, "grpc-status", 11) == 0) {
		c->grpc_status = atoi((const char *)value);
		c->have_grpc_status = 1;
	} else if (nl == 12 && memcmp(name, "grpc-message", 12) == 0) {
		snprintf(c->grpc_message, sizeof c->grpc_message, "%.*s", (int)vl, (const char *)value);
	}
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
	struct call *c = user;
	if (!c->too_big && buf_append(&c->body, data, len, MAX_REPLY) == COMPAT_ELIMIT)
		c->too_big = 1;	/* reported after the stream ends */
	return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	((struct call *)user)->closed = 1;
	return 0;
}

static int pump(nghttp2_session *s, struct net_conn *io, struct call *c, const char *addr,
		struct cerr *err)
{
	uint8_t buf[16384];
	while (!c->closed) {
		const uint8_t *out;
		ssize_t n;
		while ((n = nghttp2_session_mem_send(s, &out)) > 0) {
			size_t off = 0;
			while (off < (size_t)n) {
				int w = net_send_all(io, out + off, (size_t)n - off);
				if (w == COMPAT_ELIMIT)
					return cerr_set(err, COMPAT_EPROTO, "%s: deadline exceeded", addr);
				if (w < 0)
					return cerr_sys(err, COMPAT_EUNREACH, "%s", addr);
				off = (size_t)n;
			}
		}
		if (n < 0)
			return cerr_set(err, COMPAT_EPROTO, "%s: %s", addr, nghttp2_strerror((int)n));
		if (c->closed || (!nghttp2_session_want_read(s) && !nghttp2_session_want_write(s)))
			break;
		ssize_t r = net_recv(io, buf, sizeof buf);
		if (r == COMPAT_ELIMIT)
			return cerr_set(err, COMPAT_EPROTO, "%s: deadline exceeded", addr);
		if (r == 0)
			return cerr_set(err, COMPAT_EUNREACH, "%s: connection closed by the server", addr);
		if (r < 0)
			return cerr_sys(err, COMPAT_EUNREACH, "%s", addr);
		ssize_t fed = nghttp2_session_mem_recv(s, buf, (size_t)r);
		if (fed < 0)
			return cerr_set(err, COMPAT_EPROTO, "%s: %s", addr, nghttp2_strerror((int)fed));
	}
	return 0;
}

/* ---- Response decoding ---- */

static bool read_finding(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct verdict *v = *arg;
	convergedcomputing_org_grpc_v1_Finding f = convergedcomputing_org_grpc_v1_Finding_init_zero;
	if (!pb_decode(stream, convergedcomputing_org_grpc_v1_Finding_fields, &f))
		return false;
	struct finding *nf = realloc(v->findings, (v->nfindings + 1) * sizeof *nf);
	if (!nf)
		return false;
	v->findings = nf;
	nf[v->nfindings].kind = strdup(f.kind);
	nf[v->nfindings].soname = strdup(f.soname);
	nf[v->nfindings].detail = strdup(f.detail);
	nf[v->nfindings].warning = 0;
	v->nfindings++;
	return true;
}

/* compat's own JSON report: findings with warnings, and resolved paths. */
static int from_report(const char *json, struct verdict *v)
{
	json_t *root = json_loads(json, 0, NULL);
	json_t *fs = json_object_get(root, "findings"), *res = json_object_get(root, "resolved");
	if (!json_is_object(root) || !json_is_array(fs) || !json_is_object(res)) {
		json_decref(root);
		return COMPAT_EINVAL;
	}
	verdict_free(v);
	v->compatible = json_is_true(json_object_get(root, "compatible"));
	size_t i;
	json_t *f;
	v->findings = calloc(json_array_size(fs) + 1, sizeof *v->findings);
	json_array_foreach(fs, i, f) {
		const char *k = json_string_value(json_object_get(f, "kind"));
		const char *s = json_string_value(json_object_get(f, "soname"));
		const char *d = json_string_value(json_object_get(f, "detail"));
		if (!v->findings || !k)
			continue;
		struct finding *x = &v->findings[v->nfindings++];
		x->kind = strdup(k);
		x->soname = strdup(s ? s : "");
		x->detail = strdup(d ? d : "");
		x->warning = json_is_true(json_object_get(f, "warning"));
	}
	const char *key;
	json_t *val;
	v->resolved = calloc(json_object_size(res) + 1, sizeof *v->resolved);
	json_object_foreach(res, key, val) {
		if (!v->resolved)
			break;
		struct resolved *r = &v->resolved[v->nresolved++];
		r->soname = strdup(key);
		r->path = json_is_string(val) ? strdup(json_string_value(val)) : NULL;
	}
	json_decref(root);
	return 0;
}

static int encode_request(const struct rpc_opts *o, const char *payload, size_t len, struct call *c)
{
	convergedcomputing_org_grpc_v1_CompatRequest reqs = convergedcomputing_org_grpc_v1_CompatRequest_init_zero,
						     *req = &reqs;
	struct pbstr_list dirs = { 0 };
	int rc = COMPAT_ENOMEM;	/* the only way encoding into our own buffer fails */
	for (size_t i = 0; o && i < o->nlibrary_path && i < PBSTR_LIST_MAX; i++)
		dirs.v[dirs.n++] = (char *)o->library_path[i];	/* borrowed: not freed */
	req->library_path.funcs.encode = pbstr_list_write;
	req->library_path.arg = &dirs;
	/* payload first (field 1, length-delimited), then the rest */
	size_t rest;
	if (!pb_get_encoded_size(&rest, convergedcomputing_org_grpc_v1_CompatRequest_fields, req))
		goto out;
	size_t hdr = 1 + 10;
	c->req = malloc(GRPC_PREFIX + hdr + len + rest);
	if (!c->req)
		goto out;
	pb_ostream_t os = pb_ostream_from_buffer(c->req + GRPC_PREFIX, hdr + len + rest);
	if (!pb_encode_tag(&os, PB_WT_STRING, 1) || !pb_encode_string(&os, (const pb_byte_t *)payload, len) ||
	    !pb_encode(&os, convergedcomputing_org_grpc_v1_CompatRequest_fields, req))
		goto out;
	grpc_prefix_encode(c->req, (uint32_t)os.bytes_written);
	c->req_len = GRPC_PREFIX + os.bytes_written;
	rc = 0;
out:
	return rc;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

int rpc_check_remote(const char *addr, const struct rpc_opts *o, const char *payload, size_t len,
		     struct verdict *v, struct cerr *err)
{
	struct call c = { 0 };
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_session *s = NULL;
	int timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 10000, rc;
	struct pbstr rp = { 0 };

	memset(v, 0, sizeof *v);
	if (len > (4u << 20))
		return cerr_set(err, COMPAT_ELIMIT, "artifact larger than 4 MiB");
	if (encode_request(o, payload, len, &c) < 0)
		return cerr_set(err, COMPAT_ENOMEM, "cannot encode the request");
	static const char *const alpn[] = { "h2", NULL };
	struct net_conn io;
	if ((rc = net_connect(&io, addr, NULL, timeout, o && o->tls_ca, o ? o->tls_ca : NULL, alpn,
			      o ? o->tls_name : NULL, err)) < 0) {
		free(c.req);
		return rc;
	}
	rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	if (nghttp2_session_callbacks_new(&cb) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	if (nghttp2_session_client_new(&s, cb, &c) != 0)
		goto out;
	char tmo[16];
	snprintf(tmo, sizeof tmo, "%dm", timeout);
	nghttp2_nv hdrs[] = {
		NV(":method", "POST"), NV(":scheme", io.tls ? "https" : "http"),
		NV(":path", "/" SERVICE_NAME "/CheckCompatibility"), NV(":authority", addr),
		NV("content-type", "application/grpc"), NV("te", "trailers"), NV("grpc-timeout", tmo),
	};
	nghttp2_data_provider prd = { .source.ptr = &c, .read_callback = read_req };
	if (nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, NULL, 0) != 0 ||
	    nghttp2_submit_request(s, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &prd, NULL) < 0)
		goto out;
	if ((rc = pump(s, &io, &c, addr, err)) < 0)
		goto out;
	if (c.http_status != 200) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: HTTP status %d", addr, c.http_status);
		goto out;
	}
	if (!c.have_grpc_status || c.grpc_status != 0) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: gRPC status %d: %s", addr,
			      c.have_grpc_status ? c.grpc_status : -1, c.grpc_message);
		goto out;
	}
	int compressed;
	uint32_t mlen;
	if (c.too_big || grpc_prefix_decode(c.body.p, c.body.len, &compressed, &mlen) < 0 || compressed ||
	    (size_t)mlen + GRPC_PREFIX != c.body.len) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: malformed reply", addr);
		goto out;
	}
	convergedcomputing_org_grpc_v1_Response resp = convergedcomputing_org_grpc_v1_Response_init_zero;
	resp.payload.funcs.decode = pbstr_read;
	resp.payload.arg = &rp;
	resp.findings.funcs.decode = read_finding;
	resp.findings.arg = v;
	pb_istream_t is = pb_istream_from_buffer(c.body.p + GRPC_PREFIX, mlen);
	if (!pb_decode(&is, convergedcomputing_org_grpc_v1_Response_fields, &resp)) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: malformed Response: %s", addr, PB_GET_ERROR(&is));
		goto out;
	}
	if (resp.status == convergedcomputing_org_grpc_v1_Response_ResultType_ERROR ||
	    resp.status == convergedcomputing_org_grpc_v1_Response_ResultType_DENIED) {
		json_t *j = rp.p ? json_loads(rp.p, 0, NULL) : NULL;
		const char *m = json_string_value(json_object_get(j, "error"));
		rc = cerr_set(err, COMPAT_EINVAL, "%s: %s: %s", addr,
			      resp.status == convergedcomputing_org_grpc_v1_Response_ResultType_DENIED ? "denied"
														: "refused",
			      m ? m : "(no reason given)");
		json_decref(j);
		goto out;
	}
	v->compatible = resp.compatible;
	if (rp.p)
		from_report(rp.p, v);	/* richer than the findings, when it is ours */
	rc = 0;
out:
	if (rc < 0)
		verdict_free(v);
	free(rp.p);
	free(c.req);
	buf_free(&c.body);
	nghttp2_session_del(s);
	nghttp2_session_callbacks_del(cb);
	net_close(&io);
	return rc;
}
