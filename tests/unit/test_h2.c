/* h2 alone: a real HTTP/2 client (an nghttp2 client session in this
 * process) against h2_conn with a handler of the test's own, no service
 * and no socket. Bytes are pumped between the two in memory. */
#include <nghttp2/nghttp2.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/grpc.h"
#include "core/h2.h"

#define MAXS 8

struct cstream {
	int32_t id;
	int grpc_status;		/* -1: none yet */
	char grpc_message[256];
	size_t data_len;
	int closed, rst;
	uint32_t close_code, rst_code;
	/* the request body, and how much of it may go (the rest is held) */
	const uint8_t *body;
	size_t body_len, sent, allowed;
	int end;			/* send END_STREAM after the body */
};

struct client {
	nghttp2_session *s;
	struct h2_conn *srv;
	struct cstream st[MAXS];
	int nst;
	int goaway;
	uint32_t goaway_code;
};

/* What the server's handler saw. */
struct seen {
	int requests, cancels;
	int32_t last_id, cancelled_id;
	char path[160];
	uint8_t msg[64];
	size_t len;
	/* streaming calls */
	int sync;		/* answer each message at once (an echo) */
	int dones;
	struct h2_call last_call;
	char last_call_path[160];
};

static void on_request(void *ctx, struct h2_conn *c, int32_t id, const char *path, const uint8_t *msg, size_t len)
{
	struct seen *s = ctx;
	s->requests++;
	s->last_id = id;
	snprintf(s->path, sizeof s->path, "%s", path);
	s->len = len;
	memcpy(s->msg, msg, len < sizeof s->msg ? len : sizeof s->msg);
}

/* "/test.S/Stream" is a streaming method; the rest unary. */
static int on_streaming(void *ctx, const char *path)
{
	return strcmp(path, "/test.S/Stream") == 0;
}

/* A streaming handler: records, and with sync echoes "re:" + the message. */
static void on_stream_request(void *ctx, struct h2_conn *c, int32_t id, const char *path, const uint8_t *msg,
			      size_t len)
{
	struct seen *s = ctx;
	on_request(ctx, c, id, path, msg, len);
	if (!s->sync)
		return;
	uint8_t *b = malloc(len + 3);
	memcpy(b, "re:", 3);
	memcpy(b + 3, msg, len);
	h2_conn_note(c, id, 7);
	CHECK_INT(h2_conn_reply(c, id, 0, NULL, b, len + 3), 0);
}

static void on_done(void *ctx, struct h2_conn *c, int32_t id, const struct h2_call *call)
{
	struct seen *s = ctx;
	s->dones++;
	s->last_call = *call;
	snprintf(s->last_call_path, sizeof s->last_call_path, "%s", call->path);
}

static void on_cancel(void *ctx, struct h2_conn *c, int32_t id)
{
	struct seen *s = ctx;
	s->cancels++;
	s->cancelled_id = id;
}

static struct cstream *cs(struct client *cl, int32_t id)
{
	for (int i = 0; i < cl->nst; i++)
		if (cl->st[i].id == id)
			return &cl->st[i];
	return NULL;
}

static int c_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl, const uint8_t *value,
		    size_t vl, uint8_t flags, void *user)
{
	struct cstream *x = cs(user, f->hd.stream_id);
	if (!x)
		return 0;
	if (nl == 11 && memcmp(name, "grpc-status", 11) == 0)
		x->grpc_status = atoi((const char *)value);
	if (nl == 12 && memcmp(name, "grpc-message", 12) == 0)
		snprintf(x->grpc_message, sizeof x->grpc_message, "%.*s", (int)vl, (const char *)value);
	return 0;
}

static int c_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t len, void *user)
{
	struct cstream *x = cs(user, id);
	if (x)
		x->data_len += len;
	return 0;
}

static int c_frame(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct client *cl = user;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		cl->goaway = 1;
		cl->goaway_code = f->goaway.error_code;
	} else if (f->hd.type == NGHTTP2_RST_STREAM) {
		struct cstream *x = cs(cl, f->hd.stream_id);
		if (x) {
			x->rst = 1;
			x->rst_code = f->rst_stream.error_code;
		}
	}
	return 0;
}

static int c_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	struct cstream *x = cs(user, id);
	if (x) {
		x->closed = 1;
		x->close_code = code;
	}
	return 0;
}

