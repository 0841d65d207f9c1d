#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "core/verdict.h"
#include "fixture.h"

static struct host_index *idx;

static int judge_with(struct host_index *in, const struct verdict_opts *o, const char *json, struct verdict *v,
		      struct cerr *err)
{
	struct artifact a;
	if (artifact_parse(json, strlen(json), "t", &a, err) < 0)
		return -100;
	int rc = verdict_check(in, &a, o, v, err);
	artifact_free(&a);
	return rc;
}

static int judge(const char *json, struct verdict *v)
{
	struct cerr err;
	return judge_with(idx, NULL, json, v, &err);
}

static const struct finding *find_kind(const struct verdict *v, const char *kind, const char *soname)
{
	for (size_t i = 0; i < v->nfindings; i++)
		if (!strcmp(v->findings[i].kind, kind) && !strcmp(v->findings[i].soname, soname))
			return &v->findings[i];
	return NULL;
}

static int has(const struct verdict *v, const char *kind, const char *soname)
{
	const struct finding *f = find_kind(v, kind, soname);
	return f ? 1 + f->warning : 0;
}

#define NS "\"llnl.compatlib."
#define X86 NS "elf.class\":\"ELF64\"," NS "elf.machine\":\"x86_64\","

static void test_compatible_with_versions_and_symbols(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "isa-level\":\"x86-64-v1\"," NS
			"needed.libc.so.6\":\"GLIBC_2.2.5 GLIBC_2.34\"," NS
			"symbols.libc.so.6\":\"printf@GLIBC_2.2.5 malloc __libc_start_main@GLIBC_2.34\"}}", &v), 0);
	CHECK(v.compatible);
	CHECK_INT(v.nfindings, 0);
	CHECK_INT(v.nresolved, 1);
	CHECK_STR(v.resolved[0].path, "/lib/x86_64-linux-gnu/libc.so.6");
	CHECK_INT(v.nnotes, 0);
	CHECK_STR(v.summary, "needs glibc >= 2.34");
	CHECK(v.nsearched >= 2 && !strcmp(v.searched[0].dir, "/etc/ld.so.cache"));
	size_t len;
	char *j = verdict_to_json(&v, &len);
	CHECK(j && strstr(j, "\"compatible\":true") && strstr(j, "\"libc.so.6\":\"/lib/x86_64-linux-gnu/libc.so.6\"") &&
	      strstr(j, "\"minimum\":{\"GLIBC\":\"2.34\"}"));
	/* the report reads back the same (check --host) */
	struct verdict back;
	CHECK_INT(verdict_from_json(j, len, &back), 0);
	char *j2 = verdict_to_json(&back, NULL);
	CHECK_STR(j2, j);
	free(j2);
	verdict_free(&back);
	free(j);
	verdict_free(&v);
}

