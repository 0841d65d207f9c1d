#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <nghttp2/nghttp2.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.pb.h"
#include "grpc.h"
#include "clock.h"
#include "rpcclient.h"
#include "buf.h"
#include "net.h"
#include "pbstr.h"
#include "service.h"
#include "tls.h"
#include "vec.h"

#define MAX_REPLY (16u << 20)
#define MAX_REQUEST (4u << 20)

enum call_state { C_CONNECT, C_TLS, C_H2, C_DONE };

/* One server being asked: its connection moves through the states above,
 * driven by the shared poll() loop of rpc_check_many. */
struct call {
	const char *addr;		/* as given */
	char where[300];		/* host:port, for messages */
	struct rpc_result *res;
	enum call_state state;
	int64_t deadline;
	struct addrinfo *ai, *next_ai;
	int fd;
	short want;			/* POLLIN / POLLOUT wanted now */
	struct tls_conn *tls;
	nghttp2_session *s;
	const uint8_t *req;		/* the encoded request, shared by every call */
	size_t req_len, req_off;
	const uint8_t *pend;		/* output nghttp2 gave us, not yet written */
	size_t pend_len;
	size_t received;		/* reply bytes seen: for hints on a silent close */
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

/* ---- Response decoding ---- */

static bool read_finding(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct verdict *v = *arg;
	convergedcomputing_org_grpc_v1_Finding f = convergedcomputing_org_grpc_v1_Finding_init_zero;
	if (!pb_decode(stream, convergedcomputing_org_grpc_v1_Finding_fields, &f))
		return false;
	if (VEC_GROW(v->findings, v->nfindings) < 0)
		return false;
	struct finding *nf = v->findings;
	memset(&nf[v->nfindings], 0, sizeof *nf);
	nf[v->nfindings].kind = strdup(f.kind);
	nf[v->nfindings].soname = strdup(f.soname);
	nf[v->nfindings].detail = strdup(f.detail);
	nf[v->nfindings].warning = f.warning;
	v->nfindings++;	/* counted first, so that verdict_free frees what was made */
	return nf[v->nfindings - 1].kind && nf[v->nfindings - 1].soname && nf[v->nfindings - 1].detail;
}

/* The request message with its gRPC prefix, into *out (malloc'd). */
static int encode_request(const struct rpc_opts *o, const char *payload, size_t len, uint8_t **out,
			  size_t *out_len)
{
	struct { uint8_t *req; size_t req_len; } cs = { NULL, 0 }, *c = &cs;
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
	*out = c->req;
	*out_len = GRPC_PREFIX + os.bytes_written;
	c->req = NULL;
	rc = 0;
out:
	free(c->req);
	return rc;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static int fail(struct call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct call *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char m[sizeof c->res->err.msg];
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	c->res->rc = cerr_set(&c->res->err, code, "%s", m);
	c->state = C_DONE;
	return c->res->rc;
}

static int is_ip_literal(const char *host)
{
	unsigned char b[16];
	return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

/* Start connecting to the next address of the list; C_DONE when none is left. */
static void connect_next(struct call *c, int last_errno)
{
	while (c->next_ai) {
		struct addrinfo *ai = c->next_ai;
		c->next_ai = ai->ai_next;
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			c->state = C_CONNECT;
			c->want = POLLOUT;
			return;
		}
		last_errno = errno;
		close(c->fd);
		c->fd = -1;
	}
	fail(c, COMPAT_EUNREACH, "cannot reach %s: %s", c->where, strerror(last_errno ? last_errno : ECONNREFUSED));
}

static int start_h2(struct call *c, nghttp2_session_callbacks *cb, int timeout_ms)
{
	if (nghttp2_session_client_new(&c->s, cb, c) != 0)
		return fail(c, COMPAT_ENOMEM, "out of memory");
	char tmo[16];
	snprintf(tmo, sizeof tmo, "%dm", timeout_ms);
	nghttp2_nv hdrs[] = {
		NV(":method", "POST"), NV(":scheme", c->tls ? "https" : "http"),
		NV(":path", "/" SERVICE_NAME "/CheckCompatibility"), NV(":authority", c->where),
		NV("content-type", "application/grpc"), NV("te", "trailers"), NV("grpc-timeout", tmo),
	};
	nghttp2_data_provider prd = { .source.ptr = c, .read_callback = read_req };
	if (nghttp2_submit_settings(c->s, NGHTTP2_FLAG_NONE, NULL, 0) != 0 ||
	    nghttp2_submit_request(c->s, NULL, hdrs, sizeof hdrs / sizeof hdrs[0], &prd, NULL) < 0)
		return fail(c, COMPAT_ENOMEM, "out of memory");
	c->state = C_H2;
	return 0;
}

/* Why a TLS handshake failed, with what to do about it. */
static void tls_failed(struct call *c, const struct cerr *e, const char *host, const struct rpc_opts *o)
{
	const char *hint = "";
	if (strstr(e->msg, "invalid SSL record") || strstr(e->msg, "INVALID_RECORD"))
		hint = " (the server does not speak TLS? leave out --tls-ca)";
	else if (strstr(e->msg, "erification") && is_ip_literal(host) && !(o && o->tls_name))
		hint = " (mbedtls checks DNS names only: give the name in the server's certificate with --tls-name)";
	fail(c, COMPAT_EUNREACH, "%s: TLS handshake: %s%s", c->where, e->msg, hint);
}

static void step_tls(struct call *c, const char *host, const struct rpc_opts *o, nghttp2_session_callbacks *cb,
		     int timeout_ms)
{
	struct cerr e = { 0 };
	int h = tls_conn_handshake(c->tls, &e);
	if (h == TLS_WANT_READ || h == TLS_WANT_WRITE) {
		c->want = h == TLS_WANT_READ ? POLLIN : POLLOUT;
		return;
	}
	if (h != 0)
		return tls_failed(c, &e, host, o);
	start_h2(c, cb, timeout_ms);
}

/* 1 when the first bytes of a reply to our h2c preface are a TLS record. */
static int looks_like_tls(const uint8_t *b, size_t n)
{
	return n >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03;
}

static void lost(struct call *c, const char *why)
{
	const char *hint = !c->tls && c->received == 0 ? " before answering (does the server speak TLS? try --tls-ca FILE)" : "";
	fail(c, COMPAT_EUNREACH, "%s: %s%s", c->where, why, hint);
}

/* Move bytes both ways until the socket would block. */
static void step_h2(struct call *c)
{
	uint8_t buf[16384];
	for (;;) {
		long r;
		if (c->tls) {
			r = tls_conn_read(c->tls, buf, sizeof buf, NULL);
			if (r == TLS_WANT_READ || r == TLS_WANT_WRITE)
				break;
		} else {
			r = recv(c->fd, buf, sizeof buf, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
		}
		if (r == 0)
			return lost(c, "connection closed by the server");
		if (r < 0)
			return lost(c, c->tls ? "TLS error" : strerror(errno));
		if (!c->tls && c->received == 0 && looks_like_tls(buf, (size_t)r))
			return (void)fail(c, COMPAT_EUNREACH, "%s: the server answered with TLS (use --tls-ca FILE)",
					  c->where);
		c->received += (size_t)r;
		ssize_t fed = nghttp2_session_mem_recv(c->s, buf, (size_t)r);
		if (fed < 0)
			return (void)fail(c, COMPAT_EPROTO, "%s: %s", c->where, nghttp2_strerror((int)fed));
	}
	c->want = POLLIN;
	for (;;) {
		if (!c->pend_len) {
			ssize_t n = nghttp2_session_mem_send(c->s, &c->pend);
			if (n < 0)
				return (void)fail(c, COMPAT_EPROTO, "%s: %s", c->where, nghttp2_strerror((int)n));
			if (n == 0)
				break;
			c->pend_len = (size_t)n;
		}
		long w = c->tls ? tls_conn_write(c->tls, c->pend, c->pend_len, NULL)
				: send(c->fd, c->pend, c->pend_len, MSG_NOSIGNAL);
		if ((c->tls && (w == TLS_WANT_READ || w == TLS_WANT_WRITE)) || (!c->tls && w < 0 && errno == EAGAIN)) {
			c->want |= POLLOUT;
			break;
		}
		if (w <= 0)
			return lost(c, "connection lost while sending");
		c->pend += w;
		c->pend_len -= (size_t)w;
	}
	if (c->closed || (!nghttp2_session_want_read(c->s) && !nghttp2_session_want_write(c->s) && !c->pend_len))
		c->state = C_DONE;
}

/* The call's reply, decoded into c->res. */
static void finish(struct call *c)
{
	struct rpc_result *res = c->res;
	struct pbstr rp = { 0 };
	const char *addr = c->where;
	struct cerr *err = &res->err;
	int rc;
	if (c->http_status != 200) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: HTTP status %d", addr, c->http_status);
		goto out;
	}
	if (!c->have_grpc_status || c->grpc_status != 0) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: gRPC status %d: %s", addr,
			      c->have_grpc_status ? c->grpc_status : -1, c->grpc_message);
		goto out;
	}
	int compressed;
	uint32_t mlen;
	if (c->too_big || grpc_prefix_decode(c->body.p, c->body.len, &compressed, &mlen) < 0 || compressed ||
	    (size_t)mlen + GRPC_PREFIX != c->body.len) {
		rc = cerr_set(err, COMPAT_EPROTO, "%s: malformed reply", addr);
		goto out;
	}
	struct verdict *v = &res->v;
	convergedcomputing_org_grpc_v1_Response resp = convergedcomputing_org_grpc_v1_Response_init_zero;
	resp.payload.funcs.decode = pbstr_read;
	resp.payload.arg = &rp;
	resp.findings.funcs.decode = read_finding;
	resp.findings.arg = v;
	pb_istream_t is = pb_istream_from_buffer(c->body.p + GRPC_PREFIX, mlen);
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
	if (rp.p) {
		/* richer than the findings, when it is ours */
		struct verdict full;
		if (verdict_from_json(rp.p, strlen(rp.p), &full) == 0) {
			verdict_free(v);
			*v = full;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		verdict_free(&res->v);
	res->rc = rc;
	free(rp.p);
}

static void call_free(struct call *c)
{
	buf_free(&c->body);
	nghttp2_session_del(c->s);
	tls_conn_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	if (c->ai)
		freeaddrinfo(c->ai);
}

/* Resolve and start connecting (name resolution blocks: a client may). */
static void call_start(struct call *c, char *host, size_t hcap)
{
	char port[16];
	if (net_split_host(c->addr, RPC_DEFAULT_PORT, host, hcap, port, sizeof port, &c->res->err) < 0) {
		c->res->rc = c->res->err.code;
		c->state = C_DONE;
		return;
	}
	snprintf(c->where, sizeof c->where, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	int g = getaddrinfo(host, port, &hints, &c->ai);
	if (g != 0) {
		c->ai = NULL;
		fail(c, COMPAT_EUNREACH, "%s: %s", c->where, gai_strerror(g));
		return;
	}
	c->next_ai = c->ai;
	connect_next(c, 0);
}

static void step_connect(struct call *c, const char *host, struct tls_config *cfg, const struct rpc_opts *o,
			 nghttp2_session_callbacks *cb, int timeout_ms)
{
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
		close(c->fd);
		c->fd = -1;
		return connect_next(c, soerr ? soerr : errno);
	}
	if (!cfg) {
		start_h2(c, cb, timeout_ms);
		return;
	}
	struct cerr e = { 0 };
	if (tls_conn_new(&c->tls, cfg, c->fd, o->tls_name ? o->tls_name : host, &e) < 0)
		return (void)fail(c, e.code, "%s: %s", c->where, e.msg);
	c->state = C_TLS;
	step_tls(c, host, o, cb, timeout_ms);
}

int rpc_check_many(const char *const *addrs, size_t n, const struct rpc_opts *o, const char *payload,
		   size_t len, struct rpc_result *res, struct cerr *err)
{
	int timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 10000, rc;
	struct rpc_opts none = { 0 };
	uint8_t *req = NULL;
	size_t req_len = 0;
	struct call *calls = NULL;
	char (*hosts)[256] = NULL;
	struct pollfd *pfd = NULL;
	struct tls_config *cfg = NULL;
	nghttp2_session_callbacks *cb = NULL;

	if (!o)
		o = &none;
	if (n == 0 || n > RPC_MAX_HOSTS)
		return cerr_set(err, COMPAT_EINVAL, "between 1 and %d servers can be asked at once", RPC_MAX_HOSTS);
	if (len > MAX_REQUEST)
		return cerr_set(err, COMPAT_ELIMIT, "artifact larger than 4 MiB");
	rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	if (encode_request(o, payload, len, &req, &req_len) < 0)
		goto out;
	calls = calloc(n, sizeof *calls);
	hosts = calloc(n, sizeof *hosts);
	pfd = calloc(n, sizeof *pfd);
	if (!calls || !hosts || !pfd || nghttp2_session_callbacks_new(&cb) != 0)
		goto out;
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	if (o->tls_ca) {
		static const char *const alpn[] = { "h2", NULL };
		if ((rc = tls_config_client(&cfg, o->tls_ca, alpn, err)) < 0)
			goto out;
	}

	int64_t start = clock_now_ms();
	for (size_t i = 0; i < n; i++) {
		struct call *c = &calls[i];
		memset(&res[i], 0, sizeof res[i]);
		c->addr = addrs[i];
		snprintf(c->where, sizeof c->where, "%s", addrs[i]);
		c->res = &res[i];
		c->fd = -1;
		c->req = req;
		c->req_len = req_len;
		c->deadline = start + timeout;
		call_start(c, hosts[i], sizeof hosts[i]);
	}
	for (;;) {
		size_t live = 0;
		int64_t now = clock_now_ms(), wait = -1;
		for (size_t i = 0; i < n; i++) {
			struct call *c = &calls[i];
			pfd[i].fd = -1;
			pfd[i].revents = 0;
			if (c->state == C_DONE)
				continue;
			if (now >= c->deadline) {
				if (c->state == C_H2)
					fail(c, COMPAT_EPROTO, "%s: deadline exceeded", c->where);
				else
					fail(c, COMPAT_EUNREACH, "cannot reach %s: timed out", c->where);
				continue;
			}
			pfd[i].fd = c->fd;
			pfd[i].events = c->want;
			if (wait < 0 || c->deadline - now < wait)
				wait = c->deadline - now;
			if (c->tls && tls_conn_pending(c->tls))
				wait = 0;	/* decrypted bytes wait in mbedtls, not in the socket */
			live++;
		}
		if (!live)
			break;
		if (poll(pfd, n, (int)wait) < 0 && errno != EINTR) {
			rc = cerr_sys(err, COMPAT_EIO, "poll");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			struct call *c = &calls[i];
			if (c->state == C_DONE || !(pfd[i].revents || (c->tls && tls_conn_pending(c->tls))))
				continue;
			if (c->state == C_CONNECT)
				step_connect(c, hosts[i], cfg, o, cb, timeout);
			else if (c->state == C_TLS)
				step_tls(c, hosts[i], o, cb, timeout);
			if (c->state == C_H2)
				step_h2(c);
			if (c->state == C_DONE && c->res->rc == 0)
				finish(c);
		}
	}
	rc = 0;
out:
	for (size_t i = 0; calls && i < n; i++)
		call_free(&calls[i]);
	free(calls);
	free(hosts);
	free(pfd);
	free(req);
	tls_config_free(cfg);
	nghttp2_session_callbacks_del(cb);
	return rc;
}

int rpc_check_remote(const char *addr, const struct rpc_opts *o, const char *payload, size_t len,
		     struct verdict *v, struct cerr *err)
{
	struct rpc_result r;
	memset(v, 0, sizeof *v);
	int rc = rpc_check_many(&addr, 1, o, payload, len, &r, err);
	if (rc < 0)
		return rc;
	if (r.rc < 0) {
		*err = r.err;
		return r.rc;
	}
	*v = r.v;
	return 0;
}
