/* core/reflection: the embedded descriptor set (protoc's, of every proto/NAME.proto),
 * symbol and file lookups, and whole answers encoded by nanopb. */
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/err.h"
#include "core/grpc.h"
#include "core/reflection.h"
#include "reflection.pb.h"

#define PKG "convergedcomputing.org.grpc.v1."

static const uint8_t *set;
static size_t setlen;

static void test_files(void)
{
	struct reflection_file f;
	CHECK(setlen > 1000);
	CHECK_INT(reflection_find_file(set, setlen, "compat.proto", &f), 0);
	CHECK_STR(f.name, "compat.proto");
	CHECK(f.p > set && f.p + f.len <= set + setlen);
	CHECK_INT(reflection_find_file(set, setlen, "health.proto", &f), 0);
	CHECK_INT(reflection_find_file(set, setlen, "reflection_v1alpha.proto", &f), 0);
	CHECK_INT(reflection_find_file(set, setlen, "nope.proto", &f), COMPAT_ENOTFOUND);
	CHECK_INT(reflection_find_file(set, setlen, "compat", &f), COMPAT_ENOTFOUND);
	/* Cut short in its last file: malformed, not "not found". */
	CHECK_INT(reflection_find_file(set, setlen - 10, "nope.proto", &f), COMPAT_EINVAL);
}

static void test_symbols(void)
{
	static const struct {
		const char *symbol, *file;
		int kind;
	} cases[] = {
		{ PKG "CompatibilityService", "compat.proto", REFLECTION_SERVICE },
		{ PKG "CompatibilityService.CheckCompatibility", "compat.proto", REFLECTION_METHOD },
		{ PKG "CompatibilityService.LocateLibraries", "compat.proto", REFLECTION_METHOD },
		{ PKG "CompatRequest", "compat.proto", REFLECTION_MESSAGE },
		{ PKG "Response.ResultType", "compat.proto", REFLECTION_ENUM },
		{ PKG "Response.SUCCESS", "compat.proto", REFLECTION_OTHER },	/* values sit beside their enum */
		{ PKG "Finding.warning", "compat.proto", REFLECTION_OTHER },
		{ ".grpc.health.v1.Health", "health.proto", REFLECTION_SERVICE },
		{ "grpc.health.v1.Health.Watch", "health.proto", REFLECTION_METHOD },
		{ "grpc.health.v1.HealthCheckResponse.ServingStatus", "health.proto", REFLECTION_ENUM },
		{ "grpc.reflection.v1.ServerReflection", "reflection.proto", REFLECTION_SERVICE },
		{ "grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo", "reflection_v1alpha.proto",
		  REFLECTION_METHOD },
		{ "grpc.reflection.v1alpha.ErrorResponse", "reflection_v1alpha.proto", REFLECTION_MESSAGE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct reflection_file f = { 0 };
		int kind = 0;
		CHECK_INT(reflection_find_symbol(set, setlen, cases[i].symbol, &f, &kind), 0);
		CHECK_STR(f.name, cases[i].file);
		CHECK_INT(kind, cases[i].kind);
	}
	static const char *const absent[] = {
		"grpc.health.v1",		/* a package is not a symbol here */
		"grpc.health.v1.Healt", "grpc.health.v1.HealthX", "grpc.health.v1.Health.Check.x",
		PKG "Response.ResultType.SUCCESS",	/* not inside the enum */
		"Health", "", ".",
	};
	for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
		struct reflection_file f;
		int kind;
		int rc = reflection_find_symbol(set, setlen, absent[i], &f, &kind);
		if (rc != COMPAT_ENOTFOUND)
			printf("#   %s: %d\n", absent[i], rc);
		CHECK_INT(rc, COMPAT_ENOTFOUND);
	}
}

/* Wire-format writers for a descriptor of the test's own. */
static size_t put_str(uint8_t *out, int field, const void *s, size_t n)
{
	out[0] = (uint8_t)(field << 3 | 2);
	out[1] = (uint8_t)n;	/* < 128 here */
	memcpy(out + 2, s, n);
	return n + 2;
}

