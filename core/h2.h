/* The server side of gRPC over HTTP/2: glue between nghttp2 (framing,
 * HPACK, flow control) and the gRPC rules of grpc.h. Bytes in
 * (h2_conn_feed), bytes out (h2_conn_output); whoever owns the socket moves
 * them. A complete request (one gRPC message) goes to the handler it is
 * given, which answers then or later with h2_conn_reply: h2 knows nothing of
 * the service, so it can be tested and fuzzed alone.
 *
 * Two kinds of call, as the handler's streaming() says for each path:
 * - unary: the one request message goes to request() at the client's
 *   END_STREAM; h2_conn_reply answers and ends the call.
 * - streaming (bidirectional, as server reflection): each request message
 *   goes to request() as soon as it is complete, the next one only once
 *   the previous was answered. h2_conn_reply with status 0 and a body
 *   sends that message and the call goes on (status 0 without a body:
 *   nothing to send for it); an error status ends the call. After the
 *   client's END_STREAM and the last answer, h2 ends the call with
 *   grpc-status 0. The bounds of unary calls hold for the whole stream
 *   (message size, buffered bytes, request_ms from its HEADERS to the
 *   client's END_STREAM), and max_stream_messages limits its messages.
 *
 * Memory: request bytes being gathered and reply bytes not yet written are
 * "buffered". Each connection may buffer max_conn_buffer bytes; beyond the
 * first H2_CONN_RESERVE bytes of each connection, they also count against
 * a budget shared by all connections of all loops (struct h2_budget), so
 * that no client can starve the others and the total is bounded. A request
 * that does not fit is answered RESOURCE_EXHAUSTED at once. */
#ifndef COMPAT_H2_H
#define COMPAT_H2_H

#include <stddef.h>
#include <stdint.h>

/* Bytes every connection may buffer outside the shared budget. */
#define H2_CONN_RESERVE (64u << 10)

struct h2_budget {
	size_t used, max;	/* bytes over the per-connection reserves, of every
				 * connection of every loop (used: atomic) */
};

struct h2_limits {
	size_t max_message;		/* request message bytes (RESOURCE_EXHAUSTED beyond) */
	uint32_t max_streams;		/* SETTINGS_MAX_CONCURRENT_STREAMS */
	uint32_t max_header_list;	/* header bytes per request (stream reset beyond) */
	size_t max_output;		/* framed output held before the owner stops reading */
	size_t max_conn_buffer;		/* buffered request + reply bytes per connection */
	struct h2_budget *budget;	/* shared by all connections; NULL: none */
	int request_ms;			/* a request must be complete this long after its
					   HEADERS (DEADLINE_EXCEEDED beyond), and an answer
					   taken this long after it is given (else the stream
					   is reset, CANCEL); 0: no limit */
	uint32_t max_stream_messages;	/* request messages of one streaming call
					   (RESOURCE_EXHAUSTED beyond); 0: no limit */
};

/* What became of one request (a stream), for a request log. */
struct h2_call {
	const char *path;	/* as the client sent it; "" when none fit */
	int status;		/* the grpc-status decided for it; -1: none (reset
				   by the client first, or an HTTP error) */
	int http_status;	/* 200, or what refused it (405, 415) */
	uint32_t error_code;	/* 0 when it closed normally, else the RST_STREAM
				   code (NGHTTP2_CANCEL: reset by us or the client) */
	int note;		/* set by the handler with h2_conn_note; 0 otherwise */
	size_t messages;	/* request messages handed to the handler */
	int64_t us;		/* from its HEADERS to its close, microseconds */
};

struct h2_conn;

