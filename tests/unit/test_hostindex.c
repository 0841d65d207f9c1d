#include <dirent.h>
#include <elf.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "core/hostindex.h"
#include "fixture.h"
#include "core/ldcache.h"

/* Every test runs twice: on a full index (serve) and on a lazy one (check),
 * which must answer the same. */
static int lazy_mode;

static int has_version(const struct host_lib *l, const char *v)
{
	for (size_t i = 0; l && i < l->nverdefs; i++)
		if (strcmp(l->verdefs[i], v) == 0)
			return 1;
	return 0;
}

static void test_host_libc(void)
{
	struct index_opts o = { .lazy = lazy_mode };
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

/* The extra directories come first; a file there that is not ELF (a
 * linker script named libc.so.6) stops the search, as it stops ld.so
 * ("file too short" / "invalid ELF header"), and the real loader agrees. */
static void test_extra_dirs_first_and_scripts_stop(void)
{
	const char *d = fx_tmpdir();
	fx_write("z.c", "int z(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/x %s/s && gcc -shared -fPIC -o %s/x/libz.so.1 %s/z.c -Wl,-soname,libz.so.1 && "
		    "echo 'GROUP ( libc.so.6 )' > %s/s/libc.so.6", d, d, d, d, d) == 0);
	char x[600], s[600];
	snprintf(x, sizeof x, "%s/x", d);
	snprintf(s, sizeof s, "%s/s", d);
	const char *dirs[] = { s, x };
	struct index_opts o = { .extra_dirs = dirs, .nextra = 2, .lazy = lazy_mode };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	const struct host_lib *l = index_lookup_soname(idx, "libz.so.1", ELFCLASS64, EM_X86_64);
	CHECK(l && strstr(l->path, "/x/libz.so.1"));
	const char *bad = NULL;
	CHECK(index_lookup_step(idx, "libc.so.6", ELFCLASS64, EM_X86_64, LDSO_LD_LIBRARY_PATH, &bad) == NULL);
	CHECK(bad && strstr(bad, "/s/libc.so.6"));
	CHECK(index_lookup_soname(idx, "libc.so.6", ELFCLASS64, EM_X86_64) == NULL);
	/* the cache step alone still has it */
	l = index_lookup_step(idx, "libc.so.6", ELFCLASS64, EM_X86_64, LDSO_CACHE, &bad);
	CHECK(l && strcmp(l->path, "/lib/x86_64-linux-gnu/libc.so.6") == 0 && !bad);
	CHECK(fx_sh("LD_LIBRARY_PATH=%s /bin/true 2>/dev/null", s) != 0);	/* ld.so agrees */
	index_free(idx);
}

/* Wrong-class candidates are passed over; glibc-hwcaps subdirectories of
 * an extra directory come before it; DT_NEEDED is kept for the closure. */