/* Root causes lead and what they explain is folded into them. */
static void test_root_cause_first_and_folded(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "elf.interpreter\":\"/lib/ld-musl-x86_64.so.1\"," NS
			"needed.libc.so.6\":\"GLIBC_2.2.5 GLIBC_99.0\"," NS "weak.libc.so.6\":\"GLIBC_98.0\"," NS
			"symbols.libc.so.6\":\"printf no_such_fn new_fn@GLIBC_99.0\"," NS "needed.libnope.so.3\":\"\"}}",
			&v), 0);
	CHECK(!v.compatible);
	CHECK_STR(v.findings[0].kind, "missing-interpreter");
	CHECK_INT(v.findings[0].nfolded, 1);
	CHECK(v.findings[0].nfolded == 1 && !strcmp(v.findings[0].folded[0], "libnope.so.3"));
	CHECK(strstr(v.findings[0].detail, "libnope.so.3") != NULL);
	CHECK_INT(has(&v, "missing-soname", "libnope.so.3"), 0);
	const struct finding *mv = find_kind(&v, "missing-version", "libc.so.6");
	CHECK(mv && !mv->warning);
	if (mv) {
		CHECK_STR(mv->version, "GLIBC_99.0");
		CHECK_STR(mv->host_newest, "GLIBC_2.36");
		CHECK(mv->nsymbols == 1 && !strcmp(mv->symbols[0], "new_fn"));
		CHECK_STR(mv->detail, "libc.so.6 provides up to GLIBC_2.36; GLIBC_99.0 needed by new_fn");
	}
	/* new_fn is explained by the missing version, not reported again */
	const struct finding *us = find_kind(&v, "undefined-symbol", "libc.so.6");
	CHECK(us && us->nsymbols == 1 && !strcmp(us->symbols[0], "no_such_fn"));
	CHECK(v.findings[v.nfindings - 1].warning);
	int weak_warn = 0;
	for (size_t i = 0; i < v.nfindings; i++)
		weak_warn |= v.findings[i].warning && strstr(v.findings[i].detail, "GLIBC_98.0") != NULL;
	CHECK(weak_warn);
	CHECK_STR(v.summary, "needs glibc >= 99.0");
	CHECK(v.nnotes == 1 && !strcmp(v.notes[0], "ISA level not recorded: not checked"));
	verdict_free(&v);
	/* a missing version no recorded symbol needs (--no-symbols, or the
	 * prototype's serve test): said without "by" */
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libc.so.6\":\"GLIBC_99.0\"}}", &v), 0);
	mv = find_kind(&v, "missing-version", "libc.so.6");
	CHECK(mv && mv->nsymbols == 0 && !strcmp(mv->detail, "libc.so.6 provides up to GLIBC_2.36; GLIBC_99.0 needed"));
	verdict_free(&v);
	/* without a root cause, the missing library is a finding of its own */
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libnope.so.3\":\"\"}}", &v), 0);
	CHECK_INT(has(&v, "missing-soname", "libnope.so.3"), 1);
	verdict_free(&v);
}

static void test_wrong_arch_and_prototype(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" NS "elf.class\":\"ELF64\"," NS
			"elf.machine\":\"aarch64\"," NS "needed.libc.so.6\":\"GLIBC_2.17\"," NS "needed.libz.so.1\":\"\"}}",
			&v), 0);
	CHECK(!v.compatible);
	CHECK_INT(v.nfindings, 1);
	CHECK_INT(has(&v, "wrong-arch", ""), 1);
	CHECK(v.nfindings && v.findings[0].nfolded == 2);
	CHECK_INT(v.nnotes, 0);	/* no x86-64 ISA question for an aarch64 program */
	verdict_free(&v);
	/* 0.0.1: library names only, any ABI */
	CHECK_INT(judge("{\"version\":\"0.0.1\",\"attributes\":{" NS "executable-name\":\"xz\"," NS
			"library-name.0\":\"libc.so.6\"," NS "library-name.1\":\"liblzma.so.5\"}}", &v), 0);
	CHECK(v.compatible);
	CHECK_INT(v.nresolved, 2);
	verdict_free(&v);
	CHECK(judge("{\"version\":\"0.1.0\",\"attributes\":{" NS "elf.machine\":\"vax11\"}}", &v) == COMPAT_EINVAL);
}

static char lib_old[512], lib_new[512], prog[512];

/* Debian 12's libpthread.so.0 is a stub that defines GLIBC_2.2.5 and the
 * other versions but no pthread_create; libc.so.6 defines
 * pthread_create@GLIBC_2.2.5, and old programs run. The same here: a
 * program built against a libstub.so.0 that defined thing@STUB_1.0, judged
 * where libstub.so.0 only defines the version and libreal.so.1 (which the
 * stub needs) defines the symbol. */
