/* Out of memory, everywhere (issue 11, as nghttp2's failmalloc tests do):
 * this test replaces malloc (glibc supports replacing it for the whole
 * process, its own strdup, asprintf and opendir included) with one that can
 * fail the N-th allocation, then runs describe, resolve, verdict and the OCI
 * parsers with N = 1, 2, ... up to the number of allocations a run makes.
 * Every run must end in success or COMPAT_ENOMEM (never a crash, another
 * error, or a wrong answer), and free everything it took: the live blocks
 * are counted by the replacement itself, so no leak detector is needed.
 * Under ASan (which owns malloc) the test is skipped. */
#include <execinfo.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/artifact.h"
#include "core/grpc.h"
#include "core/jsonw.h"
#include "core/describe.h"
#include "core/hostindex.h"
#include "core/oci.h"
#include "core/ocicache.h"
#include "core/resolve.h"
#include "core/service.h"
#include "compat.pb.h"
#include <pb_encode.h>
#include "core/pbstr.h"
#include "core/verdict.h"
#include "fixture.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#define SKIP_UNDER_ASAN()                                                                 \
	do {                                                                             \
		if (UNDER_ASAN)                                                          \
			SKIP("ASan owns malloc: the allocation-failure sweeps run in the plain build"); \
	} while (0)

/* ---- the replacement ---- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static long alloc_calls;	/* allocations so far */
static long fail_at;		/* fail the fail_at-th one (0: never) */
static long failed;		/* how many were failed */

/* The blocks this replacement handed out and that are not freed yet: an
 * open-addressed set, so that a block from elsewhere (glibc's memalign) is
 * not miscounted. */
#define LIVE_CAP (1u << 20)
static void *live[LIVE_CAP];
static const void *const tomb = &live;
static long nlive;

static size_t slot(const void *p)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) & (LIVE_CAP - 1);
}

__attribute__((unused)) static void live_add(void *p)
{
	for (size_t i = slot(p);; i = (i + 1) & (LIVE_CAP - 1))
		if (!live[i] || live[i] == tomb) {
			live[i] = p;
			nlive++;
			return;
		}
}

__attribute__((unused)) static void live_del(void *p)
{
	for (size_t i = slot(p); live[i]; i = (i + 1) & (LIVE_CAP - 1))
		if (live[i] == p) {
			live[i] = (void *)tomb;
			nlive--;
			return;
		}
}

/* FAILMALLOC_TRACE=SWEEP:N prints where allocation N of that sweep is
 * made, to find the code that mishandles its failure. */
static const char *sweeping;
static char trace_sweep[64];
static long trace_at;

__attribute__((unused)) static int fail_now(void)
{
	alloc_calls++;
	if (fail_at && alloc_calls == fail_at) {
		failed++;
		if (trace_at == fail_at && sweeping && strcmp(sweeping, trace_sweep) == 0) {
			void *frames[24];
			int n = backtrace(frames, 24);
			backtrace_symbols_fd(frames, n, 1);
		}
		return 1;
	}
	return 0;
}

#if !UNDER_ASAN	/* ASan's allocator stays in place; the sweeps skip */
void *malloc(size_t n)
{
	if (fail_now())
		return NULL;
	void *p = __libc_malloc(n);
	if (p)
		live_add(p);
	return p;
}

void *calloc(size_t n, size_t m)
{
	if (fail_now())
		return NULL;
	void *p = __libc_calloc(n, m);
	if (p)
		live_add(p);
	return p;
}

void *realloc(void *old, size_t n)
{
	if (!old)
		return malloc(n);
	if (fail_now())
		return NULL;
	void *p = __libc_realloc(old, n);
	if (p) {
		live_del(old);
		live_add(p);
	}
	return p;
}

void free(void *p)
{
	if (p)
		live_del(p);
	__libc_free(p);
}
#endif

/* ---- the operations ---- */

static const char *program = "/usr/bin/xz";

/* What a run that did not fail must produce: the first (unarmed) run's. */
static char *want_artifact;
static char want_resolution[8192];
static char *want_report;

static int op_describe(struct cerr *err)
{
	struct artifact a;
	const char *paths[] = { program };
	struct describe_opts o = { 0 };
	artifact_init(&a);
	int rc = describe_paths(paths, 1, &o, NULL, NULL, &a, err);
	if (rc == 0) {
		/* compared attribute by attribute, in a fixed buffer: jansson's
		 * writer is not itself safe when an allocation fails */
		static char got[1 << 16];
		size_t off = 0;
		for (size_t i = 0; i < a.nattrs && off < sizeof got; i++)
			off += (size_t)snprintf(got + off, sizeof got - off, "%s=%s\n", a.attrs[i].key, a.attrs[i].value);
		if (!want_artifact)
			want_artifact = strdup(got);
		else if (strcmp(got, want_artifact) != 0)
			rc = cerr_set(err, COMPAT_EINVAL, "a different artifact");
	}
	artifact_free(&a);
	return rc;
}

