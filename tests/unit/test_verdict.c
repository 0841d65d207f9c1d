#include <stdlib.h>

#include "check.h"
#include "core/verdict.h"

static struct host_index *idx;

static int judge(const char *json, struct verdict *v)
{
	struct artifact a;
	struct cerr err;
	if (artifact_parse(json, strlen(json), "t", &a, &err) < 0)
		return -100;
	int rc = verdict_check(idx, &a, NULL, v, &err);
	artifact_free(&a);
	return rc;
}

static int has(const struct verdict *v, const char *kind, const char *soname)
{
	for (size_t i = 0; i < v->nfindings; i++)
		if (!strcmp(v->findings[i].kind, kind) && !strcmp(v->findings[i].soname, soname))
			return 1 + v->findings[i].warning;
	return 0;
}

#define NS "\"llnl.compatlib."

static void test_compatible_with_versions_and_symbols(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" NS "elf.class\":\"ELF64\"," NS
			"elf.machine\":\"x86_64\"," NS "needed.libc.so.6\":\"GLIBC_2.2.5 GLIBC_2.34\"," NS
			"symbols.libc.so.6\":\"printf malloc\"}}", &v), 0);
	CHECK(v.compatible);
	CHECK_INT(v.nfindings, 0);
	CHECK_INT(v.nresolved, 1);
	CHECK_STR(v.resolved[0].path, "/lib/x86_64-linux-gnu/libc.so.6");
	size_t len;
	char *j = verdict_to_json(&v, &len);
	CHECK(j && strstr(j, "\"compatible\":true") && strstr(j, "\"libc.so.6\":\"/lib/x86_64-linux-gnu/libc.so.6\""));
	free(j);
	verdict_free(&v);
}

static void test_every_finding_reported(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" NS "elf.class\":\"ELF64\"," NS
			"elf.machine\":\"x86_64\"," NS "elf.interpreter\":\"/lib/ld-musl-x86_64.so.1\"," NS
			"needed.libc.so.6\":\"GLIBC_2.2.5 GLIBC_99.0\"," NS "weak.libc.so.6\":\"GLIBC_98.0\"," NS
			"symbols.libc.so.6\":\"printf no_such_fn\"," NS "needed.libnope.so.3\":\"\"}}", &v), 0);
	CHECK(!v.compatible);
	CHECK_INT(has(&v, "missing-interpreter", ""), 1);
	CHECK_INT(has(&v, "missing-version", "libc.so.6"), 1);
	CHECK_INT(has(&v, "undefined-symbol", "libc.so.6"), 1);
	CHECK_INT(has(&v, "missing-soname", "libnope.so.3"), 1);
	/* the weak version is a warning, sorted after the findings */
	CHECK(v.nfindings >= 5 && v.findings[v.nfindings - 1].warning);
	int weak_warn = 0;
	for (size_t i = 0; i < v.nfindings; i++)
		weak_warn |= v.findings[i].warning && strstr(v.findings[i].detail, "GLIBC_98.0") != NULL;
	CHECK(weak_warn);
	verdict_free(&v);
}

static void test_wrong_arch_and_prototype(void)
{
	struct verdict v;
	CHECK_INT(judge("{\"version\":\"0.1.0\",\"attributes\":{" NS "elf.class\":\"ELF64\"," NS
			"elf.machine\":\"aarch64\"}}", &v), 0);
	CHECK(!v.compatible);
	CHECK_INT(has(&v, "wrong-arch", ""), 1);
	verdict_free(&v);
	/* 0.0.1: library names only, any ABI */
	CHECK_INT(judge("{\"version\":\"0.0.1\",\"attributes\":{" NS "executable-name\":\"xz\"," NS
			"library-name.0\":\"libc.so.6\"," NS "library-name.1\":\"liblzma.so.5\"}}", &v), 0);
	CHECK(v.compatible);
	CHECK_INT(v.nresolved, 2);
	verdict_free(&v);
	CHECK(judge("{\"version\":\"0.1.0\",\"attributes\":{" NS "elf.machine\":\"vax11\"}}", &v) ==
	      COMPAT_EINVAL);
}

int main(void)
{
	struct index_opts o = { 0 };
	if (index_build(&o, &idx, NULL) < 0) {
		printf("not ok - index_build\n");
		return 1;
	}
	RUN(test_compatible_with_versions_and_symbols);
	RUN(test_every_finding_reported);
	RUN(test_wrong_arch_and_prototype);
	index_free(idx);
	return check_summary();
}
