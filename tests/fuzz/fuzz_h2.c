/* libFuzzer: h2 alone, with no service: a client's bytes in (fed in
 * pieces whose sizes come from the input), frames out, and a handler of
 * its own that answers at once, answers later, fails, or never answers,
 * as the request's first byte says. "/t.S/Stream" is a streaming method
 * (each of its messages handled so, at most 4 a stream). Time moves with
 * the input (request deadlines, grpc-timeout), the connection may be shut
 * down or terminated midway. Checked beyond memory safety: a request (a
 * streaming call's message) is cancelled at most once and only if it was
 * not answered, never handed over while one of its stream is still
 * waiting, an answer to a request still waiting is accepted, every request
 * is reported to done() exactly once, and every buffered byte is given
 * back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/grpc.h"
#include "core/h2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 32

struct waiting {
	int32_t id[MAXP];
	int n;
	size_t dones;
	int freeing;	/* h2_conn_free: requests still waiting are reported, not cancelled */
};

static int find(struct waiting *w, int32_t id)
{
	for (int i = 0; i < w->n; i++)
		if (w->id[i] == id)
			return i;
	return -1;
}

static void on_request(void *ctx, struct h2_conn *c, int32_t id, const char *path, const uint8_t *msg, size_t len)
{
	struct waiting *w = ctx;
	if (find(w, id) >= 0)
		abort();	/* the same request twice */
	int how = len ? msg[0] % 4 : 0;
	if (how == 1) {
		uint8_t *b = malloc(len);
		if (b)
			memcpy(b, msg, len);
		int rc = h2_conn_reply(c, id, 0, NULL, b, b ? len : 0);
		if (rc != 0 && rc != COMPAT_ELIMIT)
			abort();
	} else if (how == 2) {
		if (h2_conn_reply(c, id, GRPC_NOT_FOUND, path, NULL, 0) != 0)
			abort();
	} else if (w->n < MAXP) {
		w->id[w->n++] = id;	/* answered later, or never */
	} else if (h2_conn_reply(c, id, GRPC_UNAVAILABLE, "busy", NULL, 0) != 0) {
		abort();
	}
}

static int on_streaming(void *ctx, const char *path)
{
	return strcmp(path, "/t.S/Stream") == 0;
}

static void on_done(void *ctx, struct h2_conn *c, int32_t id, const struct h2_call *call)
{
	struct waiting *w = ctx;
	if (find(w, id) >= 0 && !w->freeing)
		abort();	/* closed with a request still with the handler, not cancelled */
	w->dones++;
}

static void on_cancel(void *ctx, struct h2_conn *c, int32_t id)
{
	struct waiting *w = ctx;
	int i = find(w, id);
	if (i < 0)
		abort();	/* cancelled twice, or after its answer */
	w->id[i] = w->id[--w->n];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct waiting w = { .n = 0 };
	struct h2_budget budget = { .max = 1 << 16 };
	struct h2_limits lim = { .max_message = 4096, .max_streams = 8, .max_header_list = 2048,
				 .max_output = 1 << 14, .max_conn_buffer = 1 << 17, .budget = &budget,
				 .request_ms = 50, .max_stream_messages = 4 };
	struct h2_handler hd = { .request = on_request, .cancel = on_cancel, .streaming = on_streaming,
				 .done = on_done, .ctx = &w };
	struct h2_conn *c;
	if (h2_conn_new(&c, &lim, &hd) < 0)
		return 0;
	int64_t now = 0;
	size_t off = 0;
	while (off < size) {
		uint8_t ctl = data[off];
		size_t n = 1 + ctl % 61;	/* piece sizes vary with the input */
		if (n > size - off)
			n = size - off;
		if (h2_conn_feed(c, data + off, n) < 0)
			break;
		off += n;
		switch (ctl >> 5) {
		case 1:	/* answer the oldest waiting request */
			if (w.n) {
				int32_t id = w.id[0];
				w.id[0] = w.id[--w.n];
				uint8_t *b = malloc(8);
				int rc = h2_conn_reply(c, id, 0, NULL, b, b ? 8 : 0);
				if (rc != 0 && rc != COMPAT_ELIMIT)
					abort();
			}
			break;
		case 2:	/* time passes */
			now += (int64_t)(ctl & 31) * 10000000;
			h2_conn_tick(c, now);
			break;
		case 3:
			if ((ctl & 31) == 0)
				h2_conn_shutdown_notice(c);
			else if ((ctl & 31) == 1)
				h2_conn_shutdown(c);
			else if ((ctl & 31) == 2)
				h2_conn_terminate(c, 11);
			break;
		default:
			break;
		}
		size_t out;
		/* Drain most of the time; sometimes leave output queued. */
		if ((ctl & 3) != 3) {
			h2_conn_output(c, &out);
			h2_conn_consumed(c, out);
		}
	}
	h2_conn_tick(c, now + 1000000000LL);
	size_t out;
	h2_conn_output(c, &out);
	h2_conn_consumed(c, out);
	size_t requests = h2_conn_requests(c);
	w.freeing = 1;
	h2_conn_free(c);
	if (budget.used != 0)
		abort();	/* a buffered byte not given back */
	if (w.dones != requests)
		abort();	/* a request reported twice, or never */
	return 0;
}
