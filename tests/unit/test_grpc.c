#include <stdlib.h>

#include "check.h"
#include "core/err.h"
#include "core/grpc.h"
#include "core/h2.h"
#include "core/hostindex.h"
#include "core/service.h"
#include "h2service.h"

static void test_prefix(void)
{
	uint8_t p[5];
	int comp;
	uint32_t len;
	grpc_prefix_encode(p, 0x01020304);
	CHECK_INT(grpc_prefix_decode(p, 5, &comp, &len), 0);
	CHECK_INT(comp, 0);
	CHECK_INT(len, 0x01020304);
	CHECK_INT(grpc_prefix_decode(p, 4, &comp, &len), COMPAT_EINVAL);
}

static void test_message_encoding(void)
{
	char out[64];
	grpc_message_encode("ok 100% \xc3\xa9\n", out, sizeof out);
	CHECK_STR(out, "ok 100%25 %C3%A9%0A");
	grpc_message_encode("abcdef", out, 4);
	CHECK_STR(out, "abc");
}

static void test_timeout(void)
{
	CHECK_INT(grpc_timeout_parse("100m"), 100000000LL);
	CHECK_INT(grpc_timeout_parse("5S"), 5000000000LL);
	CHECK_INT(grpc_timeout_parse("1H"), 3600000000000LL);
	CHECK_INT(grpc_timeout_parse("99999999n"), 99999999LL);
	CHECK_INT(grpc_timeout_parse("123456789n"), COMPAT_EINVAL);	/* 9 digits */
	CHECK_INT(grpc_timeout_parse("10x"), COMPAT_EINVAL);
	CHECK_INT(grpc_timeout_parse("S"), COMPAT_EINVAL);
	char st[4];
	grpc_status_text(12, st);
	CHECK_STR(st, "12");
}

/* A whole call through h2_conn, no socket: preface, SETTINGS, HEADERS
 * (HPACK literals), DATA; the answer must carry grpc-status 0 in trailers
 * and one DATA frame with a message. */
static size_t lit(uint8_t *p, const char *n, const char *v)
{
	size_t ln = strlen(n), lv = strlen(v);
	p[0] = 0;
	p[1] = (uint8_t)ln;
	memcpy(p + 2, n, ln);
	p[2 + ln] = (uint8_t)lv;
	memcpy(p + 3 + ln, v, lv);
	return 3 + ln + lv;
}

static size_t frame(uint8_t *p, int type, int flags, int sid, const uint8_t *pl, size_t n)
{
	p[0] = (uint8_t)(n >> 16);
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	p[3] = (uint8_t)type;
	p[4] = (uint8_t)flags;
	p[5] = (uint8_t)(sid >> 24);
	p[6] = (uint8_t)(sid >> 16);
	p[7] = (uint8_t)(sid >> 8);
	p[8] = (uint8_t)sid;
	if (n)
		memcpy(p + 9, pl, n);
	return 9 + n;
}

static void test_health_call_without_socket(void)
{
	struct index_opts o = { 0 };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	struct service svc = { .idx = idx, .serving = 1 };
	struct h2_limits lim = { .max_message = 1 << 20, .max_streams = 10, .max_header_list = 8192,
				 .max_output = 1 << 20, .max_conn_buffer = 2 << 20 };
	struct h2_handler hd = { .request = h2service_call, .ctx = &svc };
	struct h2_conn *c;
	CHECK_INT(h2_conn_new(&c, &lim, &hd), 0);
	uint8_t in[2048], hdr[512];
	size_t n = 0, h = 0;
	memcpy(in, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
	n = 24;
	n += frame(in + n, 4, 0, 0, NULL, 0);
	hdr[h++] = 0x83;	/* :method POST */
	hdr[h++] = 0x86;	/* :scheme http */
	h += lit(hdr + h, ":path", "/grpc.health.v1.Health/Check");
	h += lit(hdr + h, ":authority", "x");
	h += lit(hdr + h, "content-type", "application/grpc");
	h += lit(hdr + h, "te", "trailers");
	n += frame(in + n, 1, 4, 1, hdr, h);
	static const uint8_t empty_msg[5] = { 0, 0, 0, 0, 0 };
	n += frame(in + n, 0, 1, 1, empty_msg, 5);
	CHECK_INT(h2_conn_feed(c, in, n), 0);
	size_t outlen;
	const uint8_t *out = h2_conn_output(c, &outlen);
	/* Walk the frames: a DATA frame on stream 1 holding 5+2 bytes
	 * (HealthCheckResponse{status: SERVING} = 08 01), then trailers. */
	int data_ok = 0, headers = 0;
	for (size_t i = 0; i + 9 <= outlen;) {
		size_t len = (size_t)out[i] << 16 | (size_t)out[i + 1] << 8 | out[i + 2];
		int type = out[i + 3], sid = out[i + 8];
		if (type == 0 && sid == 1 && len == 7 && out[i + 9 + 5] == 0x08 && out[i + 9 + 6] == 0x01)
			data_ok = 1;
		if (type == 1 && sid == 1)
			headers++;
		i += 9 + len;
	}
	CHECK(data_ok);
	CHECK_INT(headers, 2);	/* response headers and trailers */
	h2_conn_consumed(c, outlen);
	/* A DATA frame on stream 0 is a connection error: a GOAWAY goes
	 * out, and then the connection is done. */
	static const uint8_t bad[] = { 0, 0, 4, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd' };
	h2_conn_feed(c, bad, sizeof bad);
	out = h2_conn_output(c, &outlen);
	int goaway = 0;
	for (size_t i = 0; i + 9 <= outlen;) {
		size_t len = (size_t)out[i] << 16 | (size_t)out[i + 1] << 8 | out[i + 2];
		goaway |= out[i + 3] == 7;
		i += 9 + len;
	}
	CHECK(goaway);
	h2_conn_consumed(c, outlen);
	CHECK(h2_conn_done(c));
	h2_conn_free(c);
	index_free(idx);
}

int main(void)
{
	RUN(test_prefix);
	RUN(test_message_encoding);
	RUN(test_timeout);
	RUN(test_health_call_without_socket);
	return check_summary();
}
