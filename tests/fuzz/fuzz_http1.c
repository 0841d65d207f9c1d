/* libFuzzer: the HTTP/1.1 response parser, fed in pieces whose sizes come
 * from the input, with small limits so the bounds are exercised. */
#include <stddef.h>
#include <stdint.h>

#include "core/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct http_parser p;
	struct http_response r;
	http_parser_init(&p, &r, 4096, data[0] & 1);
	size_t off = 1;
	int rc = 0;
	while (off < size && rc == 0) {
		size_t n = 1 + data[off - 1] % 97;
		if (n > size - off)
			n = size - off;
		rc = http_parser_feed(&p, data + off, n, NULL);
		off += n;
	}
	if (rc == 0)
		http_parser_eof(&p, NULL);
	if (r.status)
		http_header(&r, "content-length");
	http_parser_free(&p);
	http_response_free(&r);
	return 0;
}