static int op_resolve(struct cerr *err)
{
	struct rs_opts o = { .elf_flags = ELF_READ_UNDEFS };
	struct resolver *rv = NULL;
	struct resolution r;
	int rc = resolver_new(&o, &rv, err);
	if (rc == 0) {
		rc = resolver_run(rv, program, &r, err);
		if (rc == 0) {
			char got[sizeof want_resolution];
			size_t off = 0;
			for (size_t i = 0; i < r.n && off < sizeof got; i++)
				off += (size_t)snprintf(got + off, sizeof got - off, "%s=%s;", r.objs[i].name,
							r.objs[i].path ? r.objs[i].path : "-");
			if (!want_resolution[0])
				memcpy(want_resolution, got, sizeof got);
			else if (strcmp(got, want_resolution) != 0)
				rc = cerr_set(err, COMPAT_EINVAL, "a different resolution: %.200s", got);
			resolution_free(&r);
		}
	}
	resolver_free(rv);
	return rc;
}

static const char artifact_text[] =
	"{\"version\":\"0.1.0\",\"attributes\":{"
	"\"llnl.compatlib.executable-name\":\"x\",\"llnl.compatlib.elf.class\":\"ELF64\","
	"\"llnl.compatlib.elf.machine\":\"x86_64\",\"llnl.compatlib.elf.interpreter\":\"/lib64/ld-linux-x86-64.so.2\","
	"\"llnl.compatlib.needed.libc.so.6\":\"GLIBC_2.2.5 GLIBC_2.99\","
	"\"llnl.compatlib.needed.liblzma.so.5\":\"XZ_5.0\","
	"\"llnl.compatlib.needed.libcompat-absent.so.1\":\"\","
	"\"llnl.compatlib.symbols.libc.so.6\":\"printf@GLIBC_2.2.5 strlen nosuchfn\","
	"\"llnl.compatlib.unbound\":\"alsonotthere\",\"llnl.compatlib.runpath\":\"/nonexistent\"}}";

static struct artifact judged;	/* parsed once, outside the sweep */

static int op_verdict(struct cerr *err)
{
	struct host_index *idx = NULL;
	struct verdict v;
	struct index_opts io = { .lazy = 1 };
	int rc = index_build(&io, &idx, err);
	if (rc == 0) {
		rc = verdict_check(idx, &judged, NULL, &v, err);
		if (rc == 0) {
			/* the answer must be whole: the same findings and paths as
			 * without failures (a fixed buffer: jansson's writer is not
			 * itself safe when an allocation fails) */
			static char got[1 << 16];
			size_t off = 0;
			for (size_t i = 0; i < v.nfindings && off < sizeof got; i++)
				off += (size_t)snprintf(got + off, sizeof got - off, "%s|%s|%s|%d\n", v.findings[i].kind,
							v.findings[i].soname, v.findings[i].detail, v.findings[i].warning);
			for (size_t i = 0; i < v.nresolved && off < sizeof got; i++)
				off += (size_t)snprintf(got + off, sizeof got - off, "%s=%s\n", v.resolved[i].soname,
							v.resolved[i].path ? v.resolved[i].path : "-");
			if (!want_report)
				want_report = strdup(got);
			else if (strcmp(got, want_report) != 0)
				rc = cerr_set(err, COMPAT_EINVAL, "a different report: %.200s", got);
			verdict_free(&v);
		}
	}
	index_free(idx);
	return rc;
}

/* The OCI layout cache: a blob stored, read back and verified. (JSON text
 * is left out of the sweeps: jansson 2.14 is not safe when an allocation
 * fails -- its lexer's lex_save drops a byte it cannot store and
 * lex_scan_string then reads past the saved text; its writer can return a
 * shortened document -- upstream defects, docs/serve.md "Known limits".) */
static char cache_dir[600];

static int op_oci(struct cerr *err)
{
	static const char blob[] = "{\"version\":\"0.1.0\",\"attributes\":{}}";
	char digest[OCI_DIGEST_SIZE], *data = NULL;
	size_t len;
	oci_digest(blob, sizeof blob - 1, digest);
	int rc = ocicache_put_blob(cache_dir, digest, blob, sizeof blob - 1, err);
	if (rc == 0)
		rc = ocicache_get_blob(cache_dir, digest, 4096, &data, &len, err);
	if (rc == 0 && (len != sizeof blob - 1 || memcmp(data, blob, len) != 0))
		rc = COMPAT_EINVAL;
	free(data);
	return rc;
}

/* The artifact's own reader (not jansson's: artifact.c), on a text with
 * escapes: the same attributes, or out of memory. */
