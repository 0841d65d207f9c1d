/* One gRPC server connection on nghttp2.
 *
 * A request is a stream: its headers are checked as they arrive (path,
 * content-type, grpc-encoding, grpc-timeout, the header-list budget), DATA
 * is gathered up to the message limit and the buffer budgets, and at the
 * client's END_STREAM the one message goes to the handler. The answer is
 * HEADERS, one DATA (prefix + message) and trailers with grpc-status; an
 * error without a message is a single trailers-only HEADERS frame. An
 * answer given before the client finished sending (too large, over budget,
 * too slow) is followed by RST_STREAM(NO_ERROR), as gRPC does. Streams
 * live in a list owned by the connection and are freed when nghttp2 closes
 * them. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "err.h"
#include "grpc.h"
#include "h2.h"

struct h2_stream {
	int32_t id;
	struct h2_conn *conn;
	struct h2_stream *next;
	char path[160];
	int content_type_ok, encoding_set, is_post;
	int complete;			/* the client's END_STREAM arrived */
	int pending;			/* with the handler, not answered yet */
	int responded;
	int reset_after;		/* answered before the client finished */
	int stalled;			/* reset: the answer was not taken in time */
	int64_t born_ns, answered_ns;
	int64_t deadline_ns;		/* grpc-timeout; 0: none */
	size_t header_bytes;
	struct buf body;		/* request bytes, up to the limit */
	size_t body_charged, resp_charged;
	uint8_t *resp;			/* prefix + message */
	size_t resp_len, resp_off;
	int status;
};