static void test_hwcaps_subdir_and_wrong_class(void)
{
	const char *d = fx_tmpdir();
	fx_write("h.c", "#include <stdio.h>\nint h(void){return puts(\"h\");}\n");
	int level = 0;
	FILE *f = popen("/lib64/ld-linux-x86-64.so.2 --help | grep -c 'x86-64-v[234] (supported, searched)'", "r");
	if (f) {
		if (fscanf(f, "%d", &level) != 1)
			level = 0;
		pclose(f);
	}
	CHECK(fx_sh("mkdir -p %s/hw/glibc-hwcaps/x86-64-v2 %s/w32 && "
		    "gcc -shared -fPIC -o %s/hw/libh.so.1 %s/h.c -Wl,-soname,libh.so.1 && "
		    "cp %s/hw/libh.so.1 %s/hw/glibc-hwcaps/x86-64-v2/ && "
		    "(gcc -m32 -shared -fPIC -o %s/w32/libh.so.1 %s/h.c -Wl,-soname,libh.so.1 2>/dev/null || "
		    " cp %s/hw/libh.so.1 %s/w32/ && printf '\\001' | dd of=%s/w32/libh.so.1 bs=1 seek=4 conv=notrunc status=none)",
		    d, d, d, d, d, d, d, d, d, d, d) == 0);
	char hw[600], w32[600];
	snprintf(hw, sizeof hw, "%s/hw", d);
	snprintf(w32, sizeof w32, "%s/w32", d);
	const char *dirs[] = { w32, hw };
	struct index_opts o = { .extra_dirs = dirs, .nextra = 2, .no_system = 1, .lazy = lazy_mode };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	const struct host_lib *l = index_lookup_soname(idx, "libh.so.1", ELFCLASS64, EM_X86_64);
	CHECK(l != NULL);
	if (l) {
		printf("# %s (ld.so searches %d glibc-hwcaps levels here)\n", l->path, level);
		CHECK(strstr(l->path, level >= 1 ? "/hw/glibc-hwcaps/x86-64-v2/libh.so.1" : "/hw/libh.so.1") != NULL);
		int libc = 0;
		for (size_t i = 0; i < l->nneeded; i++)
			libc |= strcmp(l->needed[i], "libc.so.6") == 0;
		CHECK(libc);
	}
	/* the same in the real loader */
	char cmd[2400];
	snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH=%s:%s LD_DEBUG=libs /bin/true 2>&1 | grep -q 'trying file=%s/glibc-hwcaps'",
		 w32, hw, hw);
	if (level >= 1)
		CHECK(fx_sh("%s", cmd) == 0);
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
	struct index_opts o = { .root = root, .lazy = lazy_mode };
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

/* Everything under --root is opened inside it: Debian 11's absolute
 * lib64/ld-linux-x86-64.so.2 symlink means the tree's loader, and a
 * symlink to the host's libz provides nothing when the tree lacks it. */
static void test_root_stays_inside(void)
{
	const char *d = fx_tmpdir();
	fx_write("ld.c", "int ld(void){return 0;}\n");
	char root[600];
	snprintf(root, sizeof root, "%s/r11%s", d, lazy_mode ? "-lazy" : "");
	CHECK(fx_sh("mkdir -p %s/lib64 %s/lib/x86_64-linux-gnu %s/etc && "
		    "gcc -shared -fPIC -o %s/lib/x86_64-linux-gnu/ld-2.31.so %s/ld.c -Wl,-soname,ld-linux-x86-64.so.2 && "
		    "ln -s /lib/x86_64-linux-gnu/ld-2.31.so %s/lib64/ld-linux-x86-64.so.2 && "
		    "ln -s /usr/lib/x86_64-linux-gnu/libz.so.1 %s/lib/x86_64-linux-gnu/libz.so.1 && "
		    "test -e /usr/lib/x86_64-linux-gnu/libz.so.1",
		    root, root, root, root, d, root, root) == 0);
	struct index_opts o = { .root = root, .lazy = lazy_mode };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	CHECK(index_path_exists(idx, "/lib64/ld-linux-x86-64.so.2"));
	CHECK(index_lookup_soname(idx, "libz.so.1", ELFCLASS64, EM_X86_64) == NULL);
	CHECK(index_lookup_soname(idx, "ld-linux-x86-64.so.2", ELFCLASS64, EM_X86_64) == NULL); /* no such file name */
	CHECK_STR(index_root(idx), root);
	index_free(idx);
}

/* A tree's CPU is the one its loaders are for: a tree whose only loader is
 * an aarch64 one is an aarch64 host. (The loader here is an x86_64 file
 * with its e_machine patched: only its header is read.) */