static const char escaped_text[] =
	"{\"version\":\"0.1.0\",\"attributes\":{\"llnl.compatlib.executable-name\":\"x\\u00e9\\n\",\"k\":\"\\ud83d\\ude00\"},"
	"\"other\":\"s\"}";
static char *want_attrs;

static int op_artifact(struct cerr *err)
{
	struct artifact a;
	int rc = artifact_parse(escaped_text, sizeof escaped_text - 1, "t", &a, err);
	if (rc == 0) {
		char got[512];
		size_t off = (size_t)snprintf(got, sizeof got, "%s;", a.version);
		for (size_t i = 0; i < a.nattrs && off < sizeof got; i++)
			off += (size_t)snprintf(got + off, sizeof got - off, "%s=%s;", a.attrs[i].key, a.attrs[i].value);
		if (!want_attrs)
			want_attrs = strdup(got);
		else if (strcmp(got, want_attrs) != 0)
			rc = cerr_set(err, COMPAT_EINVAL, "a different artifact: %.200s", got);
		artifact_free(&a);
	}
	return rc;
}

/* The JSON report (jsonw): the same bytes, or out of memory, never a
 * shortened document. */
static struct verdict report_of;
static char *want_json;

static int op_report(struct cerr *err)
{
	size_t len;
	char *j = verdict_to_json(&report_of, &len);
	if (!j)
		return COMPAT_ENOMEM;
	int rc = 0;
	if (!want_json)
		want_json = strdup(j);
	else if (strlen(j) != len || strcmp(j, want_json) != 0)
		rc = cerr_set(err, COMPAT_EINVAL, "a different report: %.200s", j);
	free(j);
	return rc;
}

/* The server's CheckCompatibility on a full index built outside the sweep:
 * a loop's service set up, the request answered twice (the second from the
 * memo), torn down. Both answers the reference bytes, or
 * RESOURCE_EXHAUSTED "out of memory". */
static struct host_index *full_index;
static const char service_text[] =	/* artifact_text without its runpath (no directory to read) */
	"{\"version\":\"0.1.0\",\"attributes\":{"
	"\"llnl.compatlib.executable-name\":\"x\",\"llnl.compatlib.elf.class\":\"ELF64\","
	"\"llnl.compatlib.elf.machine\":\"x86_64\",\"llnl.compatlib.elf.interpreter\":\"/lib64/ld-linux-x86-64.so.2\","
	"\"llnl.compatlib.needed.libc.so.6\":\"GLIBC_2.2.5 GLIBC_2.99\","
	"\"llnl.compatlib.needed.libcompat-absent.so.1\":\"\","
	"\"llnl.compatlib.symbols.libc.so.6\":\"printf@GLIBC_2.2.5 strlen nosuchfn\"}}";
static uint8_t request_msg[4096];
static size_t request_len;
static uint8_t *want_body;
static size_t want_body_len;

static int answer_ok(const struct service_reply *r, struct cerr *err)
{
	if (r->status == GRPC_RESOURCE_EXHAUSTED && strcmp(r->message, "out of memory") == 0)
		return COMPAT_ENOMEM;
	if (r->status != 0 || !r->body)
		return cerr_set(err, COMPAT_EINVAL, "status %d: %s", r->status, r->message);
	if (!want_body) {
		want_body = __libc_malloc(r->len);
		memcpy(want_body, r->body, r->len);
		want_body_len = r->len;
		return 0;
	}
	if (r->len != want_body_len || memcmp(r->body, want_body, r->len) != 0)
		return cerr_set(err, COMPAT_EINVAL, "a different answer (%zu bytes)", r->len);
	return 0;
}

static int op_service(struct cerr *err)
{
	struct service tmpl = { .idx = full_index, .max_needs = 1024, .max_symbols = 65536, .max_reply = 1u << 20,
				.memo_entries = 8, .memo_bytes = 1u << 16 };
	struct service s;
	if (service_open(&s, &tmpl) < 0)
		return COMPAT_ENOMEM;
	int rc = 0;
	for (int i = 0; i < 2 && rc == 0; i++) {
		struct service_reply r;
		service_call(&s, "/" SERVICE_NAME "/CheckCompatibility", request_msg, request_len, &r);
		rc = answer_ok(&r, err);
		free(r.body);
	}
	service_close(&s);
	return rc;
}

