/* libFuzzer: bytes from a client into a server connection, with no
 * socket: HTTP/2 frames -> nghttp2 -> gRPC framing -> nanopb -> the
 * methods, against the host index. The input is fed in pieces whose
 * sizes come from the input itself, and output is drained between. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/grpc.h"
#include "core/h2.h"
#include "core/hostindex.h"
#include "core/service.h"
#include "tests/unit/h2service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct host_index *idx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!idx) {
		struct index_opts o = { 0 };
		if (index_build(&o, &idx, NULL) < 0)
			abort();
	}
	struct service svc = { .idx = idx, .serving = 1, .max_needs = 256, .max_symbols = 4096,
			       .max_reply = 1 << 20 };
	struct h2_budget budget = { .max = 1 << 20 };
	struct h2_limits lim = { .max_message = 65536, .max_streams = 16, .max_header_list = 4096,
				 .max_output = 1 << 16, .max_conn_buffer = 1 << 18, .budget = &budget,
				 .request_ms = 1000 };
	struct h2_handler hd = { .request = h2service_call, .ctx = &svc };
	struct h2_conn *c;
	if (h2_conn_new(&c, &lim, &hd) < 0)
		return 0;
	size_t off = 0;
	while (off < size) {
		size_t n = 1 + data[off] % 64;	/* piece sizes vary with the input */
		if (n > size - off)
			n = size - off;
		if (h2_conn_feed(c, data + off, n) < 0)
			break;
		off += n;
		size_t out;
		h2_conn_output(c, &out);
		h2_conn_consumed(c, out);
	}
	h2_conn_tick(c, 0);
	h2_conn_free(c);
	return 0;
}
