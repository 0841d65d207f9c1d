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
 * them.
 *
 * A streaming call is checked at its HEADERS instead, and its messages are
 * cut out of the gathered bytes as they complete (deliver). Replies queue
 * in the stream's output (resp), which the data provider (read_body) hands
 * to nghttp2 as the window allows: it defers while the queue is empty and
 * the call goes on, and is resumed when a reply is queued; once the call's
 * status is decided (final) and the queue drained, the trailers go. Bytes
 * are given back to the budgets as they are consumed (request) and handed
 * to nghttp2 (reply). A unary call uses the same queue with one message. */
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "grpc.h"
#include "h2.h"

/* The most DATA one on_data_chunk callback carries: our
 * SETTINGS_MAX_FRAME_SIZE, which we leave at the protocol's default. */
#define MAX_FRAME 16384

struct h2_stream {
	int32_t id;
	struct h2_conn *conn;
	struct h2_stream *next;
	char path[160];
	int content_type_ok, encoding_set, is_post;
	int complete;			/* the client's END_STREAM arrived */
	int pending;			/* with the handler, not answered yet */
	int responded;			/* the call's status is decided */
	int reset_after;		/* answered before the client finished */
	int stalled;			/* reset: the answer was not taken in time */
	int streaming;			/* a streaming call (checked at its HEADERS) */
	int headers_sent;		/* HEADERS with a data provider submitted */
	int final;			/* trailers go once resp is drained */
	int deferred;			/* read_body deferred: resume when resp grows */
	int delivering;			/* inside deliver(): no reentry */
	int http_status, note;
	int64_t born_ns, answered_ns;
	int64_t deadline_ns;		/* grpc-timeout; 0: none */
	size_t header_bytes, messages;
	struct buf body;		/* request bytes, up to the limit */
	size_t body_off;		/* streaming: bytes of body handed over already */
	size_t body_charged, resp_charged;
	uint8_t *resp;			/* reply messages (prefix + message) to send */
	size_t resp_len, resp_off, resp_cap;
	char *final_message;		/* grpc-message of a status decided after
					   HEADERS went out (malloc'd, encoded) */
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
	int64_t feed_now;	/* while h2_conn_feed runs: its time, read once */
};

/* The time for c: one clock read for all the requests of one read from
 * the socket (a batch of 16 requests read three clocks each otherwise). */
static int64_t conn_now(const struct h2_conn *c)
{
	return c->feed_now ? c->feed_now : clock_now_ns();
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
	if (b && extra) {
		/* The budget is shared by the server's loops. */
		size_t used = __atomic_load_n(&b->used, __ATOMIC_RELAXED);
		do {
			if (extra > b->max || used > b->max - extra)
				return OVER_TOTAL;
		} while (!__atomic_compare_exchange_n(&b->used, &used, used + extra, 1, __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED));
	}
	c->buffered += n;
	return FITS;
}

