/* The server side of gRPC over HTTP/2: glue between nghttp2 (framing,
 * HPACK, flow control), the gRPC rules of grpc.h and the methods of
 * service.h. Bytes in (h2_conn_feed), bytes out (h2_conn_output); the loop
 * owns the socket. */
#ifndef COMPAT_H2_H
#define COMPAT_H2_H

#include <stddef.h>
#include <stdint.h>

#include "service.h"

struct h2_limits {
	size_t max_message;		/* request message bytes (RESOURCE_EXHAUSTED beyond) */
	uint32_t max_streams;		/* SETTINGS_MAX_CONCURRENT_STREAMS */
	uint32_t max_header_list;	/* header bytes per request (stream reset beyond) */
	size_t max_output;		/* buffered output before the loop stops reading */
};

struct h2_conn;

/* A new server connection; sends our SETTINGS. Returns 0 or COMPAT_ENOMEM. */
int h2_conn_new(struct h2_conn **out, struct service *svc, const struct h2_limits *lim);

/* Feed bytes from the peer. 0, or a negative code: the connection is
 * broken (bad preface, protocol error, flood) and must be closed once the
 * pending output (a GOAWAY) is written. */
int h2_conn_feed(struct h2_conn *c, const uint8_t *buf, size_t len);

/* Bytes to write (pull from nghttp2 into the buffer, up to max_output). */
const uint8_t *h2_conn_output(struct h2_conn *c, size_t *len);

/* n bytes of the output were written. */
void h2_conn_consumed(struct h2_conn *c, size_t n);

/* 1 when output is over the limit: stop reading until it drains. */
int h2_conn_backlogged(const struct h2_conn *c);

/* 1 when nghttp2 wants neither to read nor to write: close it. */
int h2_conn_done(const struct h2_conn *c);

/* Streams open (requests in flight). */
size_t h2_conn_streams(const struct h2_conn *c);

/* Graceful shutdown: GOAWAY, finish the streams already open. */
void h2_conn_shutdown(struct h2_conn *c);

/* Where requests that need a registry fetch go: submit(ctx, conn, stream
 * id, fetch). The loop runs the fetch off-thread and later calls
 * h2_conn_fetch_done with the same id and fetch. */
typedef void (*h2_submit_fn)(void *ctx, struct h2_conn *c, int32_t stream_id, struct service_fetch *f);
void h2_conn_set_fetcher(struct h2_conn *c, h2_submit_fn submit, void *ctx);

/* A fetch finished: answer its stream if it is still open. Takes f. */
void h2_conn_fetch_done(struct h2_conn *c, int32_t stream_id, struct service_fetch *f);

/* Cancel streams whose grpc-timeout passed (now: CLOCK_MONOTONIC ns). */
void h2_conn_tick(struct h2_conn *c, int64_t now_ns);

void h2_conn_free(struct h2_conn *c);

#endif