static void test_root_cpu_from_loaders(void)
{
	const char *d = fx_tmpdir();
	char arm[600], x86[600];
	snprintf(arm, sizeof arm, "%s/arm", d);
	snprintf(x86, sizeof x86, "%s/x86", d);
	fx_write("l.c", "int l(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/lib/aarch64-linux-gnu %s/lib64 && "
		    "gcc -shared -fPIC -o %s/lib/ld-linux-aarch64.so.1 %s/l.c && "
		    "printf '\\267\\000' | dd of=%s/lib/ld-linux-aarch64.so.1 bs=1 seek=18 conv=notrunc status=none && "
		    "gcc -shared -fPIC -o %s/lib64/ld-linux-x86-64.so.2 %s/l.c",
		    arm, x86, arm, d, arm, x86, d) == 0);
	struct index_opts o = { .root = arm, .lazy = lazy_mode };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	CHECK_INT(index_cpu(idx), EM_AARCH64);
	CHECK(index_runs(idx, ELFCLASS64, EM_AARCH64));
	CHECK(!index_runs(idx, ELFCLASS64, EM_X86_64));
	index_free(idx);
	o.root = x86;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	CHECK_INT(index_cpu(idx), EM_X86_64);
	CHECK(index_runs(idx, ELFCLASS32, EM_386));	/* the CPU runs it; its loader may be missing */
	CHECK(!index_runs(idx, ELFCLASS64, EM_AARCH64));
	index_free(idx);
}

static void test_root(void)
{
	struct index_opts o = { .root = "/nonexistent-root", .lazy = lazy_mode };
	struct host_index *idx;
	struct cerr err;
	CHECK_INT(index_build(&o, &idx, &err), COMPAT_EIO);
	CHECK(strstr(err.msg, "/nonexistent-root") != NULL);
}

/* A lazy index and a full one answer every name alike: each soname of
 * ld.so.cache and each library-like file name of the default directories,
 * for the 64-bit and the 32-bit loader, step by step (what was found, what
 * stopped the search), with the same version definitions and DT_NEEDED. */
static void test_lazy_answers_as_full(void)
{
	struct index_opts fo = { 0 }, lo = { .lazy = 1 };
	struct host_index *full, *lazy;
	struct ldcache c;
	CHECK_INT(index_build(&fo, &full, NULL), 0);
	CHECK_INT(index_build(&lo, &lazy, NULL), 0);
	CHECK_INT(index_count(lazy), 0);	/* nothing read up front */
	if (ldcache_load("/etc/ld.so.cache", &c, NULL) < 0 || ldcache_entries(&c) < 0)
		memset(&c, 0, sizeof c);
	/* the names: cache keys, then the default directories' files */
	size_t cap = c.n + 16384, n = 0;
	char **names = calloc(cap, sizeof *names);
	CHECK(names != NULL);
	for (size_t i = 0; names && i < c.n; i++)
		names[n++] = strdup(c.entries[i].key);
	static const char *const dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib",
					    "/usr/lib/i386-linux-gnu", "/lib32", "/usr/lib32" };
	for (size_t k = 0; names && k < sizeof dirs / sizeof dirs[0]; k++) {
		DIR *dh = opendir(dirs[k]);
		struct dirent *e;
		while (dh && (e = readdir(dh)) != NULL && n < cap)
			if (strstr(e->d_name, ".so"))
				names[n++] = strdup(e->d_name);
		if (dh)
			closedir(dh);
	}
	static const enum ldso_how steps[] = { LDSO_CACHE, LDSO_DEFAULT };
	static const int abis[][2] = { { ELFCLASS64, EM_X86_64 }, { ELFCLASS32, EM_386 }, { 0, 0 } };
	size_t compared = 0, found = 0, differ = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; a < 3; a++)
			for (size_t s = 0; s < 2; s++) {
				const char *fb = NULL, *lb = NULL;
				const struct host_lib *f = index_lookup_step(full, names[i], abis[a][0], abis[a][1],
									     steps[s], &fb);
				const struct host_lib *l = index_lookup_step(lazy, names[i], abis[a][0], abis[a][1],
									     steps[s], &lb);
				int same = !f == !l && !fb == !lb && (!fb || strcmp(fb, lb) == 0);
				if (same && f) {
					same = strcmp(f->path, l->path) == 0 && f->nverdefs == l->nverdefs &&
					       f->nneeded == l->nneeded && !f->soname == !l->soname &&
					       (!f->soname || strcmp(f->soname, l->soname) == 0);
					for (size_t v = 0; same && v < f->nverdefs; v++)
						same = strcmp(f->verdefs[v], l->verdefs[v]) == 0;
					found++;
				}
				if (!same && differ++ < 5)
					printf("#   %s (class %d, machine %d, %s): full %s, lazy %s\n", names[i], abis[a][0],
					       abis[a][1], ldso_how_name(steps[s]), f ? f->path : fb ? fb : "-",
					       l ? l->path : lb ? lb : "-");
				compared++;
			}
	printf("# %zu lookups of %zu names compared, %zu found, %zu differ\n", compared, n, found, differ);
	CHECK(n > 0 && found > 0);
	CHECK_INT(differ, 0);
	/* what the loaders are, and where the default directories are */
	const struct host_lib *fl = index_lookup_path(full, "/lib64/ld-linux-x86-64.so.2");
	const struct host_lib *ll = index_lookup_path(lazy, "/lib64/ld-linux-x86-64.so.2");
	CHECK(!fl == !ll && (!fl || strcmp(fl->soname, ll->soname) == 0));
	CHECK(index_lookup_path(lazy, "/etc/passwd") == NULL);	/* neither a cache entry nor a loader */
	const char *fd[LDSO_MAX_DIRS], *ld[LDSO_MAX_DIRS];
	size_t nf = index_default_dirs(full, ELFCLASS64, EM_X86_64, fd), nl = index_default_dirs(lazy, ELFCLASS64,
												 EM_X86_64, ld);
	CHECK_INT(nl, nf);
	for (size_t i = 0; i < nf && i < nl; i++)
		CHECK_STR(ld[i], fd[i]);
	CHECK_INT(index_failures(lazy), 0);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ldcache_free(&c);
	index_free(full);
	index_free(lazy);
}