struct h2_conn {
	nghttp2_session *session;
	struct h2_limits lim;
	struct h2_handler h;
	struct h2_stream *streams;
	size_t nstreams, npending, nrequests;
	size_t buffered;		/* request + reply bytes held (the budgets) */
	int64_t idle_since_ns;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	int broken;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

/* ---- the buffer budgets ---- */

static size_t over_reserve(size_t buffered)
{
	return buffered > H2_CONN_RESERVE ? buffered - H2_CONN_RESERVE : 0;
}

enum { FITS = 0, OVER_CONN = 1, OVER_TOTAL = 2 };

/* Take n more buffered bytes for c, if both budgets allow. */
static int charge(struct h2_conn *c, size_t n)
{
	if (n > c->lim.max_conn_buffer || c->buffered > c->lim.max_conn_buffer - n)
		return OVER_CONN;
	size_t extra = over_reserve(c->buffered + n) - over_reserve(c->buffered);
	struct h2_budget *b = c->lim.budget;
	if (b && extra && (extra > b->max || b->used > b->max - extra))
		return OVER_TOTAL;
	if (b)
		b->used += extra;
	c->buffered += n;
	return FITS;
}

static void release(struct h2_conn *c, size_t n)
{
	size_t less = over_reserve(c->buffered) - over_reserve(c->buffered - n);
	if (c->lim.budget)
		c->lim.budget->used -= less;
	c->buffered -= n;
}

static void over_budget_message(const struct h2_conn *c, int why, const char *what, size_t n, char *m,
				size_t cap)
{
	if (why == OVER_CONN)
		snprintf(m, cap, "%s of %zu bytes: this connection may buffer at most %zu bytes", what, n,
			 c->lim.max_conn_buffer);
	else
		snprintf(m, cap, "%s of %zu bytes: the server is buffering too much for its clients; try again later",
			 what, n);
}

static void drop_body(struct h2_stream *s)
{
	release(s->conn, s->body_charged);
	s->body_charged = 0;
	buf_free(&s->body);
}

/* ---- answers ---- */

static ssize_t read_body(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *user)
{
	struct h2_stream *s = src->ptr;
	size_t n = s->resp_len - s->resp_off;
	if (n > length)
		n = length;
	memcpy(buf, s->resp + s->resp_off, n);
	s->resp_off += n;
	if (s->resp_off == s->resp_len) {
		char st[4];
		grpc_status_text(s->status, st);
		nghttp2_nv trailers[] = { NV("grpc-status", st) };
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (nghttp2_submit_trailer(session, id, trailers, 1) != 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

/* An answer before the client's END_STREAM ends the stream for both: a
 * RST_STREAM(NO_ERROR) follows it once it is sent (on_frame_send; queued
 * now, it would make nghttp2 drop the answer). */
static void end_early(struct h2_stream *s)
{
	s->reset_after = !s->complete;
}

static void respond_status(struct h2_stream *s, int status, const char *message)
{
	char st[4], msg[512];
	s->responded = 1;
	s->answered_ns = now_ns();
	s->status = status;
	grpc_status_text(status, st);
	grpc_message_encode(message ? message : "", msg, sizeof msg);
	nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc"),
			      NV("grpc-status", st), NV("grpc-message", msg) };
	nghttp2_submit_response(s->conn->session, s->id, hdrs, msg[0] ? 4 : 3, NULL);
	end_early(s);
}

/* Answer with a message (status 0 and a body) or trailers-only. Takes
 * body. Returns 0 or COMPAT_ELIMIT (no room for the body: answered
 * RESOURCE_EXHAUSTED instead). */
static int respond(struct h2_stream *s, int status, const char *message, uint8_t *body, size_t len)
{
	if (status != 0 || !body) {
		free(body);
		respond_status(s, status, message);
		return 0;
	}
	char m[200];
	int why = len > SIZE_MAX - GRPC_PREFIX || len > UINT32_MAX ? OVER_CONN : charge(s->conn, len + GRPC_PREFIX);
	if (why != FITS) {
		free(body);
		over_budget_message(s->conn, why, "reply", len, m, sizeof m);
		respond_status(s, GRPC_RESOURCE_EXHAUSTED, m);
		return COMPAT_ELIMIT;
	}
	s->resp_charged = len + GRPC_PREFIX;
	s->resp = malloc(len + GRPC_PREFIX);
	if (!s->resp) {
		free(body);
		respond_status(s, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return COMPAT_ELIMIT;
	}
	grpc_prefix_encode(s->resp, (uint32_t)len);
	memcpy(s->resp + GRPC_PREFIX, body, len);
	free(body);
	s->resp_len = len + GRPC_PREFIX;
	s->responded = 1;
	s->answered_ns = now_ns();
	s->status = 0;
	nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_body };
	nghttp2_submit_response(s->conn->session, s->id, hdrs, 2, &prd);
	end_early(s);
	return 0;
}

static void respond_http(struct h2_stream *s, const char *status)
{
	nghttp2_nv hdrs[] = { NV(":status", status) };
	s->responded = 1;
	nghttp2_submit_response(s->conn->session, s->id, hdrs, 1, NULL);
	end_early(s);
}

static struct h2_stream *stream_of(nghttp2_session *session, int32_t id)
{
	return nghttp2_session_get_stream_user_data(session, id);
}

/* The request will not be answered: tell the handler, once. */
static void cancel_pending(struct h2_stream *s)
{
	if (!s->pending)
		return;
	s->pending = 0;
	s->conn->npending--;
	if (s->conn->h.cancel)
		s->conn->h.cancel(s->conn->h.ctx, s->conn, s->id);
}

/* The client finished its request: check it and hand it over. */
static void finish_request(struct h2_stream *s)
{
	s->complete = 1;
	if (s->responded)
		return;
	if (!s->is_post || !s->path[0])
		return respond_http(s, "405");
	if (!s->content_type_ok)
		return respond_http(s, "415");
	int compressed;
	uint32_t mlen;
	if (grpc_prefix_decode(s->body.p, s->body.len, &compressed, &mlen) < 0)
		return respond_status(s, GRPC_UNIMPLEMENTED, "a unary call needs one request message");
	if (compressed)
		return respond_status(s, s->encoding_set ? GRPC_UNIMPLEMENTED : GRPC_INTERNAL,
				      s->encoding_set ? "compressed messages are not supported"
						      : "compressed flag set without grpc-encoding");
	if ((size_t)mlen + GRPC_PREFIX > s->body.len)
		return respond_status(s, GRPC_INTERNAL, "truncated request message");
	if ((size_t)mlen + GRPC_PREFIX < s->body.len)
		return respond_status(s, GRPC_UNIMPLEMENTED, "a unary call takes exactly one request message");
	struct h2_conn *c = s->conn;
	s->pending = 1;
	c->npending++;
	c->h.request(c->h.ctx, c, s->id, s->path, s->body.p + GRPC_PREFIX, mlen);
	drop_body(s);	/* the handler copied what it keeps */
}

int h2_conn_reply(struct h2_conn *c, int32_t id, int status, const char *message, uint8_t *body, size_t len)
{
	struct h2_stream *s = stream_of(c->session, id);
	if (!s || !s->pending || s->responded) {
		free(body);
		return COMPAT_ENOTFOUND;
	}
	s->pending = 0;
	c->npending--;
	return respond(s, status, message, body, len);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
	struct h2_conn *c = user;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct h2_stream *s = calloc(1, sizeof *s);
	if (!s)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	s->id = frame->hd.stream_id;
	s->conn = c;
	s->born_ns = now_ns();
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
	c->nrequests++;
	c->idle_since_ns = 0;
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct h2_stream *s = stream_of(session, frame->hd.stream_id);
	if (!s)
		return 0;
	/* nghttp2 does not enforce our header-list size on receive. */
	s->header_bytes += namelen + valuelen + 32;
	if (s->header_bytes > s->conn->lim.max_header_list)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;	/* resets the stream */
	if (frame->headers.cat == NGHTTP2_HCAT_HEADERS)
		return 0;	/* trailers from the client: ignored */
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
	if (IS(":path")) {
		snprintf(s->path, sizeof s->path, "%.*s", (int)valuelen, (const char *)value);
		if (valuelen >= sizeof s->path)
			s->path[0] = '\0';
	} else if (IS(":method")) {
		s->is_post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
	} else if (IS("content-type")) {
		s->content_type_ok = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
				     (valuelen == 16 || value[16] == '+' || value[16] == ';');
	} else if (IS("grpc-encoding")) {
		s->encoding_set = !(valuelen == 8 && memcmp(value, "identity", 8) == 0);
	} else if (IS("grpc-timeout")) {
		char v[16];
		snprintf(v, sizeof v, "%.*s", (int)(valuelen < 15 ? valuelen : 15), (const char *)value);
		int64_t t = grpc_timeout_parse(v);
		if (t >= 0)
			s->deadline_ns = now_ns() + t;
	}
#undef IS
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user)
{
	struct h2_stream *s = stream_of(session, id);
	if (!s || s->responded)
		return 0;
	struct h2_conn *c = s->conn;
	char m[200];
	int why = charge(c, len);
	if (why != FITS) {
		over_budget_message(c, why, "request", s->body.len + len, m, sizeof m);
		drop_body(s);
		respond_status(s, GRPC_RESOURCE_EXHAUSTED, m);
		return 0;
	}
	s->body_charged += len;
	int rc = buf_append(&s->body, data, len, c->lim.max_message + GRPC_PREFIX);
	int compressed;
	uint32_t mlen;
	/* The prefix states the length: refuse a message over the limit as
	 * soon as it is known, before its bytes arrive. */
	if (rc == COMPAT_ELIMIT || (rc == 0 && grpc_prefix_decode(s->body.p, s->body.len, &compressed, &mlen) == 0 &&
				    mlen > c->lim.max_message)) {
		snprintf(m, sizeof m, "request message larger than %zu bytes", c->lim.max_message);
		drop_body(s);
		respond_status(s, GRPC_RESOURCE_EXHAUSTED, m);
	} else if (rc == COMPAT_ENOMEM) {
		drop_body(s);
		respond_status(s, GRPC_RESOURCE_EXHAUSTED, "out of memory");
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
	if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		struct h2_stream *s = stream_of(session, frame->hd.stream_id);
		if (s)
			finish_request(s);
	}
	return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
	if (frame->hd.type != NGHTTP2_HEADERS || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct h2_stream *s = stream_of(session, frame->hd.stream_id);
	if (s && s->reset_after && !s->complete) {
		s->reset_after = 0;
		nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
	}
	return 0;
}

static void stream_free(struct h2_conn *c, struct h2_stream *s)
{
	release(c, s->body_charged + s->resp_charged);
	buf_free(&s->body);
	free(s->resp);
	free(s);
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user)
{
	struct h2_conn *c = user;
	for (struct h2_stream **pp = &c->streams; *pp; pp = &(*pp)->next) {
		if ((*pp)->id != id)
			continue;
		struct h2_stream *s = *pp;
		cancel_pending(s);
		*pp = s->next;
		c->nstreams--;
		if (!c->nstreams)
			c->idle_since_ns = now_ns();
		nghttp2_session_set_stream_user_data(session, id, NULL);
		stream_free(c, s);
		break;
	}
	return 0;
}

int h2_conn_new(struct h2_conn **out, const struct h2_limits *lim, const struct h2_handler *h)
{
	struct h2_conn *c = calloc(1, sizeof *c);
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	int rc = COMPAT_ENOMEM;
	if (!c || nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
		goto out;
	c->lim = *lim;
	c->h = *h;
	c->idle_since_ns = now_ns();
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
	/* The floods of PROTOCOL-NOTES: rapid reset and CONTINUATION are
	 * limited explicitly; PING/SETTINGS floods by nghttp2's defaults. */
	nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
	nghttp2_option_set_max_continuations(opt, 8);
	if (nghttp2_session_server_new2(&c->session, cb, c, opt) != 0)
		goto out;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, lim->max_streams },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20 },
		{ NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, lim->max_header_list },
	};
	if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 3) != 0 ||
	    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 1 << 20) != 0)
		goto out;
	rc = 0;
