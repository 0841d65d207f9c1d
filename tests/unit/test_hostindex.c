#include <elf.h>
#include <time.h>

#include "check.h"
#include "core/hostindex.h"
#include "fixture.h"

static int has_version(const struct host_lib *l, const char *v)
{
	for (size_t i = 0; l && i < l->nverdefs; i++)
		if (strcmp(l->verdefs[i], v) == 0)
			return 1;
	return 0;
}

static void test_host_libc(void)
{
	struct index_opts o = { 0 };
	struct host_index *idx;
	struct cerr err;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(index_build(&o, &idx, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# indexed %zu libraries in %.1f ms\n", index_count(idx),
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	const struct host_lib *l = index_lookup_soname(idx, "libc.so.6", ELFCLASS64, EM_X86_64);
	CHECK(l != NULL);
	if (l) {
		CHECK_STR(l->path, "/lib/x86_64-linux-gnu/libc.so.6");
		CHECK_STR(l->soname, "libc.so.6");
		CHECK(has_version(l, "GLIBC_2.34"));
		CHECK(!has_version(l, "GLIBC_9.0"));
		CHECK_INT(index_lib_exports(idx, l, "printf"), 1);
		CHECK_INT(index_lib_exports(idx, l, "no_such_function_anywhere"), 0);
	}
	CHECK(index_lookup_soname(idx, "libdoesnotexist.so.9", ELFCLASS64, EM_X86_64) == NULL);
	/* Another ABI is another library (or none). */
	const struct host_lib *l32 = index_lookup_soname(idx, "libc.so.6", ELFCLASS32, EM_386);
	if (l32)
		CHECK(l32->elf_class == ELFCLASS32 && strcmp(l32->path, l ? l->path : "") != 0);
	CHECK(index_lookup_soname(idx, "libc.so.6", ELFCLASS64, EM_AARCH64) == NULL);
	CHECK(!index_is_stale(idx));
	CHECK(index_path_exists(idx, "/lib64/ld-linux-x86-64.so.2"));
	CHECK(!index_path_exists(idx, "/lib/ld-musl-x86_64.so.1"));
	index_free(idx);
}

static void test_extra_dirs_first_and_scripts_skipped(void)
{
	const char *d = fx_tmpdir();
	fx_write("z.c", "int z(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/x %s/s && gcc -shared -fPIC -o %s/x/libz.so.1 %s/z.c -Wl,-soname,libz.so.1 && "
		    "echo 'GROUP ( libc.so.6 )' > %s/s/libc.so.6", d, d, d, d, d) == 0);
	char x[600], s[600];
	snprintf(x, sizeof x, "%s/x", d);
	snprintf(s, sizeof s, "%s/s", d);
	const char *dirs[] = { s, x };
	struct index_opts o = { .extra_dirs = dirs, .nextra = 2 };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	const struct host_lib *l = index_lookup_soname(idx, "libz.so.1", ELFCLASS64, EM_X86_64);
	CHECK(l && strstr(l->path, "/x/libz.so.1"));
	/* The linker script in s/ provides nothing: the real libc wins. */
	l = index_lookup_soname(idx, "libc.so.6", ELFCLASS64, EM_X86_64);
	CHECK(l && strcmp(l->path, "/lib/x86_64-linux-gnu/libc.so.6") == 0);
	index_free(idx);
}

/* A root with its own ld.so.cache: the index follows that cache, and
 * notices when ldconfig rewrites it. */
static void test_root_cache_and_staleness(void)
{
	const char *d = fx_tmpdir();
	fx_write("r.c", "int r(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/root/etc %s/root/usr/lib/x86_64-linux-gnu %s/root/opt/l && "
		    "gcc -shared -fPIC -o %s/root/opt/l/libroot.so.4 %s/r.c -Wl,-soname,libroot.so.4 && "
		    "echo /opt/l > %s/root/etc/ld.so.conf && /sbin/ldconfig -r %s/root -X",
		    d, d, d, d, d, d, d) == 0);
	char root[600];
	snprintf(root, sizeof root, "%s/root", d);
	struct index_opts o = { .root = root };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	const struct host_lib *l = index_lookup_soname(idx, "libroot.so.4", ELFCLASS64, EM_X86_64);
	CHECK(l && strcmp(l->path, "/opt/l/libroot.so.4") == 0);
	CHECK(index_lookup_soname(idx, "libc.so.6", ELFCLASS64, EM_X86_64) == NULL);
	CHECK(!index_is_stale(idx));
	CHECK(fx_sh("sleep 0.01; /sbin/ldconfig -r %s -X", root) == 0);
	CHECK(index_is_stale(idx));
	index_free(idx);
}

static void test_root(void)
{
	struct index_opts o = { .root = "/nonexistent-root" };
	struct host_index *idx;
	struct cerr err;
	CHECK_INT(index_build(&o, &idx, &err), COMPAT_EIO);
	CHECK(strstr(err.msg, "/nonexistent-root") != NULL);
}

int main(void)
{
	RUN(test_host_libc);
	RUN(test_extra_dirs_first_and_scripts_skipped);
	RUN(test_root_cache_and_staleness);
	RUN(test_root);
	fx_cleanup();
	return check_summary();
}
