/* HTTP/1.1 for the registry client: a response parser that takes bytes
 * (no I/O, so it can be fuzzed) with bounded header and body sizes, and a
 * one-request-per-connection client over net.h. */
#ifndef COMPAT_HTTP1_H
#define COMPAT_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HTTP_MAX_HEADER (64u << 10)

struct http_header {
	char *name;	/* as sent */
	char *value;
};

struct http_response {
	int status;
	struct http_header *headers;
	size_t nheaders;
	uint8_t *body;	/* NUL-terminated for convenience */
	size_t len;
};

/* Where the body of a 2xx response goes instead of r->body (large blobs
 * streamed, never held): called with each piece in order; a negative
 * COMPAT_E* return stops the transfer. r->len still counts the bytes. */
struct http_sink {
	int (*write)(void *ctx, const uint8_t *p, size_t n, struct cerr *err);
	void *ctx;
};

struct http_parser {
	struct http_response *r;
	const struct http_sink *sink;	/* NULL: bodies are buffered */
	size_t max_body;
	int head;		/* the request was HEAD: no body follows */
	int state;		/* internal */
	char *hbuf;		/* header bytes until the blank line */
	size_t hlen;
	int64_t content_length;	/* -1: none */
	int chunked;
	uint64_t chunk_left;
	char line[64];		/* chunk-size line */
	size_t line_len;
};

/* Start parsing into *r (zeroed). Whatever the outcome, the caller frees
 * *r with http_response_free and the parser with http_parser_free. */
void http_parser_init(struct http_parser *p, struct http_response *r, size_t max_body, int head);

/* Feed bytes. Returns 1 when the response is complete, 0 for more, or
 * COMPAT_EPROTO (malformed) / COMPAT_ELIMIT (headers or body too large). */
int http_parser_feed(struct http_parser *p, const uint8_t *buf, size_t len, struct cerr *err);

/* The peer closed: complete if the body runs to the end of the stream. */
int http_parser_eof(struct http_parser *p, struct cerr *err);

void http_parser_free(struct http_parser *p);

/* Case-insensitive header lookup; NULL when absent. */
const char *http_header(const struct http_response *r, const char *name);

void http_response_free(struct http_response *r);

struct http_target {
	const char *host;	/* host[:port] */
	int tls;
	const char *ca_file;	/* NULL: system bundle */
	int timeout_ms;
	const int *cancelled;	/* non-zero (read atomically) ends the request early; may be NULL */
};

/* One request: method, path (with query), extra header lines ("Name: value",
 * NULL-terminated), body. Fills *r (http_response_free).
 * Returns 0, COMPAT_EUNREACH (also: timed out, cancelled), COMPAT_EPROTO,
 * COMPAT_ELIMIT (headers or body over their bound), COMPAT_ENOMEM. */
int http_request(const struct http_target *t, const char *method, const char *path,
		 const char *const *headers, const void *body, size_t len, size_t max_body,
		 struct http_response *r, struct cerr *err);

/* As http_request, with a 2xx body going to sink (when not NULL) instead
 * of r->body; max_body still bounds it. Also returns what the sink did. */
int http_request_sink(const struct http_target *t, const char *method, const char *path,
		      const char *const *headers, const void *body, size_t len, size_t max_body,
		      const struct http_sink *sink, struct http_response *r, struct cerr *err);

#endif