out:
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	if (rc < 0) {
		h2_conn_free(c);
		c = NULL;
	}
	*out = c;
	return rc;
}

int h2_conn_feed(struct h2_conn *c, const uint8_t *buf, size_t len)
{
	if (c->broken)
		return COMPAT_EPROTO;
	ssize_t n = nghttp2_session_mem_recv(c->session, buf, len);
	if (n < 0) {
		c->broken = 1;
		/* A GOAWAY is queued for most errors; it goes out with the output. */
		if (n != NGHTTP2_ERR_FLOODED && n != NGHTTP2_ERR_BAD_CLIENT_MAGIC)
			nghttp2_session_terminate_session(c->session, NGHTTP2_PROTOCOL_ERROR);
		return COMPAT_EPROTO;
	}
	return 0;
}

const uint8_t *h2_conn_output(struct h2_conn *c, size_t *len)
{
	while (c->out_len - c->out_off < c->lim.max_output) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->session, &data);
		if (n <= 0) {
			if (n < 0)
				c->broken = 1;
			break;
		}
		if (c->out_off && c->out_off == c->out_len)
			c->out_off = c->out_len = 0;
		if (c->out_len + (size_t)n > c->out_cap) {
			size_t ncap = c->out_cap ? c->out_cap : 16384;
			while (ncap < c->out_len + (size_t)n)
				ncap *= 2;
			uint8_t *nb = realloc(c->out, ncap);
			if (!nb) {
				c->broken = 1;
				break;
			}
			c->out = nb;
			c->out_cap = ncap;
		}
		memcpy(c->out + c->out_len, data, (size_t)n);
		c->out_len += (size_t)n;
	}
	*len = c->out_len - c->out_off;
	return c->out + c->out_off;
}