static ssize_t c_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
		      nghttp2_data_source *src, void *user)
{
	struct cstream *x = src->ptr;
	size_t limit = x->allowed < x->body_len ? x->allowed : x->body_len;
	if (x->sent >= limit && limit < x->body_len)
		return NGHTTP2_ERR_DEFERRED;
	size_t n = limit - x->sent;
	if (n > length)
		n = length;
	if (n)
		memcpy(buf, x->body + x->sent, n);
	x->sent += n;
	if (x->sent == x->body_len) {
		if (x->end)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		else if (!n)
			return NGHTTP2_ERR_DEFERRED;
	}
	return (ssize_t)n;
}

static void client_new_window(struct client *cl, struct h2_conn *srv, uint32_t window);

static void client_new(struct client *cl, struct h2_conn *srv)
{
	client_new_window(cl, srv, 1 << 20);
}

static void client_new_window(struct client *cl, struct h2_conn *srv, uint32_t window)
{
	nghttp2_session_callbacks *cb;
	memset(cl, 0, sizeof *cl);
	cl->srv = srv;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, c_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, c_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, c_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, c_close);
	nghttp2_session_client_new(&cl->s, cb, cl);
	nghttp2_session_callbacks_del(cb);
	nghttp2_settings_entry iv[] = { { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, window } };
	nghttp2_submit_settings(cl->s, NGHTTP2_FLAG_NONE, iv, 1);
}

/* Move bytes both ways until neither side has more. */
static void pump(struct client *cl)
{
	for (int round = 0; round < 1000; round++) {
		int moved = 0;
		const uint8_t *d;
		ssize_t n;
		while ((n = nghttp2_session_mem_send(cl->s, &d)) > 0) {
			h2_conn_feed(cl->srv, d, (size_t)n);
			moved = 1;
		}
		size_t len;
		const uint8_t *out;
		while ((out = h2_conn_output(cl->srv, &len)) && len) {
			nghttp2_session_mem_recv(cl->s, out, len);
			h2_conn_consumed(cl->srv, len);
			moved = 1;
		}
		if (!moved)
			return;
	}
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1, NGHTTP2_NV_FLAG_NONE }

/* Open a stream with a gRPC body (prefix + body, of which allowed bytes go
 * now; end: END_STREAM after it). timeout: grpc-timeout or NULL. */
