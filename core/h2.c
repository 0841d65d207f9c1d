/* One gRPC server connection on nghttp2.
 *
 * A request is a stream: its headers are checked as they arrive (path,
 * content-type, grpc-encoding, grpc-timeout, the header-list budget), DATA
 * is gathered up to the message limit (the rest is counted and dropped),
 * and at the client's END_STREAM the one message is handed to the service.
 * The answer is HEADERS, one DATA (prefix + message) and trailers with
 * grpc-status; an error without a message is a single trailers-only
 * HEADERS frame. Streams live in a list owned by the connection and are
 * freed when nghttp2 closes them. */
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
	int content_type_ok, encoding_set, is_post, responded, fetching;
	int64_t deadline_ns;		/* 0: none */
	size_t header_bytes;
	struct buf body;		/* request bytes, up to the limit */
	int too_big;
	uint8_t *resp;			/* prefix + message */
	size_t resp_len, resp_off;
	int status;
	char message[256];
};

struct h2_conn {
	nghttp2_session *session;
	struct service *svc;
	struct h2_limits lim;
	struct h2_stream *streams;
	size_t nstreams;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	int broken;
	h2_submit_fn submit;
	void *submit_ctx;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

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

/* Answer with a message (status 0) or trailers-only (an error). */
static void respond(struct h2_stream *s, int status, const char *message, uint8_t *body, size_t len)
{
	nghttp2_session *session = s->conn->session;
	char st[4], msg[512];
	s->responded = 1;
	s->status = status;
	grpc_status_text(status, st);
	if (status != 0 || !body) {
		grpc_message_encode(message ? message : "", msg, sizeof msg);
		nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc"),
				      NV("grpc-status", st), NV("grpc-message", msg) };
		nghttp2_submit_response(session, s->id, hdrs, msg[0] ? 4 : 3, NULL);
		free(body);
		return;
	}
	s->resp = malloc(len + GRPC_PREFIX);
	if (!s->resp) {
		free(body);
		respond(s, GRPC_RESOURCE_EXHAUSTED, "out of memory", NULL, 0);
		return;
	}
	grpc_prefix_encode(s->resp, (uint32_t)len);
	memcpy(s->resp + GRPC_PREFIX, body, len);
	free(body);
	s->resp_len = len + GRPC_PREFIX;
	nghttp2_nv hdrs[] = { NV(":status", "200"), NV("content-type", "application/grpc") };
	nghttp2_data_provider prd = { .source.ptr = s, .read_callback = read_body };
	nghttp2_submit_response(session, s->id, hdrs, 2, &prd);
}

static void respond_http(struct h2_stream *s, const char *status)
{
	nghttp2_nv hdrs[] = { NV(":status", status) };
	s->responded = 1;
	nghttp2_submit_response(s->conn->session, s->id, hdrs, 1, NULL);
}

/* The client finished its request: check it and run the method. */
static struct h2_stream *stream_of(nghttp2_session *session, int32_t id)
{
	return nghttp2_session_get_stream_user_data(session, id);
}