/* Nested messages ("p.A.B.C"), and nesting past the bound: malformed. */
static void test_nested_and_too_deep(void)
{
	uint8_t c[16], b[40], a[80], file[120], s[130];
	size_t nc = put_str(c, 1, "C", 1);
	size_t nb = put_str(b, 1, "B", 1);
	nb += put_str(b + nb, 3, c, nc);
	size_t na = put_str(a, 1, "A", 1);
	na += put_str(a + na, 3, b, nb);
	size_t nf = put_str(file, 1, "t.proto", 7);
	nf += put_str(file + nf, 2, "p", 1);
	nf += put_str(file + nf, 4, a, na);
	size_t ns = put_str(s, 1, file, nf);
	struct reflection_file f;
	int kind = 0;
	CHECK_INT(reflection_find_symbol(s, ns, "p.A.B.C", &f, &kind), 0);
	CHECK_INT(kind, REFLECTION_MESSAGE);
	CHECK_STR(f.name, "t.proto");
	CHECK_INT(reflection_find_symbol(s, ns, "p.A.B", &f, &kind), 0);
	CHECK_INT(reflection_find_symbol(s, ns, "p.A.C", &f, &kind), COMPAT_ENOTFOUND);

	/* 40 levels of "M" nested in "M": more than the 32 allowed. */
	static uint8_t deep[4096], tmp[4096];
	size_t nd = put_str(deep, 1, "M", 1);
	for (int i = 0; i < 40; i++) {
		size_t n = put_str(tmp, 1, "M", 1);
		tmp[n] = 3 << 3 | 2;
		size_t len = nd, at = n + 1;
		do {	/* a varint length */
			tmp[at++] = (uint8_t)(len & 0x7f) | (len > 0x7f ? 0x80 : 0);
			len >>= 7;
		} while (len);
		memcpy(tmp + at, deep, nd);
		nd = at + nd;
		memcpy(deep, tmp, nd);
	}
	char sym[128] = "M";
	for (int i = 0; i < 40; i++)
		strcat(sym, ".M");
	static uint8_t dset[4200];
	size_t at = 0;
	uint8_t fbuf[4150];
	size_t nfile = 0;
	fbuf[nfile++] = 4 << 3 | 2;
	size_t len = nd;
	do {
		fbuf[nfile++] = (uint8_t)(len & 0x7f) | (len > 0x7f ? 0x80 : 0);
		len >>= 7;
	} while (len);
	memcpy(fbuf + nfile, deep, nd);
	nfile += nd;
	dset[at++] = 1 << 3 | 2;
	len = nfile;
	do {
		dset[at++] = (uint8_t)(len & 0x7f) | (len > 0x7f ? 0x80 : 0);
		len >>= 7;
	} while (len);
	memcpy(dset + at, fbuf, nfile);
	at += nfile;
	CHECK_INT(reflection_find_symbol(dset, at, sym, &f, &kind), COMPAT_EINVAL);
}

static void test_services(void)
{
	char *names[8];
	int n = reflection_services(set, setlen, names, 8);
	CHECK_INT(n, 4);
	if (n != 4)
		return;
	CHECK_STR(names[0], PKG "CompatibilityService");
	CHECK_STR(names[1], "grpc.health.v1.Health");
	CHECK_STR(names[2], "grpc.reflection.v1.ServerReflection");
	CHECK_STR(names[3], "grpc.reflection.v1alpha.ServerReflection");
	for (int i = 0; i < n; i++)
		free(names[i]);
	CHECK_INT(reflection_services(set, setlen, names, 1), 1);
	free(names[0]);
}

/* Encode a request, answer it, decode the answer (nanopb both ways). */
static int ask(const grpc_reflection_v1_ServerReflectionRequest *req, grpc_reflection_v1_ServerReflectionResponse *resp,
	       uint8_t **raw, size_t *rawlen)
{
	uint8_t buf[1024];
	struct cerr err;
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
	if (!pb_encode(&os, grpc_reflection_v1_ServerReflectionRequest_fields, req))
		return -100;
	int rc = reflection_answer(set, setlen, buf, os.bytes_written, raw, rawlen, &err);
	if (rc < 0)
		return rc;
	memset(resp, 0, sizeof *resp);
	pb_istream_t is = pb_istream_from_buffer(*raw, *rawlen);
	return pb_decode(&is, grpc_reflection_v1_ServerReflectionResponse_fields, resp) ? 0 : -101;
}