static struct cstream *request_to(struct client *cl, const char *path, const uint8_t *body, size_t len,
				  size_t allowed, int end, const char *timeout)
{
	struct cstream *x = &cl->st[cl->nst++];
	nghttp2_nv nva[7] = { NV(":method", "POST"), NV(":scheme", "http"),
			      { (uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE },
			      NV(":authority", "x"), NV("content-type", "application/grpc"), NV("te", "trailers") };
	size_t nn = 6;
	if (timeout)
		nva[nn++] = (nghttp2_nv){ (uint8_t *)"grpc-timeout", (uint8_t *)timeout, 12, strlen(timeout),
					   NGHTTP2_NV_FLAG_NONE };
	x->grpc_status = -1;
	x->body = body;
	x->body_len = len;
	x->allowed = allowed;
	x->end = end;
	nghttp2_data_provider prd = { .source.ptr = x, .read_callback = c_read };
	x->id = nghttp2_submit_request(cl->s, NULL, nva, nn, &prd, NULL);
	return x;
}

static struct cstream *request(struct client *cl, const uint8_t *body, size_t len, size_t allowed, int end,
			       const char *timeout)
{
	return request_to(cl, "/test.S/M", body, len, allowed, end, timeout);
}

/* Let more of a held request body go (up to allowed), END_STREAM after it
 * when end. */
static void allow(struct client *cl, struct cstream *x, size_t allowed, int end)
{
	x->allowed = allowed;
	x->end = end;
	nghttp2_session_resume_data(cl->s, x->id);
	pump(cl);
}

/* n gRPC messages "m0", "m1", ... one after another. */
static uint8_t *messages(int n, size_t *len)
{
	uint8_t *b = malloc((size_t)n * (GRPC_PREFIX + 2));
	for (int i = 0; i < n; i++) {
		uint8_t *p = b + (size_t)i * (GRPC_PREFIX + 2);
		grpc_prefix_encode(p, 2);
		p[GRPC_PREFIX] = 'm';
		p[GRPC_PREFIX + 1] = (uint8_t)('0' + i % 10);
	}
	*len = (size_t)n * (GRPC_PREFIX + 2);
	return b;
}

static uint8_t *grpc_msg(const char *text, size_t *len)
{
	size_t n = strlen(text);
	uint8_t *b = malloc(n + GRPC_PREFIX);
	grpc_prefix_encode(b, (uint32_t)n);
	memcpy(b + GRPC_PREFIX, text, n);
	*len = n + GRPC_PREFIX;
	return b;
}

static uint8_t *big(size_t n)
{
	uint8_t *b = calloc(1, n);
	grpc_prefix_encode(b, (uint32_t)(n - GRPC_PREFIX));
	return b;
}

static struct h2_limits limits(void)
{
	return (struct h2_limits){ .max_message = 1 << 20, .max_streams = 16, .max_header_list = 8192,
				   .max_output = 1 << 20, .max_conn_buffer = 4 << 20 };
}

/* One server connection (h2_conn over lim) and a client session on it
 * (window: the client's initial stream window), with a handler that
 * records into seen: unary, or with the streaming callbacks too. */
struct pair {
	struct seen seen;
	struct h2_handler hd;
	struct h2_conn *srv;
	struct client cl;
};

enum { UNARY, STREAMING };

static void pair_open(struct pair *p, const struct h2_limits *lim, int kind, uint32_t window)
{
	if (kind == STREAMING)
		p->hd = (struct h2_handler){ .request = on_stream_request, .cancel = on_cancel,
					     .streaming = on_streaming, .done = on_done, .ctx = &p->seen };
	else
		p->hd = (struct h2_handler){ .request = on_request, .cancel = on_cancel, .ctx = &p->seen };
	CHECK_INT(h2_conn_new(&p->srv, lim, &p->hd), 0);
	client_new_window(&p->cl, p->srv, window);
}

static void pair_close(struct pair *p)
{
	nghttp2_session_del(p->cl.s);
	h2_conn_free(p->srv);
}

static void test_request_answered_later(void)
{
	struct pair p = { 0 };
	struct h2_limits lim = limits();
	size_t len;
	uint8_t *body = grpc_msg("hello", &len);
	pair_open(&p, &lim, UNARY, 1 << 20);
	struct cstream *x = request(&p.cl, body, len, len, 1, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 1);
	CHECK_STR(p.seen.path, "/test.S/M");
	CHECK_INT(p.seen.len, 5);
	CHECK(memcmp(p.seen.msg, "hello", 5) == 0);
	CHECK_INT(h2_conn_pending(p.srv), 1);
	CHECK_INT(x->grpc_status, -1);	/* nothing yet: the handler answers later */
	uint8_t *answer = malloc(5);
	memcpy(answer, "world", 5);
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, answer, 5), 0);
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, NULL, 0), COMPAT_ENOTFOUND);	/* once */
	pump(&p.cl);
	CHECK_INT(x->grpc_status, 0);
	CHECK_INT(x->data_len, 10);
	CHECK(x->closed && x->close_code == 0);
	CHECK_INT(h2_conn_pending(p.srv), 0);
	CHECK_INT(h2_conn_streams(p.srv), 0);
	CHECK(h2_conn_idle_since(p.srv) > 0);
	CHECK_INT(p.seen.cancels, 0);
	pair_close(&p);
	free(body);
}

static void test_reset_cancels(void)
{
	struct pair p = { 0 };
	struct h2_limits lim = limits();
	size_t len;
	uint8_t *body = grpc_msg("x", &len);
	pair_open(&p, &lim, UNARY, 1 << 20);
	struct cstream *x = request(&p.cl, body, len, len, 1, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 1);
	nghttp2_submit_rst_stream(p.cl.s, NGHTTP2_FLAG_NONE, x->id, NGHTTP2_CANCEL);
	pump(&p.cl);
	CHECK_INT(p.seen.cancels, 1);
	CHECK_INT(p.seen.cancelled_id, x->id);
	CHECK_INT(h2_conn_pending(p.srv), 0);
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, malloc(1), 1), COMPAT_ENOTFOUND);
	pair_close(&p);
	free(body);
}

/* One connection may buffer max_conn_buffer bytes: a second stream over
 * it is answered RESOURCE_EXHAUSTED (then reset, NO_ERROR) while the first
 * goes on. */
