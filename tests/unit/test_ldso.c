#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/cpu.h"
#include "core/ldso.h"
#include "core/pathlist.h"
#include "fixture.h"

/* What each row of the table must say, from glibc's sources (interpreter
 * names, ldconfig FLAG_* values) and Debian's multiarch layout. */
struct row_want {
	const char *name;
	int elf_class, machine, cpu;
	const char *interp;
	int32_t flags0;
	const char *dir0, *lib, *platform;
	size_t nhwcaps;
};

static const struct row_want want[] = {
	{ "x86_64", ELFCLASS64, EM_X86_64, EM_X86_64, "/lib64/ld-linux-x86-64.so.2", 0x303,
	  "/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "x86_64", 3 },
	{ "x86_64-lib64", ELFCLASS64, EM_X86_64, EM_X86_64, "/lib64/ld-linux-x86-64.so.2", 0x303, "/lib64",
	  "lib64", "x86_64", 3 },
	{ "i386", ELFCLASS32, EM_386, EM_X86_64, "/lib/ld-linux.so.2", 0x1, "/lib/i386-linux-gnu",
	  "lib/i386-linux-gnu", "i686", 0 },
	{ "i386-lib32", ELFCLASS32, EM_386, EM_X86_64, "/lib/ld-linux.so.2", 0x1, "/lib32", "lib32", "i686", 0 },
	{ "x32", ELFCLASS32, EM_X86_64, EM_X86_64, "/libx32/ld-linux-x32.so.2", 0x803, "/libx32", "libx32",
	  "x86_64", 0 },
	{ "aarch64", ELFCLASS64, EM_AARCH64, EM_AARCH64, "/lib/ld-linux-aarch64.so.1", 0xa03,
	  "/lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu", "aarch64", 0 },
	{ "aarch64-lib64", ELFCLASS64, EM_AARCH64, EM_AARCH64, "/lib/ld-linux-aarch64.so.1", 0xa03, "/lib64",
	  "lib64", "aarch64", 0 },
	{ "armhf", ELFCLASS32, EM_ARM, EM_AARCH64, "/lib/ld-linux-armhf.so.3", 0x903,
	  "/lib/arm-linux-gnueabihf", "lib/arm-linux-gnueabihf", "v7l", 0 },
	{ "ppc64el", ELFCLASS64, EM_PPC64, EM_PPC64, "/lib64/ld64.so.2", 0x503, "/lib/powerpc64le-linux-gnu",
	  "lib/powerpc64le-linux-gnu", "power8", 0 },
	{ "s390x", ELFCLASS64, EM_S390, EM_S390, "/lib/ld64.so.1", 0x403, "/lib/s390x-linux-gnu",
	  "lib/s390x-linux-gnu", "z900", 0 },
	{ "riscv64", ELFCLASS64, EM_RISCV, EM_RISCV, "/lib/ld-linux-riscv64-lp64d.so.1", 0x1003,
	  "/lib/riscv64-linux-gnu", "lib/riscv64-linux-gnu", "", 0 },
};

static void test_every_table_row(void)
{
	size_t n;
	const struct ldso_abi *t = ldso_table(&n);
	CHECK_INT(n, sizeof want / sizeof want[0]);
	for (size_t i = 0; i < n && i < sizeof want / sizeof want[0]; i++) {
		const struct ldso_abi *a = &t[i];
		const struct row_want *w = &want[i];
		printf("# row %s\n", a->name);
		CHECK_STR(a->name, w->name);
		CHECK_INT(a->elf_class, w->elf_class);
		CHECK_INT(a->machine, w->machine);
		CHECK_INT(a->cpu, w->cpu);
		CHECK_STR(a->interp, w->interp);
		CHECK_INT(a->cache_flags[0], w->flags0);
		CHECK(ldso_cache_flags_ok(a, w->flags0));
		CHECK(!ldso_cache_flags_ok(a, 0x7f03));
		CHECK_STR(a->dirs[0], w->dir0);
		CHECK_STR(a->lib, w->lib);
		CHECK_STR(a->platform, w->platform);
		CHECK_INT(a->nhwcaps, w->nhwcaps);
		CHECK(a->ndirs >= 2 && a->ndirs <= LDSO_MAX_DIRS);
		/* every row says in which layout it applies, or is the last of its ABI */
		int later_same = 0;
		for (size_t k = i + 1; k < n; k++)
			later_same |= t[k].elf_class == a->elf_class && t[k].machine == a->machine;
		CHECK(!later_same || a->probe[0]);
	}
	/* i386's loader takes libc5-era ELF entries too, as glibc's generic check */
	const struct ldso_abi *i386 = &t[2];
	CHECK(ldso_cache_flags_ok(i386, LDCACHE_FLAG_ELF) && ldso_cache_flags_ok(i386, LDCACHE_FLAG_ELF_LIBC6));
}

/* A root with the multiarch layout picks the multiarch rows; an empty one
 * the lib64/lib32 rows; a class/machine nobody models has no row. */
static void test_rows_by_layout(void)
{
	const char *d = fx_tmpdir();
	char multi[512], plain[512];
	snprintf(multi, sizeof multi, "%s/multi", d);
	snprintf(plain, sizeof plain, "%s/plain", d);
	CHECK(fx_sh("mkdir -p %s/usr/lib/x86_64-linux-gnu %s/usr/lib/i386-linux-gnu %s/lib/aarch64-linux-gnu %s",
		    multi, multi, multi, plain) == 0);
	struct ldso_root rm, rp;
	CHECK_INT(ldso_root_open(multi, &rm, NULL), 0);
	CHECK_INT(ldso_root_open(plain, &rp, NULL), 0);
	CHECK_STR(ldso_abi_for(&rm, ELFCLASS64, EM_X86_64)->name, "x86_64");
	CHECK_STR(ldso_abi_for(&rp, ELFCLASS64, EM_X86_64)->name, "x86_64-lib64");
	CHECK_STR(ldso_abi_for(&rm, ELFCLASS32, EM_386)->name, "i386");
	CHECK_STR(ldso_abi_for(&rp, ELFCLASS32, EM_386)->name, "i386-lib32");
	CHECK_STR(ldso_abi_for(&rm, ELFCLASS64, EM_AARCH64)->name, "aarch64");
	CHECK_STR(ldso_abi_for(&rp, ELFCLASS64, EM_AARCH64)->name, "aarch64-lib64");
	CHECK(ldso_abi_for(&rm, ELFCLASS64, EM_MIPS) == NULL);
	CHECK_STR(ldso_abi_by_interp(&rm, "/lib/ld-linux-aarch64.so.1")->name, "aarch64");
	CHECK(ldso_abi_by_interp(&rm, "/lib/ld-musl-x86_64.so.1") == NULL);
	const struct ldso_abi *g = ldso_generic_abi();
	CHECK(g->interp == NULL && g->ncache_flags == 0 && g->ndirs == 2);
	ldso_root_close(&rm);
	ldso_root_close(&rp);
}

static void test_cpu_and_hwcaps(void)
{
	CHECK(ldso_cpu_runs(EM_X86_64, ELFCLASS64, EM_X86_64));
	CHECK(ldso_cpu_runs(EM_X86_64, ELFCLASS32, EM_386));
	CHECK(ldso_cpu_runs(EM_X86_64, ELFCLASS32, EM_X86_64));
	CHECK(!ldso_cpu_runs(EM_X86_64, ELFCLASS64, EM_AARCH64));
	CHECK(ldso_cpu_runs(EM_AARCH64, ELFCLASS64, EM_AARCH64));
	CHECK(ldso_cpu_runs(EM_AARCH64, ELFCLASS32, EM_ARM));
	CHECK(!ldso_cpu_runs(EM_AARCH64, ELFCLASS64, EM_X86_64));
	CHECK(ldso_cpu_runs(EM_MIPS, ELFCLASS32, EM_MIPS));	/* not modelled: same machine */
	size_t n;
	const struct ldso_abi *t = ldso_table(&n);
	const char *sub[LDSO_MAX_SUBDIRS], *hw[LDSO_MAX_HWCAPS];
	/* a foreign ABI gets no glibc-hwcaps subdirectories of this CPU */
	size_t ns = ldso_subdirs(&t[5], sub);	/* aarch64 */
	CHECK_INT(ns, 2);
	CHECK_STR(sub[0], "tls");
	CHECK_STR(sub[ns - 1], "");
	CHECK_INT(ldso_hwcaps(&t[5], hw, LDSO_MAX_HWCAPS), 0);
	if (ldso_native_cpu() != EM_X86_64)
		SKIP("not an x86_64 machine: the x86-64 hwcaps rows cannot be checked against this CPU");
	/* x86_64: as many glibc-hwcaps levels as this CPU reaches, best first */
	int level = cpu_x86_isa_level();
	size_t nh = ldso_hwcaps(&t[0], hw, LDSO_MAX_HWCAPS);
	CHECK_INT(nh, level >= 2 ? level - 1 : 0);
	if (nh)
		CHECK_INT(hw[0][8] - '0', level);
	ns = ldso_subdirs(&t[0], sub);
	CHECK_INT(ns, nh + 5 + 1);
	if (nh)
		CHECK(strncmp(sub[0], "glibc-hwcaps/x86-64-v", 21) == 0);
	CHECK_STR(sub[nh], "tls/x86_64/x86_64");
	char buf[128];
	CHECK(ldso_first_dir(NULL, "/c", buf, sizeof buf) != NULL);
	if (level >= 2) {
		char w[64];
		snprintf(w, sizeof w, "/c/glibc-hwcaps/x86-64-v%d", level);
		CHECK_STR(buf, w);
	} else {
		CHECK_STR(buf, "/c");
	}
	CHECK(ldso_first_dir(NULL, "/a-very-long-directory-name", buf, 8) == NULL);
}

static void test_expand(void)
{
	size_t n;
	const struct ldso_abi *t = ldso_table(&n);
	int used = 0;
	char *s = ldso_expand(&t[0], "$ORIGIN/../$LIB:${PLATFORM}/x:$ORIGINAL:$LIBX", "/o", &used);
	CHECK_STR(s, "/o/../lib/x86_64-linux-gnu:x86_64/x:$ORIGINAL:$LIBX");
	CHECK(used);
	free(s);
	used = 0;
	s = ldso_expand(&t[3], "/usr/$LIB/${LIB}", NULL, &used);
	CHECK_STR(s, "/usr/lib32/lib32");
	CHECK(!used);
	free(s);
	s = ldso_expand(NULL, "$ORIGIN/$LIB$PLATFORM", NULL, NULL);
	CHECK_STR(s, "./lib");
	free(s);
}

static size_t order(const struct ldso_object *chain, size_t n, const char *llp, char *out, size_t len)
{
	struct ldso_step steps[LDSO_MAX_CHAIN + 4];
	size_t ns = ldso_search_order(chain, n, llp, steps), used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < ns && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s%s%s", i ? " " : "", ldso_how_name(steps[i].how),
					 steps[i].list ? "=" : "", steps[i].list ? steps[i].list : "");
	return ns;
}