struct h2_handler {
	/* A complete request: path ("/package.Service/Method") and its one
	 * message (valid during the call only). Answer with h2_conn_reply, now
	 * or later. */
	void (*request)(void *ctx, struct h2_conn *c, int32_t stream_id, const char *path,
			const uint8_t *msg, size_t len);
	/* A request given to request() will not be answered after all: its
	 * stream was reset or timed out, or the connection was terminated.
	 * Drop its work; a later h2_conn_reply for it is refused. May be NULL. */
	void (*cancel)(void *ctx, struct h2_conn *c, int32_t stream_id);
	/* 1 when path is a streaming method (see above). May be NULL: all
	 * calls are unary. */
	int (*streaming)(void *ctx, const char *path);
	/* A request's stream closed, whatever became of it (call valid during
	 * the call only). May be NULL; when it is, h2 does no work for it. */
	void (*done)(void *ctx, struct h2_conn *c, int32_t stream_id, const struct h2_call *call);
	void *ctx;
};

/* A new server connection; queues our SETTINGS. lim and h are copied.
 * Returns 0 or COMPAT_ENOMEM. */
int h2_conn_new(struct h2_conn **out, const struct h2_limits *lim, const struct h2_handler *h);

/* Feed bytes from the peer. 0, or COMPAT_EPROTO: the connection is broken
 * (bad preface, protocol error, flood) and must be closed once the pending
 * output (a GOAWAY) is written. */
int h2_conn_feed(struct h2_conn *c, const uint8_t *buf, size_t len);

/* Answer a request: status (grpc_status) with message for grpc-message,
 * and with status 0 the response message body (len bytes, malloc'd;
 * taken in every case). On a streaming call, status 0 answers the one
 * message handed over and the call goes on (see above). Returns 0;
 * COMPAT_ENOTFOUND when the stream is gone or answered already;
 * COMPAT_ELIMIT when the body does not fit the buffer budgets (the client
 * then gets RESOURCE_EXHAUSTED and the call ends). */
int h2_conn_reply(struct h2_conn *c, int32_t stream_id, int status, const char *message, uint8_t *body,
		  size_t len);

/* Attach note to a request, for the handler's done(). Returns 0 or
 * COMPAT_ENOTFOUND. */
int h2_conn_note(struct h2_conn *c, int32_t stream_id, int note);

/* Bytes to write (pulled from nghttp2 into the buffer, up to max_output). */
const uint8_t *h2_conn_output(struct h2_conn *c, size_t *len);

/* n bytes of the output were written. */
void h2_conn_consumed(struct h2_conn *c, size_t n);

/* 1 when output is over the limit: stop reading until it drains. */
int h2_conn_backlogged(const struct h2_conn *c);

/* 1 when nghttp2 wants neither to read nor to write: close it. */
int h2_conn_done(const struct h2_conn *c);

/* Streams open, and of those the requests handed to the handler and not
 * yet answered. */
size_t h2_conn_streams(const struct h2_conn *c);
size_t h2_conn_pending(const struct h2_conn *c);

/* Requests (streams) the client has begun on this connection, ever. */
size_t h2_conn_requests(const struct h2_conn *c);

/* CLOCK_MONOTONIC ns since which no stream has been open (0 while one is). */
int64_t h2_conn_idle_since(const struct h2_conn *c);

/* Graceful shutdown, first step: GOAWAY with the largest stream id, so
 * that the client stops opening streams while requests on their way still
 * arrive (nghttp2_submit_shutdown_notice). */
void h2_conn_shutdown_notice(struct h2_conn *c);

/* Second step, a round trip later: GOAWAY with the last stream id seen;
 * the streams already open are finished, no new one is accepted. */
void h2_conn_shutdown(struct h2_conn *c);

/* Close now: unanswered requests are cancelled (handler cancel), GOAWAY
 * with error_code (an HTTP/2 error code) is queued. */
void h2_conn_terminate(struct h2_conn *c, uint32_t error_code);

/* Time passes (now: CLOCK_MONOTONIC ns): streams whose grpc-timeout passed
 * are reset (CANCEL), requests not complete within request_ms are answered
 * DEADLINE_EXCEEDED (both are cancelled in the handler), answers the
 * client has not taken within request_ms are reset (CANCEL). */
void h2_conn_tick(struct h2_conn *c, int64_t now_ns);

/* Frees the connection and its streams, calling no handler but done()
 * (the streams still open are reported cut off, NGHTTP2_CANCEL). */
void h2_conn_free(struct h2_conn *c);

#endif