static void test_connection_budget(void)
{
	struct pair p = { 0 };
	struct h2_limits lim = limits();
	lim.max_conn_buffer = 100 << 10;
	uint8_t *b1 = big(80 << 10), *b2 = big(40 << 10);
	pair_open(&p, &lim, UNARY, 1 << 20);
	struct cstream *x1 = request(&p.cl, b1, 80 << 10, 80 << 10, 0, NULL);
	pump(&p.cl);
	struct cstream *x2 = request(&p.cl, b2, 40 << 10, 40 << 10, 0, NULL);	/* still sending */
	pump(&p.cl);
	CHECK_INT(x2->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	CHECK(strstr(x2->grpc_message, "this connection may buffer at most 102400 bytes") != NULL);
	CHECK(x2->rst && x2->rst_code == NGHTTP2_NO_ERROR);
	CHECK_INT(x1->grpc_status, -1);	/* still sending, untouched */
	CHECK_INT(p.seen.requests, 0);
	pair_close(&p);
	free(b1);
	free(b2);
}

/* The shared budget: bytes beyond each connection's reserve count
 * against it; a small request still gets through on its reserve. */
static void test_total_budget(void)
{
	struct seen seen = { 0 };
	struct h2_budget budget = { .max = 50 << 10 };
	struct h2_limits lim = limits();
	lim.budget = &budget;
	struct h2_handler hd = { .request = on_request, .cancel = on_cancel, .ctx = &seen };
	struct h2_conn *a, *b, *c;
	struct client ca, cb, cc;
	size_t n = 100 << 10, slen;
	uint8_t *ba = big(n), *bb = big(n), *small = grpc_msg("small", &slen);
	CHECK_INT(h2_conn_new(&a, &lim, &hd), 0);
	CHECK_INT(h2_conn_new(&b, &lim, &hd), 0);
	CHECK_INT(h2_conn_new(&c, &lim, &hd), 0);
	client_new(&ca, a);
	client_new(&cb, b);
	client_new(&cc, c);
	struct cstream *xa = request(&ca, ba, n, n, 0, NULL);
	pump(&ca);
	CHECK_INT(xa->grpc_status, -1);
	CHECK_INT(budget.used, n - H2_CONN_RESERVE);
	struct cstream *xb = request(&cb, bb, n, n, 0, NULL);
	pump(&cb);
	CHECK_INT(xb->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	CHECK(strstr(xb->grpc_message, "the server is buffering too much") != NULL);
	struct cstream *xc = request(&cc, small, slen, slen, 1, NULL);
	pump(&cc);
	CHECK_INT(seen.requests, 1);	/* within its reserve */
	CHECK_INT(h2_conn_reply(c, xc->id, 0, NULL, NULL, 0), 0);
	h2_conn_free(a);	/* gives its share back */
	h2_conn_free(b);
	h2_conn_free(c);
	CHECK_INT(budget.used, 0);
	nghttp2_session_del(ca.s);
	nghttp2_session_del(cb.s);
	nghttp2_session_del(cc.s);
	free(ba);
	free(bb);
	free(small);
}

/* The prefix says more than max_message: refused before the bytes come. */
static void test_declared_length_over_limit(void)
{
	struct pair p = { 0 };
	struct h2_limits lim = limits();
	lim.max_message = 1000;
	uint8_t head[10] = { 0 };
	grpc_prefix_encode(head, 5000);
	pair_open(&p, &lim, UNARY, 1 << 20);
	struct cstream *x = request(&p.cl, head, 10, 10, 0, NULL);
	pump(&p.cl);
	CHECK_INT(x->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	CHECK(strstr(x->grpc_message, "larger than 1000 bytes") != NULL);
	CHECK(x->closed);
	pair_close(&p);
}

/* A request that never completes meets request_ms; a complete one whose
 * grpc-timeout passes is reset (CANCEL) and cancelled in the handler. */
static void test_deadlines(void)
{
	struct pair p = { 0 };
	struct h2_limits lim = limits();
	lim.request_ms = 100;
	size_t len;
	uint8_t *body = grpc_msg("abc", &len);
	pair_open(&p, &lim, UNARY, 1 << 20);
	struct cstream *half = request(&p.cl, body, len, 2, 0, NULL);
	struct cstream *timed = request(&p.cl, body, len, len, 1, "50m");
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 1);
	CHECK_INT(h2_conn_streams(p.srv), 2);
	CHECK(h2_conn_idle_since(p.srv) == 0);
	h2_conn_tick(p.srv, clock_now_ns() + 10 * 1000000LL);	/* neither due yet */
	pump(&p.cl);
	CHECK_INT(half->grpc_status, -1);
	CHECK(!timed->rst);
	h2_conn_tick(p.srv, clock_now_ns() + 500 * 1000000LL);
	pump(&p.cl);
	CHECK_INT(half->grpc_status, GRPC_DEADLINE_EXCEEDED);
	CHECK(strstr(half->grpc_message, "not complete within 100 ms") != NULL);
	CHECK(half->rst && half->rst_code == NGHTTP2_NO_ERROR);
	CHECK(timed->rst && timed->rst_code == NGHTTP2_CANCEL);
	CHECK_INT(p.seen.cancels, 1);
	CHECK_INT(p.seen.cancelled_id, timed->id);
	CHECK_INT(h2_conn_streams(p.srv), 0);
	CHECK(h2_conn_idle_since(p.srv) > 0);	/* half-open streams do not hold idleness off */
	pair_close(&p);
	free(body);
}

/* Graceful: after the notice and the GOAWAY, a request in progress is
 * still answered; a stream opened after it is refused. terminate cancels. */
static void test_shutdown_and_terminate(void)
{
	struct pair p = { 0 };
	struct h2_limits lim = limits();
	size_t len;
	uint8_t *body = grpc_msg("abc", &len);
	pair_open(&p, &lim, UNARY, 1 << 20);
	struct cstream *x = request(&p.cl, body, len, len, 1, NULL);
	pump(&p.cl);
	h2_conn_shutdown_notice(p.srv);
	pump(&p.cl);
	CHECK(p.cl.goaway && p.cl.goaway_code == NGHTTP2_NO_ERROR);
	h2_conn_shutdown(p.srv);
	pump(&p.cl);
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, NULL, 0), 0);
	pump(&p.cl);
	CHECK_INT(x->grpc_status, 0);
	CHECK(h2_conn_done(p.srv));
	pair_close(&p);

	memset(&p.seen, 0, sizeof p.seen);
	pair_open(&p, &lim, UNARY, 1 << 20);
	x = request(&p.cl, body, len, len, 1, NULL);
	pump(&p.cl);
	h2_conn_terminate(p.srv, NGHTTP2_ENHANCE_YOUR_CALM);
	CHECK_INT(p.seen.cancels, 1);
	pump(&p.cl);
	CHECK(p.cl.goaway && p.cl.goaway_code == NGHTTP2_ENHANCE_YOUR_CALM);
	CHECK(h2_conn_done(p.srv));
	pair_close(&p);
	free(body);
}