static void release(struct h2_conn *c, size_t n)
{
	size_t less = over_reserve(c->buffered) - over_reserve(c->buffered - n);
	if (c->lim.budget && less)
		__atomic_sub_fetch(&c->lim.budget->used, less, __ATOMIC_RELAXED);
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
	s->body_off = 0;
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
	if (n) {
		memcpy(buf, s->resp + s->resp_off, n);
		s->resp_off += n;
		/* In nghttp2's hands now: given back to the budgets. */
		release(s->conn, n);
		s->resp_charged -= n;
	}
	if (s->resp_off < s->resp_len)
		return (ssize_t)n;
	s->resp_off = s->resp_len = 0;
	if (!s->final) {
		if (n)
			return (ssize_t)n;
		s->deferred = 1;	/* resumed when a reply is queued, or the end decided */
		return NGHTTP2_ERR_DEFERRED;
	}
	char st[4];
	const char *m = s->final_message ? s->final_message : "";
	grpc_status_text(s->status, st);
	nghttp2_nv trailers[] = { NV("grpc-status", st), NV("grpc-message", m) };
	*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
	if (nghttp2_submit_trailer(session, id, trailers, m[0] ? 2 : 1) != 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	return (ssize_t)n;
}

static void resume(struct h2_stream *s)
{
	if (s->deferred) {
		s->deferred = 0;
		nghttp2_session_resume_data(s->conn->session, s->id);
	}
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
	s->answered_ns = conn_now(s->conn);
	s->status = status;
	grpc_status_text(status, st);
	grpc_message_encode(message ? message : "", msg, sizeof msg);
	nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc"),
			      NV("grpc-status", st), NV("grpc-message", msg) };
	nghttp2_submit_response(s->conn->session, s->id, hdrs, msg[0] ? 4 : 3, NULL);
	end_early(s);
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

/* Decide the call's status: before any HEADERS went out, a trailers-only
 * answer; after, trailers that follow the replies queued. A message still
 * with the handler is cancelled. */
static void end_call(struct h2_stream *s, int status, const char *message)
{
	cancel_pending(s);
	if (!s->headers_sent)
		return respond_status(s, status, message);
	char msg[512];
	s->responded = 1;
	s->final = 1;
	s->answered_ns = conn_now(s->conn);
	s->status = status;
	grpc_message_encode(message ? message : "", msg, sizeof msg);
	free(s->final_message);
	s->final_message = msg[0] ? strdup(msg) : NULL;	/* none when out of memory */
	resume(s);
	end_early(s);
}

/* Queue one reply message (takes body): HEADERS with the data provider
 * the first time. Returns 0, or COMPAT_ELIMIT (no room in the budgets: the
 * call is ended RESOURCE_EXHAUSTED). */
static int queue_message(struct h2_stream *s, uint8_t *body, size_t len)
{
	struct h2_conn *c = s->conn;
	char m[200];
	int why = len > SIZE_MAX - GRPC_PREFIX || len > UINT32_MAX ? OVER_CONN : charge(c, len + GRPC_PREFIX);
	size_t need = len + GRPC_PREFIX;
	if (why != FITS) {
		free(body);
		over_budget_message(c, why, "reply", len, m, sizeof m);
		end_call(s, GRPC_RESOURCE_EXHAUSTED, m);
		return COMPAT_ELIMIT;
	}
	if (s->resp_off) {
		memmove(s->resp, s->resp + s->resp_off, s->resp_len - s->resp_off);
		s->resp_len -= s->resp_off;
		s->resp_off = 0;
	}
	if (s->resp_len + need > s->resp_cap) {
		/* Exactly one message's worth the first time (a unary reply). */
		size_t ncap = s->resp_len + need;
		if (s->resp_cap && ncap < 2 * s->resp_cap)
			ncap = 2 * s->resp_cap;
		uint8_t *nb = realloc(s->resp, ncap);
		if (!nb) {
			release(c, need);
			free(body);
			end_call(s, GRPC_RESOURCE_EXHAUSTED, "out of memory");
			return COMPAT_ELIMIT;
		}
		s->resp = nb;
		s->resp_cap = ncap;
	}
	s->resp_charged += need;
	grpc_prefix_encode(s->resp + s->resp_len, (uint32_t)len);
	if (len)
		memcpy(s->resp + s->resp_len + GRPC_PREFIX, body, len);
	s->resp_len += need;
	free(body);
	if (s->headers_sent) {
		resume(s);
		return 0;
	}
	nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_body };
	s->headers_sent = 1;
	nghttp2_submit_response(c->session, s->id, hdrs, 2, &prd);
	return 0;
}

/* Answer a unary call with a message (status 0 and a body) or
 * trailers-only. Takes body. Returns 0 or COMPAT_ELIMIT (no room for the
 * body: answered RESOURCE_EXHAUSTED instead). */
static int respond(struct h2_stream *s, int status, const char *message, uint8_t *body, size_t len)
{
	if (status != 0 || !body) {
		free(body);
		respond_status(s, status, message);
		return 0;
	}
	int rc = queue_message(s, body, len);
	if (rc == 0)
		end_call(s, 0, NULL);
	return rc;
}

static void respond_http(struct h2_stream *s, const char *status)
{
	nghttp2_nv hdrs[] = { NV(":status", status) };
	s->responded = 1;
	s->http_status = atoi(status);
	nghttp2_submit_response(s->conn->session, s->id, hdrs, 1, NULL);
	end_early(s);
}

static struct h2_stream *stream_of(nghttp2_session *session, int32_t id)
{
	return nghttp2_session_get_stream_user_data(session, id);
}

/* A streaming call: hand its complete messages to the handler, one at a
 * time (the next once the previous is answered), then give their bytes
 * back; after the client's END_STREAM with nothing left, end the call. */
static void deliver(struct h2_stream *s)
{
	struct h2_conn *c = s->conn;
	char m[120];
	if (s->delivering)
		return;	/* h2_conn_reply from inside request(): the loop below goes on */
	s->delivering = 1;
	while (!s->responded && !s->pending) {
		size_t have = s->body.len - s->body_off;
		int compressed;
		uint32_t mlen;
		if (have < GRPC_PREFIX) {
			if (s->complete)
				end_call(s, have ? GRPC_INTERNAL : GRPC_OK, have ? "truncated request message" : NULL);
			break;
		}
		const uint8_t *p = s->body.p + s->body_off;
		grpc_prefix_decode(p, have, &compressed, &mlen);
		if (compressed) {
			end_call(s, s->encoding_set ? GRPC_UNIMPLEMENTED : GRPC_INTERNAL,
				 s->encoding_set ? "compressed messages are not supported"
						 : "compressed flag set without grpc-encoding");
			break;
		}
		/* Refused as soon as the prefix says so, before its bytes come. */
		if (mlen > c->lim.max_message) {
			snprintf(m, sizeof m, "request message larger than %zu bytes", c->lim.max_message);
			end_call(s, GRPC_RESOURCE_EXHAUSTED, m);
			break;
		}
		if (have - GRPC_PREFIX < mlen) {
			if (s->complete)
				end_call(s, GRPC_INTERNAL, "truncated request message");
			break;
		}
		if (c->lim.max_stream_messages && s->messages >= c->lim.max_stream_messages) {
			snprintf(m, sizeof m, "more than %u request messages on one stream", c->lim.max_stream_messages);
			end_call(s, GRPC_RESOURCE_EXHAUSTED, m);
			break;
		}
		s->messages++;
		s->pending = 1;
		c->npending++;
		s->body_off += GRPC_PREFIX + (size_t)mlen;
		c->h.request(c->h.ctx, c, s->id, s->path, p + GRPC_PREFIX, mlen);
	}
	s->delivering = 0;
	if (s->responded) {
		drop_body(s);
	} else if (s->body_off) {
		/* Keep only the message still arriving. */
		size_t rest = s->body.len - s->body_off;
		memmove(s->body.p, s->body.p + s->body_off, rest);
		s->body.len = rest;
		s->body.p[rest] = '\0';
		release(c, s->body_off);
		s->body_charged -= s->body_off;
		s->body_off = 0;
	}
}