void h2_conn_consumed(struct h2_conn *c, size_t n)
{
	c->out_off += n;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

int h2_conn_backlogged(const struct h2_conn *c)
{
	return c->out_len - c->out_off >= c->lim.max_output;
}

int h2_conn_done(const struct h2_conn *c)
{
	if (c->out_len > c->out_off)
		return 0;
	if (c->broken)
		return !nghttp2_session_want_write(c->session);
	return !nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session);
}

size_t h2_conn_streams(const struct h2_conn *c)
{
	return c->nstreams;
}

size_t h2_conn_pending(const struct h2_conn *c)
{
	return c->npending;
}

size_t h2_conn_requests(const struct h2_conn *c)
{
	return c->nrequests;
}

int64_t h2_conn_idle_since(const struct h2_conn *c)
{
	return c->idle_since_ns;
}

void h2_conn_shutdown_notice(struct h2_conn *c)
{
	nghttp2_submit_shutdown_notice(c->session);
}

void h2_conn_shutdown(struct h2_conn *c)
{
	nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(c->session),
			      NGHTTP2_NO_ERROR, NULL, 0);
}

void h2_conn_terminate(struct h2_conn *c, uint32_t error_code)
{
	for (struct h2_stream *s = c->streams; s; s = s->next)
		cancel_pending(s);
	nghttp2_session_terminate_session(c->session, error_code);
}

void h2_conn_tick(struct h2_conn *c, int64_t now)
{
	int64_t limit = (int64_t)c->lim.request_ms * 1000000;
	for (struct h2_stream *s = c->streams; s; s = s->next) {
		if (s->responded) {
			/* A client that opens no window for its answer (a zero-window
			 * stall) does not keep it buffered for ever. */
			if (limit && s->answered_ns && !s->stalled && now - s->answered_ns > limit) {
				s->stalled = 1;
				nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
			}
			continue;
		}
		if (s->deadline_ns && now > s->deadline_ns) {
			/* The client gave up: nobody waits for an answer. */
			s->responded = 1;
			cancel_pending(s);
			nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
		} else if (limit && !s->complete && now - s->born_ns > limit) {
			char m[120];
			snprintf(m, sizeof m, "request not complete within %d ms", c->lim.request_ms);
			drop_body(s);
			respond_status(s, GRPC_DEADLINE_EXCEEDED, m);
		}
	}
}

void h2_conn_free(struct h2_conn *c)
{
	if (!c)
		return;
	if (c->session)
		nghttp2_session_del(c->session);	/* calls no stream-close callback */
	while (c->streams) {
		struct h2_stream *s = c->streams;
		c->streams = s->next;
		stream_free(c, s);
	}
	free(c->out);
	free(c);
}
