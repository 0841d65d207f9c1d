/* The service on decoded bytes: CheckCompatibility's Response, written by
 * hand, against nanopb's encoding of the same message; the memo of answers
 * (same request, same bytes; keyed by library_path and payload; cleared
 * when a new index is published); and the memo's own bounds. */
#include <glob.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compat.pb.h"
#include "core/grpc.h"
#include "core/memo.h"
#include "core/pbstr.h"
#include "core/service.h"

#define CHECK_PATH "/" SERVICE_NAME "/CheckCompatibility"

struct findings {
	convergedcomputing_org_grpc_v1_Finding v[64];
	size_t n;
};

static bool read_finding(pb_istream_t *s, const pb_field_t *field, void **arg)
{
	struct findings *f = *arg;
	convergedcomputing_org_grpc_v1_Finding one = convergedcomputing_org_grpc_v1_Finding_init_zero;
	if (!pb_decode(s, convergedcomputing_org_grpc_v1_Finding_fields, &one))
		return false;
	if (f->n < 64)
		f->v[f->n++] = one;
	return true;
}

static bool write_finding(pb_ostream_t *s, const pb_field_t *field, void *const *arg)
{
	const struct findings *f = *arg;
	for (size_t i = 0; i < f->n; i++)
		if (!pb_encode_tag_for_field(s, field) ||
		    !pb_encode_submessage(s, convergedcomputing_org_grpc_v1_Finding_fields, &f->v[i]))
			return false;
	return true;
}

/* Decode body with nanopb and encode it again: the bytes must be the same. */
static int nanopb_agrees(const uint8_t *body, size_t len, size_t *nfindings, char **payload)
{
	convergedcomputing_org_grpc_v1_Response resp = convergedcomputing_org_grpc_v1_Response_init_zero;
	struct pbstr p = { 0 };
	static struct findings f;
	f.n = 0;
	resp.payload.funcs.decode = pbstr_read;
	resp.payload.arg = &p;
	resp.findings.funcs.decode = read_finding;
	resp.findings.arg = &f;
	pb_istream_t is = pb_istream_from_buffer(body, len);
	if (!pb_decode(&is, convergedcomputing_org_grpc_v1_Response_fields, &resp))
		return 0;
	resp.payload.funcs.encode = pbstr_write;
	resp.payload.arg = p.p;
	resp.findings.funcs.encode = write_finding;
	resp.findings.arg = &f;
	uint8_t *again = malloc(len + 64);
	pb_ostream_t os = pb_ostream_from_buffer(again, len + 64);
	int same = pb_encode(&os, convergedcomputing_org_grpc_v1_Response_fields, &resp) && os.bytes_written == len &&
		   memcmp(again, body, len) == 0;
	free(again);
	*nfindings = f.n;
	*payload = p.p;
	return same;
}

/* A CompatRequest with payload and library_path. */
static size_t request(const char *payload, const char *libpath, uint8_t *out, size_t cap)
{
	convergedcomputing_org_grpc_v1_CompatRequest req = convergedcomputing_org_grpc_v1_CompatRequest_init_zero;
	struct pbstr_list dirs = { .n = 0 };
	if (libpath) {
		dirs.v[0] = (char *)libpath;
		dirs.n = 1;
	}
	req.payload.funcs.encode = pbstr_write;
	req.payload.arg = (void *)payload;
	req.library_path.funcs.encode = pbstr_list_write;
	req.library_path.arg = &dirs;
	pb_ostream_t os = pb_ostream_from_buffer(out, cap);
	return pb_encode(&os, convergedcomputing_org_grpc_v1_CompatRequest_fields, &req) ? os.bytes_written : 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

/* Answer msg, running off-loop work in place. */
static void call(struct service *s, const uint8_t *msg, size_t len, struct service_reply *r)
{
	service_call(s, CHECK_PATH, msg, len, r);
	while (r->work) {
		struct service_work *w = r->work;
		int cancelled = 0;
		service_work_run(w, &cancelled);
		service_work_finish(s, w, r);
	}
}

static struct service tmpl;
static struct index_slot *slot;

static void setup(void)
{
	if (slot)
		return;
	static struct host_index *idx;
	static const struct index_opts io = { 0 };
	if (index_build(&io, &idx, NULL) == 0)
		index_slot_new(&slot, idx);
	tmpl = (struct service){ .slot = slot, .max_needs = 1024, .max_symbols = 65536, .max_reply = 4u << 20,
				 .memo_entries = 64, .memo_bytes = 1u << 20,
				 .scan = { .max_dirs = 64, .max_entries = 10000, .max_libs = 20000, .timeout_ms = 5000 } };
}

static void test_response_as_nanopb(void)
{
	setup();
	CHECK(slot != NULL);
	struct service s;
	CHECK_INT(service_open(&s, &tmpl), 0);
	glob_t g;
	CHECK_INT(glob("tests/fixtures/golden/*.json", 0, NULL, &g), 0);
	size_t answered = 0, with_findings = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (strstr(g.gl_pathv[i], ".out.json"))
			continue;
		char *art = slurp(g.gl_pathv[i]);
		static uint8_t msg[1 << 17];
		size_t len = request(art, NULL, msg, sizeof msg);
		CHECK(len > 0);
		struct service_reply r;
		call(&s, msg, len, &r);
		CHECK_INT(r.status, 0);
		size_t nf = 0;
		char *payload = NULL;
		CHECK(r.body && nanopb_agrees(r.body, r.len, &nf, &payload));
		CHECK(payload && payload[0] == '{');
		answered++;
		with_findings += nf > 0;
		free(payload);
		free(r.body);
		free(art);
	}
	globfree(&g);
	printf("# %zu answers encoded as nanopb does, %zu with findings\n", answered, with_findings);
	CHECK(answered >= 8 && with_findings >= 5);
	/* an ERROR answer: {"error": ...} */
	static uint8_t msg[4096];
	size_t len = request("{not json", NULL, msg, sizeof msg);
	struct service_reply r;
	call(&s, msg, len, &r);
	size_t nf;
	char *payload = NULL;
	CHECK_INT(r.status, 0);
	CHECK_INT(r.verdict, SERVICE_ERROR);
	CHECK(r.body && nanopb_agrees(r.body, r.len, &nf, &payload));
	CHECK(payload && strncmp(payload, "{\"error\":\"", 10) == 0);
	free(payload);
	free(r.body);
	service_close(&s);
}