/* A client that opens no window for its answer: the answer is dropped
 * (RST_STREAM CANCEL) after request_ms, and its bytes given back. */
static void test_zero_window_stall(void)
{
	struct pair p = { 0 };
	struct h2_budget budget = { .max = 1 << 20 };
	struct h2_limits lim = limits();
	lim.request_ms = 100;
	lim.budget = &budget;
	size_t len;
	uint8_t *body = grpc_msg("abc", &len);
	pair_open(&p, &lim, UNARY, 0);
	struct cstream *x = request(&p.cl, body, len, len, 1, NULL);
	pump(&p.cl);
	size_t n = 200 << 10;
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, calloc(1, n), n), 0);
	pump(&p.cl);
	CHECK_INT(x->data_len, 0);	/* no window: nothing could be sent */
	CHECK(budget.used > 0);
	h2_conn_tick(p.srv, clock_now_ns() + 50 * 1000000LL);
	pump(&p.cl);
	CHECK(!x->rst);
	h2_conn_tick(p.srv, clock_now_ns() + 500 * 1000000LL);
	pump(&p.cl);
	CHECK(x->rst && x->rst_code == NGHTTP2_CANCEL);
	CHECK_INT(h2_conn_streams(p.srv), 0);
	CHECK_INT(budget.used, 0);
	pair_close(&p);
	free(body);
}

/* A streaming call: each message is answered as it completes (here one
 * and a half arrive, then the rest), the trailers come after the client's
 * END_STREAM, done() sees it all, and every buffered byte is given back. */