static void build_stub_fixture(void)
{
	const char *d = fx_tmpdir();
	snprintf(lib_old, sizeof lib_old, "%s/old", d);
	snprintf(lib_new, sizeof lib_new, "%s/new", d);
	snprintf(prog, sizeof prog, "%s/stubprog", d);
	fx_write("thing.c", "int thing(void){return 42;}\n");
	fx_write("stub.c", "int stub_placeholder;\n");
	fx_write("stub.map", "STUB_1.0 { global: stub_placeholder; local: *; };\n");
	fx_write("thing.map", "STUB_1.0 { global: thing; local: *; };\n");
	fx_write("stubprog.c", "int thing(void); int main(void){return thing() == 42 ? 0 : 1;}\n");
	CHECK(fx_sh("mkdir -p %s %s && "
		    "gcc -shared -fPIC -o %s/libstub.so.0 %s/thing.c -Wl,-soname,libstub.so.0 -Wl,--version-script,%s/thing.map && "
		    "gcc -o %s %s/stubprog.c %s/libstub.so.0 && "
		    "gcc -shared -fPIC -o %s/libreal.so.1 %s/thing.c -Wl,-soname,libreal.so.1 -Wl,--version-script,%s/thing.map && "
		    "gcc -shared -fPIC -o %s/libstub.so.0 %s/stub.c -Wl,-soname,libstub.so.0 -Wl,--version-script,%s/stub.map "
		    "-Wl,--no-as-needed %s/libreal.so.1",
		    lib_old, lib_new, lib_old, d, d, prog, d, lib_old, lib_new, d, d, lib_new, d, d, lib_new) == 0);
}

static void test_binding_rule_stub_library(void)
{
	build_stub_fixture();
	/* the loader runs it against the stub, binding thing in libreal */
	CHECK(fx_sh("LD_BIND_NOW=1 LD_LIBRARY_PATH=%s %s", lib_new, prog) == 0);
	CHECK(fx_sh("LD_BIND_NOW=1 LD_LIBRARY_PATH=%s %s", lib_old, prog) == 0);
	const char *art = "{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libc.so.6\":\"GLIBC_2.34\"," NS
			  "needed.libstub.so.0\":\"STUB_1.0\"," NS "symbols.libstub.so.0\":\"thing@STUB_1.0\"}}";
	const char *dirs[] = { lib_new };
	struct index_opts io = { .extra_dirs = dirs, .nextra = 1 };
	struct host_index *in;
	struct verdict v;
	struct cerr err;
	CHECK_INT(index_build(&io, &in, &err), 0);
	CHECK_INT(judge_with(in, NULL, art, &v, &err), 0);
	CHECK(v.compatible);
	for (size_t i = 0; i < v.nfindings; i++)
		printf("# unexpected: %s %s %s\n", v.findings[i].kind, v.findings[i].soname, v.findings[i].detail);
	verdict_free(&v);
	index_free(in);
	/* the same through a per-request directory, as the server gets it */
	struct verdict_opts vo = { .extra_dirs = dirs, .nextra = 1 };
	CHECK_INT(judge_with(idx, &vo, art, &v, &err), 0);
	CHECK(v.compatible);
	verdict_free(&v);
}

/* ... and where no library of the closure defines the symbol, it is
 * undefined: the loader agrees (symbol lookup error). */
static void test_binding_rule_undefined(void)
{
	const char *art = "{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libc.so.6\":\"GLIBC_2.34\"," NS
			  "needed.libstub.so.0\":\"STUB_1.0\"," NS "symbols.libstub.so.0\":\"thing@STUB_1.0\"}}";
	const char *dirs[] = { lib_new };
	struct verdict_opts vo = { .extra_dirs = dirs, .nextra = 1 };
	struct verdict v;
	struct cerr err;
	const char *d = fx_tmpdir();
	/* libreal.so.1 now defines STUB_1.0 but not thing */
	CHECK(fx_sh("gcc -shared -fPIC -o %s/libreal.so.1 %s/stub.c -Wl,-soname,libreal.so.1 -Wl,--version-script,%s/stub.map",
		    lib_new, d, d) == 0);
	CHECK(fx_sh("LD_BIND_NOW=1 LD_LIBRARY_PATH=%s %s 2>/dev/null", lib_new, prog) == 127);
	CHECK_INT(judge_with(idx, &vo, art, &v, &err), 0);
	CHECK(!v.compatible);
	const struct finding *f = find_kind(&v, "undefined-symbol", "libstub.so.0");
	CHECK(f && f->nsymbols == 1 && !strcmp(f->symbols[0], "thing@STUB_1.0"));
	verdict_free(&v);
}

/* Unbound symbols are looked up across the closure; plugin imports are
 * warnings only. */