/* The order of glibc's _dl_map_object, case by case. */
static void test_search_order(void)
{
	char o[512];
	/* a library with DT_RPATH, loaded by a program with DT_RPATH: both, the requester's first */
	struct ldso_object c1[] = { { .rpath = "/lr", .origin = "/l" }, { .rpath = "/pr", .origin = "/p" } };
	order(c1, 2, "/llp", o, sizeof o);
	CHECK_STR(o, "[rpath]=/lr [rpath]=/pr [LD_LIBRARY_PATH]=/llp [ld.so.cache] [default path]");
	/* the requester has DT_RUNPATH: no DT_RPATH at all (inherited or own), RUNPATH after LD_LIBRARY_PATH */
	struct ldso_object c2[] = { { .rpath = "/lr", .runpath = "/lrun" }, { .rpath = "/pr" } };
	order(c2, 2, "/llp", o, sizeof o);
	CHECK_STR(o, "[LD_LIBRARY_PATH]=/llp [runpath]=/lrun [ld.so.cache] [default path]");
	/* DT_RUNPATH is not inherited; a program with both tags has its RPATH ignored */
	struct ldso_object c3[] = { { .origin = "/l" }, { .rpath = "/pr", .runpath = "/prun" } };
	order(c3, 2, NULL, o, sizeof o);
	CHECK_STR(o, "[ld.so.cache] [default path]");
	/* DF_1_NODEFLIB: the cache is still read (its default-directory entries skipped), the defaults not */
	struct ldso_object c4[] = { { .nodeflib = 1 } };
	struct ldso_step steps[LDSO_MAX_CHAIN + 4];
	size_t ns = ldso_search_order(c4, 1, "", steps);
	CHECK_INT(ns, 1);
	CHECK(steps[0].how == LDSO_CACHE && steps[0].nodeflib);
	/* LD_LIBRARY_PATH's $ORIGIN is the program's; its separators include ';' */
	struct ldso_object c5[] = { { .origin = "/lib-dir" }, { .origin = "/prog-dir" } };
	ns = ldso_search_order(c5, 2, "$ORIGIN/x", steps);
	CHECK(ns >= 1 && steps[0].how == LDSO_LD_LIBRARY_PATH);
	CHECK_STR(steps[0].origin, "/prog-dir");
	CHECK_STR(ldso_list_seps(LDSO_LD_LIBRARY_PATH), ":;");
	CHECK_STR(ldso_list_seps(LDSO_RUNPATH), ":");
	/* a flattened artifact: every RPATH before LD_LIBRARY_PATH, every RUNPATH after */
	ns = ldso_search_order_flat("/r1:/r2", "/run", "/llp", steps);
	CHECK_INT(ns, 5);
	CHECK(steps[0].how == LDSO_RPATH && steps[1].how == LDSO_LD_LIBRARY_PATH && steps[2].how == LDSO_RUNPATH &&
	      steps[3].how == LDSO_CACHE && steps[4].how == LDSO_DEFAULT);
	CHECK_STR(ldso_how_name(LDSO_RUNPATH), "[runpath]");
	CHECK_STR(ldso_how_name(LDSO_DEFAULT), "[default path]");
}

