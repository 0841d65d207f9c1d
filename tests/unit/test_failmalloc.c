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
#include "core/describe.h"
#include "core/hostindex.h"
#include "core/oci.h"
#include "core/ocicache.h"
#include "core/resolve.h"
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
	fx_cleanup();
	return check_summary();
}
