#include <stdlib.h>

#include "check.h"
#include "core/http1.h"
#include "core/oci.h"

static int feed_all(const char *text, size_t piece, size_t max, int head, struct http_response *r,
		    struct cerr *err)
{
	struct http_parser p;
	http_parser_init(&p, r, max, head);
	size_t len = strlen(text), off = 0;
	int rc = 0;
	while (off < len && rc == 0) {
		size_t n = len - off < piece ? len - off : piece;
		rc = http_parser_feed(&p, (const uint8_t *)text + off, n, err);
		off += n;
	}
	if (rc == 0)
		rc = http_parser_eof(&p, err);
	http_parser_free(&p);
	if (rc < 0)
		http_response_free(r);	/* the caller's job on errors, as http_request does */
	return rc;
}

static void test_content_length_any_piece_size(void)
{
	const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhello";
	for (size_t piece = 1; piece < 40; piece += 7) {
		struct http_response r;
		CHECK_INT(feed_all(t, piece, 100, 0, &r, NULL), 1);
		CHECK_INT(r.status, 200);
		CHECK_INT(r.len, 5);
		CHECK(r.body && memcmp(r.body, "hello", 5) == 0);
		CHECK_STR(http_header(&r, "x-a"), "b");
		http_response_free(&r);
	}
}

static void test_chunked_and_close(void)
{
	struct http_response r;
	CHECK_INT(feed_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
			   3, 100, 0, &r, NULL), 1);
	CHECK_STR((char *)r.body, "abcde");
	http_response_free(&r);
	CHECK_INT(feed_all("HTTP/1.0 200 OK\r\n\r\nuntil the end", 4, 100, 0, &r, NULL), 1);
	CHECK_STR((char *)r.body, "until the end");
	http_response_free(&r);
	CHECK_INT(feed_all("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", 4, 100, 1, &r, NULL), 1);
	CHECK_INT(r.len, 0);	/* HEAD: no body */
	http_response_free(&r);
}

static void test_limits_and_errors(void)
{
	struct http_response r;
	struct cerr err;
	CHECK_INT(feed_all("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 10, 100, 0, &r, &err), COMPAT_ELIMIT);
	CHECK_INT(feed_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n", 10, 100, 0, &r, &err),
		  COMPAT_ELIMIT);
	CHECK_INT(feed_all("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 10, 100, 0, &r, &err), COMPAT_EPROTO);
	CHECK(strstr(err.msg, "closed before the end") != NULL);
	CHECK_INT(feed_all("SMTP ready\r\n\r\n", 10, 100, 0, &r, &err), COMPAT_EPROTO);
	CHECK_INT(feed_all("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 10, 100, 0, &r, &err), COMPAT_EPROTO);
	char *big = malloc(HTTP_MAX_HEADER + 100);
	strcpy(big, "HTTP/1.1 200 OK\r\nX: ");
	memset(big + strlen(big), 'a', HTTP_MAX_HEADER);
	big[HTTP_MAX_HEADER + 20] = '\0';
	CHECK_INT(feed_all(big, 4096, 100, 0, &r, &err), COMPAT_ELIMIT);
	free(big);
	http_response_free(&r);
}

static void test_refs(void)
{
	struct oci_ref r;
	CHECK_INT(oci_ref_parse("localhost:5000/apps/xz:v1", &r, NULL), 0);
	CHECK_STR(r.registry, "localhost:5000");
	CHECK_STR(r.repo, "apps/xz");
	CHECK_STR(r.tag, "v1");
	CHECK_INT(oci_ref_parse("reg.example/xz", &r, NULL), 0);
	CHECK_STR(r.tag, "latest");
	CHECK_INT(oci_ref_parse("reg.example/xz@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
				&r, NULL), 0);
	CHECK_STR(r.tag, "");
	CHECK(strncmp(r.digest, "sha256:0123", 11) == 0);
	CHECK_INT(oci_ref_parse("noslash", &r, NULL), COMPAT_EINVAL);
	CHECK_INT(oci_ref_parse("reg.example/../etc:v1", &r, NULL), COMPAT_EINVAL);
	CHECK_INT(oci_ref_parse("reg.example/xz@sha256:12", &r, NULL), COMPAT_EINVAL);
	CHECK(oci_is_reference("ghcr.io/org/app:1"));
	CHECK(oci_is_reference("localhost/app"));
	CHECK(!oci_is_reference("artifacts/xz.json"));
	CHECK(!oci_is_reference("/etc/passwd"));
	CHECK(!oci_is_reference("-"));
	CHECK(!oci_is_reference("./absent.json"));
	CHECK(!oci_is_reference("../absent.json"));
	CHECK(!oci_is_reference("./sub/app:1"));
}

int main(void)
{
	RUN(test_content_length_any_piece_size);
	RUN(test_chunked_and_close);
	RUN(test_limits_and_errors);
	RUN(test_refs);
	return check_summary();
}