/* Run op with every allocation failing in turn. */
static void sweep(const char *what, int (*op)(struct cerr *))
{
	struct cerr err;
	sweeping = what;
	fail_at = 0;
	CHECK_INT(op(&err), 0);	/* the reference answer, kept */
	long base = nlive;
	alloc_calls = 0;
	int rc = op(&err);
	CHECK_INT(rc, 0);
	long total = alloc_calls;
	CHECK(total > 0);
	CHECK_INT(nlive, base);
	long enomem = 0, bad = 0;
	for (long n = 1; n <= total; n++) {
		alloc_calls = 0;
		failed = 0;
		fail_at = n;
		memset(&err, 0, sizeof err);
		rc = op(&err);
		fail_at = 0;
		long leaked = nlive - base;
		if ((rc != 0 && rc != COMPAT_ENOMEM) || leaked) {
			if (bad++ < 5)
				printf("#   %s: allocation %ld of %ld failed: rc %d (%s), %ld blocks leaked\n", what, n, total,
				       rc, err.msg, leaked);
			base = nlive;
		}
		enomem += rc == COMPAT_ENOMEM;
	}
	printf("# %s: %ld allocations, each failed in turn: %ld runs said out of memory, the others "
	       "recovered\n", what, total, enomem);
	CHECK_INT(bad, 0);
	CHECK(enomem > 0);
}

static void test_describe(void)
{
	SKIP_UNDER_ASAN();
	sweep("describe", op_describe);
	CHECK(want_artifact && strstr(want_artifact, "liblzma.so.5"));
	free(want_artifact);
}
static void test_resolve(void)
{
	SKIP_UNDER_ASAN();
	sweep("resolve", op_resolve);
	CHECK(strstr(want_resolution, "liblzma.so.5=/") != NULL);
}
static void test_verdict(void)
{
	SKIP_UNDER_ASAN();
	struct cerr err;
	CHECK_INT(artifact_parse(artifact_text, sizeof artifact_text - 1, "t", &judged, &err), 0);
	sweep("verdict", op_verdict);
	CHECK(want_report && strstr(want_report, "libcompat-absent.so.1") && strstr(want_report, "nosuchfn") &&
	      !strstr(want_report, "printf"));
	free(want_report);
	artifact_free(&judged);
}
static void test_artifact_reader(void)
{
	SKIP_UNDER_ASAN();
	sweep("artifact reader", op_artifact);
	CHECK(want_attrs && strstr(want_attrs, "k=\xf0\x9f\x98\x80;") && strstr(want_attrs, "x\xc3\xa9\n;"));
	free(want_attrs);
}

static void test_report_writer(void)
{
	SKIP_UNDER_ASAN();
	struct host_index *idx = NULL;
	struct index_opts io = { .lazy = 1 };
	struct cerr err;
	CHECK_INT(artifact_parse(artifact_text, sizeof artifact_text - 1, "t", &judged, &err), 0);
	CHECK_INT(index_build(&io, &idx, &err), 0);
	CHECK_INT(verdict_check(idx, &judged, NULL, &report_of, &err), 0);
	sweep("report writer", op_report);
	CHECK(want_json && strstr(want_json, "\"kind\":\"missing-soname\"") && strstr(want_json, "nosuchfn"));
	free(want_json);
	verdict_free(&report_of);
	index_free(idx);
	artifact_free(&judged);
}

static void test_service_answer(void)
{
	SKIP_UNDER_ASAN();
	struct index_opts io = { 0 };
	struct cerr err;
	CHECK_INT(index_build(&io, &full_index, &err), 0);
	convergedcomputing_org_grpc_v1_CompatRequest req = convergedcomputing_org_grpc_v1_CompatRequest_init_zero;
	req.payload.funcs.encode = pbstr_write;
	req.payload.arg = (void *)service_text;
	pb_ostream_t os = pb_ostream_from_buffer(request_msg, sizeof request_msg);
	CHECK(pb_encode(&os, convergedcomputing_org_grpc_v1_CompatRequest_fields, &req));
	request_len = os.bytes_written;
	sweep("server answer", op_service);
	CHECK(want_body && want_body_len > 100);
	__libc_free(want_body);
	index_free(full_index);
}

static void test_oci_cache(void)
{
	SKIP_UNDER_ASAN();
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", fx_tmpdir());
	sweep("oci cache", op_oci);
}

int main(void)
{
	printf("# failmalloc\n");	/* stdio's own buffer, before any count */
	const char *tr = getenv("FAILMALLOC_TRACE"), *colon = tr ? strrchr(tr, ':') : NULL;
	if (colon && (size_t)(colon - tr) < sizeof trace_sweep) {
		memcpy(trace_sweep, tr, (size_t)(colon - tr));
		trace_at = atol(colon + 1);
		void *warm[2];
		backtrace(warm, 2);	/* loads libgcc before any count */
	}
	RUN(test_describe);
	RUN(test_resolve);
	RUN(test_verdict);
	RUN(test_oci_cache);
	RUN(test_artifact_reader);
	RUN(test_report_writer);
	RUN(test_service_answer);
	fx_cleanup();
	return check_summary();
}