static void test_memo(void)
{
	setup();
	CHECK(slot != NULL);
	struct service s;
	CHECK_INT(service_open(&s, &tmpl), 0);
	char *art = slurp("tests/fixtures/golden/missing-soname.json");
	CHECK(art != NULL);
	static uint8_t msg[1 << 17], msg2[1 << 17];
	size_t len = request(art, NULL, msg, sizeof msg);
	struct service_reply a, b, c, d;
	call(&s, msg, len, &a);
	CHECK_INT(memo_count(s.memo), 1);
	call(&s, msg, len, &b);
	CHECK_INT(memo_count(s.memo), 1);	/* a hit: nothing added */
	CHECK(a.body && b.body && a.len == b.len && memcmp(a.body, b.body, a.len) == 0);
	CHECK_INT(b.verdict, a.verdict);
	CHECK_INT(b.verdict, SERVICE_INCOMPATIBLE);
	/* the same payload with a library_path is another request */
	size_t len2 = request(art, "/tmp", msg2, sizeof msg2);
	call(&s, msg2, len2, &c);
	CHECK_INT(c.status, 0);
	CHECK_INT(memo_count(s.memo), 2);
	/* a new index: the memo starts again */
	struct host_index *idx;
	struct index_opts io = { 0 };
	CHECK_INT(index_build(&io, &idx, NULL), 0);
	index_slot_publish(slot, idx);
	call(&s, msg, len, &d);
	CHECK_INT(memo_count(s.memo), 1);
	CHECK(d.body && d.len == a.len && memcmp(d.body, a.body, a.len) == 0);
	free(a.body);
	free(b.body);
	free(c.body);
	free(d.body);
	free(art);
	service_close(&s);
}

static void test_memo_bounds(void)
{
	struct memo *m;
	size_t len;
	int note;
	CHECK_INT(memo_new(&m, 3, 4096), 0);
	CHECK_INT(memo_put(m, "k", 1, "1", 1, (const uint8_t *)"one", 3, 7, INT64_MAX), 0);
	const uint8_t *a = memo_get(m, "k", 1, "1", 1, 0, &len, &note);
	CHECK(a && len == 3 && memcmp(a, "one", 3) == 0 && note == 7);
	CHECK(!memo_get(m, "k", 1, "2", 1, 0, &len, &note));
	CHECK(!memo_get(m, "k1", 2, NULL, 0, 0, &len, &note));	/* two parts, not their concatenation */
	/* entries: the least recently used goes */
	memo_put(m, "a", 1, NULL, 0, (const uint8_t *)"A", 1, 0, INT64_MAX);
	memo_put(m, "b", 1, NULL, 0, (const uint8_t *)"B", 1, 0, INT64_MAX);
	CHECK(memo_get(m, "k", 1, "1", 1, 0, &len, NULL));	/* used again: a is the oldest */
	memo_put(m, "c", 1, NULL, 0, (const uint8_t *)"C", 1, 0, INT64_MAX);
	CHECK_INT(memo_count(m), 3);
	CHECK(!memo_get(m, "a", 1, NULL, 0, 0, &len, NULL));
	CHECK(memo_get(m, "k", 1, "1", 1, 0, &len, NULL));
	/* bytes: an answer over a quarter is not kept; big ones push others out */
	static uint8_t big[1100];
	CHECK_INT(memo_put(m, "x", 1, NULL, 0, big, sizeof big, 0, INT64_MAX), 0);
	CHECK(!memo_get(m, "x", 1, NULL, 0, 0, &len, NULL));
	memo_put(m, "y", 1, NULL, 0, big, 1000, 0, INT64_MAX);
	memo_put(m, "z", 1, NULL, 0, big, 1000, 0, INT64_MAX);
	memo_put(m, "w", 1, NULL, 0, big, 1000, 0, INT64_MAX);
	memo_put(m, "v", 1, NULL, 0, big, 1000, 0, INT64_MAX);
	CHECK(memo_bytes(m) <= 4096);
	CHECK(memo_get(m, "v", 1, NULL, 0, 0, &len, NULL) && len == 1000);
	/* expiry */
	memo_put(m, "t", 1, NULL, 0, (const uint8_t *)"T", 1, 0, 100);
	CHECK(memo_get(m, "t", 1, NULL, 0, 100, &len, NULL));
	CHECK(!memo_get(m, "t", 1, NULL, 0, 101, &len, NULL));
	memo_clear(m);
	CHECK_INT(memo_count(m), 0);
	CHECK_INT(memo_bytes(m), 0);
	memo_free(m);
}

int main(void)
{
	RUN(test_response_as_nanopb);
	RUN(test_memo);
	RUN(test_memo_bounds);
	index_slot_free(slot);
	return check_summary();
}