static void test_stream_answers_each_message(void)
{
	struct pair p = { .seen = { .sync = 1 } };
	struct h2_budget budget = { .max = 1 << 20 };
	struct h2_limits lim = limits();
	lim.budget = &budget;
	size_t len;
	uint8_t *body = messages(3, &len);
	pair_open(&p, &lim, STREAMING, 1 << 20);
	struct cstream *x = request_to(&p.cl, "/test.S/Stream", body, len, 7 + 4, 0, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 1);
	CHECK_INT(p.seen.len, 2);
	CHECK(memcmp(p.seen.msg, "m0", 2) == 0);
	CHECK_INT(x->data_len, GRPC_PREFIX + 5);	/* "re:m0", before the request ends */
	CHECK_INT(x->grpc_status, -1);
	CHECK(!x->closed);
	allow(&p.cl, x, len, 1);
	CHECK_INT(p.seen.requests, 3);
	CHECK(memcmp(p.seen.msg, "m2", 2) == 0);
	CHECK_INT(x->data_len, 3 * (GRPC_PREFIX + 5));
	CHECK_INT(x->grpc_status, 0);
	CHECK(x->closed && !x->rst);
	CHECK_INT(p.seen.dones, 1);
	CHECK_INT(p.seen.last_call.status, 0);
	CHECK_INT(p.seen.last_call.messages, 3);
	CHECK_INT(p.seen.last_call.note, 7);
	CHECK_INT(p.seen.last_call.http_status, 200);
	CHECK_STR(p.seen.last_call_path, "/test.S/Stream");
	CHECK_INT(h2_conn_pending(p.srv), 0);
	CHECK_INT(budget.used, 0);
	/* A unary call on the same connection is unchanged. */
	size_t ulen;
	uint8_t *u = grpc_msg("unary", &ulen);
	struct cstream *y = request(&p.cl, u, ulen, ulen, 1, NULL);
	p.seen.sync = 0;
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 4);
	CHECK_INT(h2_conn_reply(p.srv, y->id, 0, NULL, NULL, 0), 0);
	pump(&p.cl);
	CHECK_INT(y->grpc_status, 0);
	CHECK_INT(p.seen.dones, 2);
	CHECK_INT(p.seen.last_call.messages, 1);
	pair_close(&p);
	free(body);
	free(u);
}

/* A handler that answers later: the second message waits for the answer
 * to the first; a streaming call with no message ends OK. */
static void test_stream_one_at_a_time(void)
{
	struct pair p = { .seen = { .sync = 0 } };
	struct h2_limits lim = limits();
	size_t len;
	uint8_t *body = messages(2, &len);
	pair_open(&p, &lim, STREAMING, 1 << 20);
	struct cstream *x = request_to(&p.cl, "/test.S/Stream", body, len, len, 1, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 1);
	CHECK_INT(h2_conn_pending(p.srv), 1);
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, malloc(1), 1), 0);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 2);
	CHECK(memcmp(p.seen.msg, "m1", 2) == 0);
	CHECK_INT(x->grpc_status, -1);	/* the second is not answered yet */
	CHECK_INT(h2_conn_reply(p.srv, x->id, 0, NULL, NULL, 0), 0);	/* nothing to send for it */
	pump(&p.cl);
	CHECK_INT(x->grpc_status, 0);
	CHECK_INT(x->data_len, GRPC_PREFIX + 1);
	struct cstream *e = request_to(&p.cl, "/test.S/Stream", NULL, 0, 0, 1, NULL);
	pump(&p.cl);
	CHECK_INT(e->grpc_status, 0);
	CHECK(e->closed);
	CHECK_INT(p.seen.requests, 2);
	/* An error status ends the call, even with messages still to come. */
	struct cstream *z = request_to(&p.cl, "/test.S/Stream", body, len, len, 0, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 3);
	CHECK_INT(h2_conn_reply(p.srv, z->id, GRPC_NOT_FOUND, "no such thing", NULL, 0), 0);
	pump(&p.cl);
	CHECK_INT(z->grpc_status, GRPC_NOT_FOUND);
	CHECK_STR(z->grpc_message, "no such thing");
	CHECK(z->rst && z->rst_code == NGHTTP2_NO_ERROR);
	CHECK_INT(p.seen.requests, 3);
	pair_close(&p);
	free(body);
}

/* The bounds of a streaming call: messages per stream; a message larger
 * than max_message refused from its prefix; request_ms for a stream that
 * never ends (its answers so far delivered first). */