/* Opens stay inside the root: absolute symlinks, relative ones and ".."
 * all resolve as in a chroot; FIFOs and devices are refused without
 * blocking. */
static void test_open_in_root(void)
{
	const char *d = fx_tmpdir();
	char root[512], p[600];
	snprintf(root, sizeof root, "%s/r", d);
	CHECK(fx_sh("mkdir -p %s/lib/sub %s/etc %s/outside && echo inside > %s/lib/f && echo outside > %s/outside/f && "
		    "ln -s /lib/f %s/lib/abs && ln -s ../lib/f %s/etc/rel && ln -s ../../../../../../../lib/f %s/lib/dots && "
		    "ln -s %s/outside/f %s/lib/escape && mkfifo %s/lib/fifo",
		    root, root, d, root, d, root, root, root, d, root, root) == 0);
	struct ldso_root r;
	struct cerr err;
	CHECK_INT(ldso_root_open(root, &r, &err), 0);
	char buf[32];
	const char *cases[] = { "/lib/f", "lib/f", "/lib/abs", "/etc/rel", "/lib/dots", "/../../lib/f", "/lib/sub/../f" };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = ldso_open(&r, cases[i], O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		buf[n > 0 ? n : 0] = '\0';
		printf("# %s -> %s", cases[i], buf);
		CHECK_STR(buf, "inside\n");
		if (fd >= 0)
			close(fd);
	}
	/* an absolute symlink to the host's file means the root's file: absent here */
	errno = 0;
	CHECK_INT(ldso_open(&r, "/lib/escape", O_RDONLY), -1);
	CHECK_INT(errno, ENOENT);
	/* a FIFO is refused at once (no writer would ever come) */
	CHECK_INT(ldso_open(&r, "/lib/fifo", O_RDONLY), -1);
	CHECK_INT(errno, ENXIO);
	snprintf(p, sizeof p, "%s/lib/fifo", root);
	CHECK_INT(ldso_open(NULL, p, O_RDONLY), -1);
	CHECK_INT(errno, ENXIO);
	CHECK_INT(ldso_open(NULL, "/dev/null", O_RDONLY), -1);
	CHECK_INT(errno, ENXIO);
	/* directories: with O_DIRECTORY, and the O_PATH probe */
	int fd = ldso_open(&r, "/lib", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(ldso_is_dir(&r, "/lib/sub"));
	CHECK(!ldso_is_dir(&r, "/lib/f"));
	CHECK(!ldso_is_dir(&r, "/outside"));	/* the host's, not the root's */
	ldso_root_close(&r);
	/* a relative root is the same root */
	char cwd[512];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(d) == 0);
	CHECK_INT(ldso_root_open("r", &r, NULL), 0);
	CHECK_STR(r.path, root);
	fd = ldso_open(&r, "/lib/abs", O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	ldso_root_close(&r);
	CHECK(chdir(cwd) == 0);
	CHECK_INT(ldso_root_open("/nonexistent-root-dir", &r, &err), COMPAT_EIO);
	CHECK(strstr(err.msg, "/nonexistent-root-dir") != NULL);
	CHECK_INT(ldso_root_open("/", &r, NULL), 0);
	CHECK(r.fd < 0);
	CHECK_STR(r.path, "/");
	ldso_root_close(&r);
}

static void test_cache_in_root(void)
{
	const char *d = fx_tmpdir();
	char root[512];
	snprintf(root, sizeof root, "%s/cr", d);
	fx_write("c.c", "int c(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/etc %s/opt/l %s/lib/x86_64-linux-gnu && "
		    "gcc -shared -fPIC -o %s/opt/l/libcr.so.1 %s/c.c -Wl,-soname,libcr.so.1 && "
		    "echo /opt/l > %s/etc/ld.so.conf && /sbin/ldconfig -r %s -X",
		    root, root, root, root, d, root, root) == 0);
	struct ldso_root r;
	struct ldcache c;
	struct stat st;
	CHECK_INT(ldso_root_open(root, &r, NULL), 0);
	CHECK_INT(ldso_cache_load(&r, &c, &st, NULL), 0);
	CHECK(st.st_size > 0);
	const struct ldso_abi *a = ldso_abi_for(&r, ELFCLASS64, EM_X86_64);
	struct ldcache_entry e;
	CHECK_INT(ldso_cache_lookup(&c, a, "libcr.so.1", &e), 1);
	CHECK_STR(e.value, "/opt/l/libcr.so.1");
	/* an i386 loader would not take a 64-bit entry */
	CHECK_INT(ldso_cache_lookup(&c, ldso_abi_for(&r, ELFCLASS32, EM_386), "libcr.so.1", &e), 0);
	ldcache_free(&c);
	CHECK(fx_sh("rm %s/etc/ld.so.cache && mkfifo %s/etc/ld.so.cache", root, root) == 0);
	struct cerr err;
	CHECK(ldso_cache_load(&r, &c, NULL, &err) < 0);	/* refused, not blocked */
	CHECK(fx_sh("rm %s/etc/ld.so.cache", root) == 0);
	CHECK_INT(ldso_cache_load(&r, &c, NULL, &err), COMPAT_ENOTFOUND);
	ldso_root_close(&r);
}