static void test_unbound_and_plugin_imports(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libc.so.6\":\"\"," NS
			"unbound\":\"printf strlen@GLIBC_2.2.5 not_anywhere_fn\"," NS
			"plugin-imports\":\"PyFloat_Type malloc\"}}", &v), 0);
	CHECK(!v.compatible);
	const struct finding *f = find_kind(&v, "undefined-symbol", "");
	CHECK(f && f->nsymbols == 1 && !strcmp(f->symbols[0], "not_anywhere_fn"));
	f = find_kind(&v, "plugin-imports", "");
	CHECK(f && f->warning && f->nsymbols == 1 && !strcmp(f->symbols[0], "PyFloat_Type"));
	verdict_free(&v);
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libc.so.6\":\"\"," NS
			"plugin-imports\":\"PyFloat_Type\"}}", &v), 0);
	CHECK(v.compatible);
	CHECK_INT(has(&v, "plugin-imports", ""), 2);
	verdict_free(&v);
}

/* Symbols nothing bound where the artifact was made may be a missing
 * library's (an image's libcuda.so.1): with a soname missing, they are a
 * note, not undefined-symbol findings of their own. */
static void test_unbound_with_a_missing_soname(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "needed.libc.so.6\":\"\"," NS
			"needed.libcompat-absent-cuda.so.1\":\"\"," NS "unbound\":\"cuInit cuDeviceGet\"}}", &v), 0);
	CHECK(!v.compatible);
	CHECK_INT(has(&v, "missing-soname", "libcompat-absent-cuda.so.1"), 1);
	CHECK_INT(has(&v, "undefined-symbol", ""), 0);
	int noted = 0;
	for (size_t i = 0; i < v.nnotes; i++)
		noted |= strstr(v.notes[i], "2 symbols nothing bound") != NULL;
	CHECK(noted);
	verdict_free(&v);
}

/* Many needs are judged in linear time; bounds refuse with ELIMIT. */
static void test_many_needs_fast_and_bounded(void)
{
	size_t n = 20000, cap = n * 64 + 256, used = 0;
	char *json = malloc(cap);
	CHECK(json != NULL);
	if (!json)
		return;
	used += (size_t)snprintf(json + used, cap - used, "{\"version\":\"0.1.0\",\"attributes\":{" X86);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(json + used, cap - used, "%s" NS "needed.libmissing%zu.so.1\":\"V_%zu\"",
					 i ? "," : "", i, i);
	snprintf(json + used, cap - used, "}}");
	struct verdict v;
	struct cerr err;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(judge_with(idx, NULL, json, &v, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# %zu needs judged in %.1f ms\n", n, ms);
	CHECK(ms < 500);
	CHECK_INT(v.nfindings, n);
	size_t len;
	char *j = verdict_to_json(&v, &len);
	CHECK(j != NULL);
	free(j);
	verdict_free(&v);
	struct verdict_opts small = { .max_needs = 1000 };
	CHECK_INT(judge_with(idx, &small, json, &v, &err), COMPAT_ELIMIT);
	CHECK(strstr(err.msg, "20000 host needs") != NULL);
	struct verdict_opts fewsyms = { .max_symbols = 2 };
	CHECK_INT(judge_with(idx, &fewsyms,
			     "{\"version\":\"0.1.0\",\"attributes\":{" X86 NS "symbols.libc.so.6\":\"a b c\"}}", &v, &err),
		  COMPAT_ELIMIT);
	CHECK(strstr(err.msg, "3 symbols") != NULL);
	free(json);
}

int main(void)
{
	struct index_opts o = { 0 };
	if (index_build(&o, &idx, NULL) < 0) {
		printf("not ok - index_build\n");
		return 1;
	}
	RUN(test_compatible_with_versions_and_symbols);
	RUN(test_root_cause_first_and_folded);
	RUN(test_wrong_arch_and_prototype);
	RUN(test_binding_rule_stub_library);
	RUN(test_binding_rule_undefined);
	RUN(test_unbound_and_plugin_imports);
	RUN(test_unbound_with_a_missing_soname);
	RUN(test_many_needs_fast_and_bounded);
	index_free(idx);
	fx_cleanup();
	return check_summary();
}