static void test_stream_bounds(void)
{
	struct pair p = { .seen = { .sync = 1 } };
	struct h2_budget budget = { .max = 1 << 20 };
	struct h2_limits lim = limits();
	lim.max_stream_messages = 2;
	lim.max_message = 1000;
	lim.request_ms = 100;
	lim.budget = &budget;
	size_t len;
	uint8_t *body = messages(5, &len);
	pair_open(&p, &lim, STREAMING, 1 << 20);
	struct cstream *x = request_to(&p.cl, "/test.S/Stream", body, len, len, 0, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 2);
	CHECK_INT(x->data_len, 2 * (GRPC_PREFIX + 5));
	CHECK_INT(x->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	CHECK_STR(x->grpc_message, "more than 2 request messages on one stream");
	CHECK(x->rst && x->rst_code == NGHTTP2_NO_ERROR);
	CHECK_INT(p.seen.last_call.status, GRPC_RESOURCE_EXHAUSTED);

	uint8_t head[GRPC_PREFIX + 7 + 10] = { 0 };
	memcpy(head, body, GRPC_PREFIX + 2);
	grpc_prefix_encode(head + GRPC_PREFIX + 2, 5000);
	struct cstream *h = request_to(&p.cl, "/test.S/Stream", head, sizeof head, sizeof head, 0, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 3);	/* the first message, not the huge one */
	CHECK_INT(h->grpc_status, GRPC_RESOURCE_EXHAUSTED);
	CHECK_STR(h->grpc_message, "request message larger than 1000 bytes");

	struct cstream *n = request_to(&p.cl, "/test.S/Stream", body, len, GRPC_PREFIX + 2, 0, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 4);
	h2_conn_tick(p.srv, clock_now_ns() + 500 * 1000000LL);
	pump(&p.cl);
	CHECK_INT(n->data_len, GRPC_PREFIX + 5);
	CHECK_INT(n->grpc_status, GRPC_DEADLINE_EXCEEDED);
	CHECK_STR(n->grpc_message, "request not complete within 100 ms");
	CHECK(n->rst && n->rst_code == NGHTTP2_NO_ERROR);
	CHECK_INT(h2_conn_streams(p.srv), 0);
	CHECK_INT(budget.used, 0);
	pair_close(&p);
	free(body);
}

/* A streaming path that is not a POST of application/grpc is refused at
 * its HEADERS; a stream cut off with its connection is reported. */
static void test_stream_refused_and_cut_off(void)
{
	struct pair p = { .seen = { .sync = 1 } };
	struct h2_limits lim = limits();
	pair_open(&p, &lim, STREAMING, 1 << 20);
	struct cstream *x = &p.cl.st[p.cl.nst++];
	nghttp2_nv nva[] = { NV(":method", "POST"), NV(":scheme", "http"), NV(":path", "/test.S/Stream"),
			     NV(":authority", "x"), NV("content-type", "text/plain") };
	x->grpc_status = -1;
	x->id = nghttp2_submit_request(p.cl.s, NULL, nva, 5, NULL, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.dones, 1);
	CHECK_INT(p.seen.last_call.http_status, 415);
	CHECK_INT(p.seen.last_call.status, -1);
	size_t len;
	uint8_t *body = messages(1, &len);
	request_to(&p.cl, "/test.S/Stream", body, len, len, 0, NULL);
	pump(&p.cl);
	CHECK_INT(p.seen.requests, 1);
	h2_conn_free(p.srv);
	CHECK_INT(p.seen.dones, 2);
	CHECK_INT(p.seen.last_call.error_code, NGHTTP2_CANCEL);
	CHECK_INT(p.seen.last_call.messages, 1);
	nghttp2_session_del(p.cl.s);
	free(body);
}

int main(void)
{
	RUN(test_request_answered_later);
	RUN(test_reset_cancels);
	RUN(test_connection_budget);
	RUN(test_total_budget);
	RUN(test_declared_length_over_limit);
	RUN(test_deadlines);
	RUN(test_shutdown_and_terminate);
	RUN(test_zero_window_stall);
	RUN(test_stream_answers_each_message);
	RUN(test_stream_one_at_a_time);
	RUN(test_stream_bounds);
	RUN(test_stream_refused_and_cut_off);
	return check_summary();
}