/* HEADERS complete: a streaming call is checked now (its messages go to
 * the handler before the client's END_STREAM); a unary one at the end. */
static void begin_call(struct h2_stream *s)
{
	struct h2_conn *c = s->conn;
	if (!c->h.streaming || !s->path[0] || !c->h.streaming(c->h.ctx, s->path))
		return;
	if (!s->is_post)
		return respond_http(s, "405");
	if (!s->content_type_ok)
		return respond_http(s, "415");
	s->streaming = 1;
}

/* The client finished its request: check it and hand it over. */
static void finish_request(struct h2_stream *s)
{
	s->complete = 1;
	if (s->responded)
		return;
	if (s->streaming)
		return deliver(s);
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
	s->messages = 1;
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
	if (!s->streaming)
		return respond(s, status, message, body, len);
	int rc = 0;
	if (status != 0) {
		free(body);
		end_call(s, status, message);
	} else if (body) {
		rc = queue_message(s, body, len);
	}
	deliver(s);	/* the next message, or the end */
	return rc;
}

int h2_conn_note(struct h2_conn *c, int32_t id, int note)
{
	struct h2_stream *s = stream_of(c->session, id);
	if (!s)
		return COMPAT_ENOTFOUND;
	s->note = note;
	return 0;
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
	s->born_ns = conn_now(c);
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
			s->deadline_ns = conn_now(s->conn) + t;
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
		over_budget_message(c, why, "request", s->body.len - s->body_off + len, m, sizeof m);
		drop_body(s);
		end_call(s, GRPC_RESOURCE_EXHAUSTED, m);
		return 0;
	}
	s->body_charged += len;
	if (s->streaming) {
		/* What is kept: a message still arriving, and what comes after it
		 * in this frame (deliver cuts the complete ones out). */
		int rc = buf_append(&s->body, data, len, c->lim.max_message + GRPC_PREFIX + MAX_FRAME);
		if (rc < 0) {
			drop_body(s);
			end_call(s, GRPC_RESOURCE_EXHAUSTED, rc == COMPAT_ELIMIT ? "request messages arrive faster than "
				 "they are answered" : "out of memory");
			return 0;
		}
		deliver(s);
		return 0;
	}
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
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		struct h2_stream *s = stream_of(session, frame->hd.stream_id);
		if (s)
			begin_call(s);
	}
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

/* Tell the handler's done() what became of the request. */
static void report(struct h2_conn *c, struct h2_stream *s, uint32_t error_code)
{
	struct h2_call call = {
		.path = s->path,
		.status = s->responded && !s->http_status ? s->status : -1,
		.http_status = s->http_status ? s->http_status : 200,
		.error_code = error_code,
		.note = s->note,
		.messages = s->messages,
		.us = (conn_now(c) - s->born_ns) / 1000,
	};
	c->h.done(c->h.ctx, c, s->id, &call);
}

static void stream_free(struct h2_conn *c, struct h2_stream *s)
{
	release(c, s->body_charged + s->resp_charged);
	buf_free(&s->body);
	free(s->resp);
	free(s->final_message);
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
		if (c->h.done)
			report(c, s, error_code);
		*pp = s->next;
		c->nstreams--;
		if (!c->nstreams)
			c->idle_since_ns = conn_now(c);
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
	c->idle_since_ns = clock_now_ns();
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
	c->feed_now = clock_now_ns();
	ssize_t n = nghttp2_session_mem_recv(c->session, buf, len);
	c->feed_now = 0;
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
			s->status = GRPC_DEADLINE_EXCEEDED;	/* as the client saw it */
			cancel_pending(s);
			nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
		} else if (limit && !s->complete && now - s->born_ns > limit) {
			char m[120];
			snprintf(m, sizeof m, "request not complete within %d ms", c->lim.request_ms);
			drop_body(s);
			end_call(s, GRPC_DEADLINE_EXCEEDED, m);
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
		if (c->h.done)
			report(c, s, NGHTTP2_CANCEL);	/* cut off with its connection */
		stream_free(c, s);
	}
	free(c->out);
	free(c);
}