/* A lazy index reads only what is asked for: libc.so.6 is one library. */
static void test_lazy_reads_little(void)
{
	struct index_opts o = { .lazy = 1 };
	struct host_index *idx;
	CHECK_INT(index_build(&o, &idx, NULL), 0);
	CHECK(index_lazy(idx));
	const struct host_lib *l = index_lookup_soname(idx, "libc.so.6", ELFCLASS64, EM_X86_64);
	CHECK(l && strcmp(l->soname, "libc.so.6") == 0);
	CHECK_INT(index_count(idx), 1);
	if (l)
		CHECK_INT(index_lib_defines(idx, l, "printf", "GLIBC_2.2.5"), 1);
	CHECK(index_lookup_soname(idx, "libdoesnotexist.so.9", ELFCLASS64, EM_X86_64) == NULL);
	CHECK_INT(index_count(idx), 1);
	index_free(idx);
}

#define LAZY(fn)                                                             \
	static void fn##_lazy(void)                                          \
	{                                                                    \
		lazy_mode = 1;                                               \
		fn();                                                        \
		lazy_mode = 0;                                               \
	}
LAZY(test_host_libc)
LAZY(test_extra_dirs_first_and_scripts_stop)
LAZY(test_hwcaps_subdir_and_wrong_class)
LAZY(test_root_cache_and_staleness)
LAZY(test_root_stays_inside)
LAZY(test_root_cpu_from_loaders)

int main(void)
{
	RUN(test_host_libc);
	RUN(test_extra_dirs_first_and_scripts_stop);
	RUN(test_hwcaps_subdir_and_wrong_class);
	RUN(test_root_cache_and_staleness);
	RUN(test_root_stays_inside);
	RUN(test_root_cpu_from_loaders);
	RUN(test_root);
	RUN(test_host_libc_lazy);
	RUN(test_extra_dirs_first_and_scripts_stop_lazy);
	RUN(test_hwcaps_subdir_and_wrong_class_lazy);
	RUN(test_root_cache_and_staleness_lazy);
	RUN(test_root_stays_inside_lazy);
	RUN(test_root_cpu_from_loaders_lazy);
	RUN(test_lazy_answers_as_full);
	RUN(test_lazy_reads_little);
	fx_cleanup();
	return check_summary();
}