static void test_answers(void)
{
	static grpc_reflection_v1_ServerReflectionRequest req;
	static grpc_reflection_v1_ServerReflectionResponse resp;
	uint8_t *raw;
	size_t n;

	memset(&req, 0, sizeof req);
	snprintf(req.host, sizeof req.host, "node1:50051");
	req.which_message_request = grpc_reflection_v1_ServerReflectionRequest_list_services_tag;
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.which_message_response, grpc_reflection_v1_ServerReflectionResponse_list_services_response_tag);
	CHECK_INT(resp.message_response.list_services_response.service_count, 4);
	CHECK_STR(resp.message_response.list_services_response.service[1].name, "grpc.health.v1.Health");
	CHECK_STR(resp.valid_host, "node1:50051");
	CHECK(resp.has_original_request);
	CHECK_INT(resp.original_request.which_message_request, grpc_reflection_v1_ServerReflectionRequest_list_services_tag);

	memset(&req, 0, sizeof req);
	req.which_message_request = grpc_reflection_v1_ServerReflectionRequest_file_containing_symbol_tag;
	snprintf(req.message_request.file_containing_symbol, sizeof req.message_request.file_containing_symbol,
		 PKG "CompatibilityService");
	struct cerr err;
	uint8_t buf[512];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof buf);
	CHECK(pb_encode(&os, grpc_reflection_v1_ServerReflectionRequest_fields, &req));
	CHECK_INT(reflection_answer(set, setlen, buf, os.bytes_written, &raw, &n, &err), 0);
	struct reflection_file f;
	CHECK_INT(reflection_find_file(set, setlen, "compat.proto", &f), 0);
	CHECK(memmem(raw, n, f.p, f.len) != NULL);	/* the file's descriptor, byte for byte */
	CHECK_INT(reflection_find_file(set, setlen, "health.proto", &f), 0);
	CHECK(memmem(raw, n, f.p, f.len) == NULL);	/* and no other */
	free(raw);

	memset(&req, 0, sizeof req);
	req.which_message_request = grpc_reflection_v1_ServerReflectionRequest_file_by_filename_tag;
	snprintf(req.message_request.file_by_filename, sizeof req.message_request.file_by_filename, "nope.proto");
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.which_message_response, grpc_reflection_v1_ServerReflectionResponse_error_response_tag);
	CHECK_INT(resp.message_response.error_response.error_code, GRPC_NOT_FOUND);
	CHECK_STR(resp.message_response.error_response.error_message, "file not found: nope.proto");

	memset(&req, 0, sizeof req);
	req.which_message_request = grpc_reflection_v1_ServerReflectionRequest_file_containing_symbol_tag;
	snprintf(req.message_request.file_containing_symbol, sizeof req.message_request.file_containing_symbol,
		 "no.such.Thing");
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.message_response.error_response.error_code, GRPC_NOT_FOUND);
	CHECK_STR(resp.message_response.error_response.error_message, "symbol not found: no.such.Thing");

	memset(&req, 0, sizeof req);
	req.which_message_request = grpc_reflection_v1_ServerReflectionRequest_all_extension_numbers_of_type_tag;
	snprintf(req.message_request.all_extension_numbers_of_type,
		 sizeof req.message_request.all_extension_numbers_of_type, PKG "Response");
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.which_message_response,
		  grpc_reflection_v1_ServerReflectionResponse_all_extension_numbers_response_tag);
	CHECK_STR(resp.message_response.all_extension_numbers_response.base_type_name, PKG "Response");
	CHECK_INT(resp.message_response.all_extension_numbers_response.extension_number_count, 0);
	/* A service is not a type with extensions. */
	snprintf(req.message_request.all_extension_numbers_of_type,
		 sizeof req.message_request.all_extension_numbers_of_type, PKG "CompatibilityService");
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.message_response.error_response.error_code, GRPC_NOT_FOUND);

	memset(&req, 0, sizeof req);
	req.which_message_request = grpc_reflection_v1_ServerReflectionRequest_file_containing_extension_tag;
	snprintf(req.message_request.file_containing_extension.containing_type,
		 sizeof req.message_request.file_containing_extension.containing_type, PKG "Response");
	req.message_request.file_containing_extension.extension_number = 100;
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.message_response.error_response.error_code, GRPC_NOT_FOUND);

	memset(&req, 0, sizeof req);	/* nothing asked */
	CHECK_INT(ask(&req, &resp, &raw, &n), 0);
	free(raw);
	CHECK_INT(resp.message_response.error_response.error_code, GRPC_UNIMPLEMENTED);
}

static void test_malformed_requests(void)
{
	uint8_t *raw = (uint8_t *)"x";
	size_t n = 99;
	struct cerr err;
	static const uint8_t truncated[] = { 0x22, 0x10, 'a' };	/* symbol of 16 bytes, 1 there */
	CHECK_INT(reflection_answer(set, setlen, truncated, sizeof truncated, &raw, &n, &err), COMPAT_EINVAL);
	CHECK(raw == NULL && n == 0);
	CHECK(strstr(err.msg, "malformed ServerReflectionRequest") != NULL);
	/* A symbol longer than the 256 bytes of reflection.options. */
	uint8_t big[400];
	big[0] = 0x22;
	big[1] = 0x80 | (300 & 0x7f);
	big[2] = 300 >> 7;
	memset(big + 3, 'a', 300);
	CHECK_INT(reflection_answer(set, setlen, big, 303, &raw, &n, &err), COMPAT_EINVAL);
	/* An empty message is a request with nothing asked, not an error. */
	CHECK_INT(reflection_answer(set, setlen, (const uint8_t *)"", 0, &raw, &n, &err), 0);
	free(raw);
}

int main(void)
{
	set = reflection_descriptor_set(&setlen);
	RUN(test_files);
	RUN(test_symbols);
	RUN(test_nested_and_too_deep);
	RUN(test_services);
	RUN(test_answers);
	RUN(test_malformed_requests);
	return check_summary();
}