static void finish_request(struct h2_stream *s)
{
	if (s->responded || s->fetching)
		return;
	if (!s->is_post || !s->path[0])
		return respond_http(s, "405");
	if (!s->content_type_ok)
		return respond_http(s, "415");
	if (!service_has_method(s->path))
		return respond(s, GRPC_UNIMPLEMENTED, "unknown method", NULL, 0);
	if (s->too_big) {
		char m[96];
		snprintf(m, sizeof m, "request message larger than %zu bytes", s->conn->lim.max_message);
		return respond(s, GRPC_RESOURCE_EXHAUSTED, m, NULL, 0);
	}
	int compressed;
	uint32_t mlen;
	if (grpc_prefix_decode(s->body.p, s->body.len, &compressed, &mlen) < 0)
		return respond(s, GRPC_UNIMPLEMENTED, "a unary call needs one request message", NULL, 0);
	if (compressed)
		return respond(s, s->encoding_set ? GRPC_UNIMPLEMENTED : GRPC_INTERNAL,
			       s->encoding_set ? "compressed messages are not supported"
					       : "compressed flag set without grpc-encoding", NULL, 0);
	if ((size_t)mlen + GRPC_PREFIX > s->body.len)
		return respond(s, GRPC_INTERNAL, "truncated request message", NULL, 0);
	if ((size_t)mlen + GRPC_PREFIX < s->body.len)
		return respond(s, GRPC_UNIMPLEMENTED, "a unary call takes exactly one request message", NULL, 0);
	struct service_reply r;
	service_call(s->conn->svc, s->path, s->body.p + GRPC_PREFIX, mlen, &r);
	if (r.fetch) {
		if (!s->conn->submit) {
			service_fetch_free(r.fetch);
			return respond(s, GRPC_UNAVAILABLE, "no fetcher for registry requests", NULL, 0);
		}
		s->fetching = 1;	/* the answer comes with h2_conn_fetch_done */
		s->conn->submit(s->conn->submit_ctx, s->conn, s->id, r.fetch);
		return;
	}
	respond(s, r.status, r.message, r.body, r.len);
}

void h2_conn_set_fetcher(struct h2_conn *c, h2_submit_fn submit, void *ctx)
{
	c->submit = submit;
	c->submit_ctx = ctx;
}

void h2_conn_fetch_done(struct h2_conn *c, int32_t id, struct service_fetch *f)
{
	struct h2_stream *s = stream_of(c->session, id);
	if (!s || s->responded) {	/* the client went away, or the deadline passed */
		service_fetch_free(f);
		return;
	}
	struct service_reply r;
	service_fetch_finish(c->svc, f, &r);
	respond(s, r.status, r.message, r.body, r.len);
}


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
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
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
	if (!s || s->too_big || s->responded)
		return 0;
	int rc = buf_append(&s->body, data, len, s->conn->lim.max_message + GRPC_PREFIX);
	if (rc == COMPAT_ELIMIT) {
		/* Bounded before anything is allocated: count and drop. */
		s->too_big = 1;
		buf_free(&s->body);
	}
	return rc == COMPAT_ENOMEM ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE : 0;
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

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user)
{
	struct h2_conn *c = user;
	for (struct h2_stream **pp = &c->streams; *pp; pp = &(*pp)->next) {
		if ((*pp)->id != id)
			continue;
		struct h2_stream *s = *pp;
		*pp = s->next;
		c->nstreams--;
		buf_free(&s->body);
		free(s->resp);
		free(s);
		break;
	}
	return 0;
}

int h2_conn_new(struct h2_conn **out, struct service *svc, const struct h2_limits *lim)
{
	struct h2_conn *c = calloc(1, sizeof *c);
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	int rc = COMPAT_ENOMEM;
	if (!c || nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
		goto out;
	c->svc = svc;
	c->lim = *lim;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
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
		if (n <= 0)
			break;
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

void h2_conn_shutdown(struct h2_conn *c)
{
	nghttp2_session_terminate_session2(c->session,
					   nghttp2_session_get_last_proc_stream_id(c->session),
					   NGHTTP2_NO_ERROR);
}

void h2_conn_tick(struct h2_conn *c, int64_t now)
{
	for (struct h2_stream *s = c->streams; s; s = s->next)
		if (s->deadline_ns && now > s->deadline_ns && !s->responded) {
			s->responded = 1;
			nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
		}
}

void h2_conn_free(struct h2_conn *c)
{
	if (!c)
		return;
	if (c->session)
		nghttp2_session_del(c->session);	/* closes the streams (on_stream_close) */
	while (c->streams) {
		struct h2_stream *s = c->streams;
		c->streams = s->next;
		buf_free(&s->body);
		free(s->resp);
		free(s);
	}
	free(c->out);
	free(c);
}