static void test_pathlist(void)
{
	struct pathlist l;
	CHECK_INT(pathlist_split("a::b:", ":", 0, &l), 0);
	CHECK_INT(l.n, 2);
	CHECK_STR(l.v[0], "a");
	CHECK_STR(l.v[1], "b");
	CHECK(l.v[2] == NULL);
	pathlist_free(&l);
	CHECK_INT(pathlist_split("a::b;c:", ":;", PATHLIST_KEEP_EMPTY, &l), 0);
	CHECK_INT(l.n, 5);
	CHECK_STR(l.v[1], "");
	CHECK_STR(l.v[3], "c");
	CHECK_STR(l.v[4], "");
	pathlist_free(&l);
	CHECK_INT(pathlist_split(NULL, ":", 0, &l), 0);
	CHECK_INT(l.n, 0);
	pathlist_free(&l);
	CHECK_INT(pathlist_split("", ":", PATHLIST_KEEP_EMPTY, &l), 0);
	CHECK_INT(l.n, 0);
	pathlist_free(&l);
	/* no limit on the number of entries (two old copies stopped at 64) */
	char big[2000] = "";
	for (int i = 0; i < 300; i++)
		strcat(big, i ? ":/d" : "/d");
	CHECK_INT(pathlist_split(big, ":", 0, &l), 0);
	CHECK_INT(l.n, 300);
	CHECK_STR(l.v[299], "/d");
	pathlist_free(&l);
}

int main(void)
{
	RUN(test_every_table_row);
	RUN(test_rows_by_layout);
	RUN(test_cpu_and_hwcaps);
	RUN(test_expand);
	RUN(test_search_order);
	RUN(test_open_in_root);
	RUN(test_cache_in_root);
	RUN(test_pathlist);
	fx_cleanup();
	return check_summary();
}
