#include "check.h"
#include "core/fsutil.h"
#include "core/ldcache.h"
#include "fixture.h"

static const int32_t x86_64_flags[] = { LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_X8664_LIB64 };
static const char *const prio[] = { "x86-64-v4", "x86-64-v3", "x86-64-v2" };
static char cache_new[600], cache_compat[600], libdir[600];

/* A cache made by ldconfig from a directory of libraries built here,
 * including one in glibc-hwcaps/x86-64-v2 (the hwcaps extension). */
static void build(void)
{
	const char *d = fx_tmpdir();
	snprintf(libdir, sizeof libdir, "%s/lib", d);
	snprintf(cache_new, sizeof cache_new, "%s/ld.so.cache", d);
	snprintf(cache_compat, sizeof cache_compat, "%s/ld.so.cache.compat", d);
	fx_write("a.c", "int a(void){return 1;}\n");
	CHECK(fx_sh("mkdir -p %s/glibc-hwcaps/x86-64-v2 && "
		    "gcc -shared -fPIC -o %s/libfxa.so.1 %s/a.c -Wl,-soname,libfxa.so.1 && "
		    "gcc -shared -fPIC -o %s/glibc-hwcaps/x86-64-v2/libfxa.so.1 %s/a.c -Wl,-soname,libfxa.so.1 && "
		    "gcc -shared -fPIC -o %s/libfxb.so.3 %s/a.c -Wl,-soname,libfxb.so.3",
		    libdir, libdir, d, libdir, d, libdir, d) == 0);
	fx_write("ld.so.conf", "");
	char conf[600];
	snprintf(conf, sizeof conf, "%s/ld.so.conf", d);
	fx_write("ld.so.conf", libdir);
	CHECK(fx_sh("/sbin/ldconfig -C %s -f %s -r / -X", cache_new, conf) == 0);
	CHECK(fx_sh("/sbin/ldconfig -c compat -C %s -f %s -r / -X", cache_compat, conf) == 0);
}

static void lookups(const char *path)
{
	struct ldcache c;
	struct cerr err;
	CHECK_INT(ldcache_load(path, &c, &err), 0);
	CHECK_INT(ldcache_entries(&c), 0);
	CHECK(c.n >= 3);
	struct ldcache_entry e;
	CHECK_INT(ldcache_lookup(&c, "libfxb.so.3", x86_64_flags, 1, prio, 3, &e), 1);
	CHECK(strstr(e.value, "/lib/libfxb.so.3") != NULL);
	/* The hwcaps entry wins over the plain one when the CPU level allows. */
	CHECK_INT(ldcache_lookup(&c, "libfxa.so.1", x86_64_flags, 1, prio, 3, &e), 1);
	CHECK(e.hwcaps != NULL && strstr(e.value, "glibc-hwcaps/x86-64-v2/libfxa.so.1") != NULL);
	/* ... and not when it does not. */
	CHECK_INT(ldcache_lookup(&c, "libfxa.so.1", x86_64_flags, 1, NULL, 0, &e), 1);
	CHECK(e.hwcaps == NULL);
	/* Entries of another ABI are not taken. */
	static const int32_t i386_flags[] = { LDCACHE_FLAG_ELF_LIBC6 };
	CHECK_INT(ldcache_lookup(&c, "libfxb.so.3", i386_flags, 1, prio, 3, &e), 0);
	CHECK_INT(ldcache_lookup(&c, "libnothere.so.1", x86_64_flags, 1, prio, 3, &e), 0);
	ldcache_free(&c);
}

static void test_new_format(void)
{
	lookups(cache_new);
}

static void test_old_format_prefix(void)
{
	char *data;
	size_t len;
	CHECK_INT(fs_read_file(cache_compat, 1 << 20, &data, &len, NULL), 0);
	CHECK(len > 11 && memcmp(data, "ld.so-1.7.0", 11) == 0);
	free(data);
	lookups(cache_compat);
}

static void test_host_cache(void)
{
	struct ldcache c;
	struct cerr err;
	CHECK_INT(ldcache_load("/etc/ld.so.cache", &c, &err), 0);
	struct ldcache_entry e;
	CHECK_INT(ldcache_lookup(&c, "libc.so.6", x86_64_flags, 1, prio, 3, &e), 1);
	CHECK_STR(e.value, "/lib/x86_64-linux-gnu/libc.so.6");
	ldcache_free(&c);
}

/* glibc's key order: digits as numbers, after other characters. */
static void test_libcmp(void)
{
	CHECK_INT(ldcache_libcmp("libc.so.6", "libc.so.6"), 0);
	CHECK(ldcache_libcmp("libz.so.10", "libz.so.9") > 0);	/* numerically, not as text */
	CHECK(ldcache_libcmp("libz.so.9", "libz.so.10") < 0);
	CHECK_INT(ldcache_libcmp("libz.so.01", "libz.so.1"), 0);	/* ld.so takes one for the other */
	CHECK(ldcache_libcmp("libz3.so", "libz.so") > 0);	/* a digit sorts after a letter */
	CHECK(ldcache_libcmp("libz.so", "libz3.so") < 0);
	CHECK(ldcache_libcmp("libz.so", "libz.so.1") < 0);	/* a prefix first */
	CHECK(ldcache_libcmp("libz.so.1", "libz.so") > 0);
	CHECK(ldcache_libcmp("libb.so", "liba.so") > 0);
}

/* The binary search finds what a walk over every entry finds (the first
 * plain entry of the key and the flags, or the best hwcaps one), for every
 * key of this host's cache and of the fixtures' (ldconfig sorted them, as
 * ld.so's search relies on); and ldconfig's order is glibc's order. */
static void search_matches_walk(const char *path)
{
	struct ldcache c;
	CHECK_INT(ldcache_load(path, &c, NULL), 0);
	CHECK_INT(ldcache_entries(&c), 0);
	static const int32_t flag_sets[][2] = { { 0x0303, 0 }, { 0x0001, 0x0003 }, { 0x0803, 0 } };
	size_t differ = 0, found = 0, unsorted = 0;
	for (size_t i = 0; i + 1 < c.n; i++)
		unsorted += ldcache_libcmp(c.entries[i].key, c.entries[i + 1].key) < 0;
	for (size_t i = 0; i < c.n; i++)
		for (size_t f = 0; f < 3; f++)
			for (size_t np = 0; np <= 3; np += 3) {
				const int32_t *fl = flag_sets[f];
				size_t nfl = fl[1] ? 2 : 1, best_rank = (size_t)-1;
				const struct ldcache_entry *plain = NULL, *best = NULL;
				for (size_t k = 0; k < c.n; k++) {
					const struct ldcache_entry *w = &c.entries[k];
					if (strcmp(w->key, c.entries[i].key) != 0 || (w->flags != fl[0] && (nfl < 2 || w->flags != fl[1])))
						continue;
					if (w->hwcaps) {
						for (size_t r = 0; r < np && r < best_rank; r++)
							if (strcmp(prio[r], w->hwcaps) == 0) {
								best = w;
								best_rank = r;
							}
					} else if (!plain && w->hwcap == 0) {
						plain = w;
					}
				}
				const struct ldcache_entry *want = best ? best : plain;
				struct ldcache_entry e;
				int got = ldcache_lookup(&c, c.entries[i].key, fl, nfl, prio, np, &e);
				if (got != !!want || (want && strcmp(e.value, want->value) != 0)) {
					if (differ++ < 3)
						printf("#   %s: %s, want %s\n", c.entries[i].key, got ? e.value : "-",
						       want ? want->value : "-");
				}
				found += got;
			}
	printf("# %s: %zu entries, %zu lookups found, %zu differ, %zu pairs out of order\n", path, c.n, found,
	       differ, unsorted);
	CHECK(found > 0);
	CHECK_INT(differ, 0);
	CHECK_INT(unsorted, 0);
	ldcache_free(&c);
}

static void test_search_matches_walk(void)
{
	search_matches_walk("/etc/ld.so.cache");
	search_matches_walk(cache_new);
	search_matches_walk(cache_compat);
}

static void test_bad_caches(void)
{
	struct ldcache c;
	struct cerr err;
	CHECK_INT(ldcache_parse("hello", 5, "x", &c, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "bad magic") != NULL);
	char *data;
	size_t len;
	CHECK_INT(fs_read_file(cache_new, 1 << 20, &data, &len, NULL), 0);
	/* Truncated: the entry table no longer fits. */
	CHECK_INT(ldcache_parse(data, 60, "t", &c, &err), COMPAT_EINVAL);
	/* An entry whose string offset points outside is dropped, not read. */
	unsigned char *p = (unsigned char *)data;
	uint32_t big = 0x7fffffff;
	memcpy(p + 48 + 4, &big, 4);
	CHECK_INT(ldcache_parse(data, len, "o", &c, &err), 0);
	CHECK_INT(ldcache_entries(&c), 0);
	CHECK(c.n + 1 == c.nraw);
	for (size_t i = 0; i < c.n; i++)
		CHECK(c.entries[i].key != NULL && c.entries[i].value != NULL);
	ldcache_free(&c);
	/* An entry count that would overflow. */
	uint32_t huge = 0xffffffff;
	memcpy(p + 20, &huge, 4);
	CHECK_INT(ldcache_parse(data, len, "n", &c, &err), COMPAT_EINVAL);
	free(data);
}

int main(void)
{
	RUN(build);
	RUN(test_new_format);
	RUN(test_old_format_prefix);
	RUN(test_host_cache);
	RUN(test_libcmp);
	RUN(test_search_matches_walk);
	RUN(test_bad_caches);
	fx_cleanup();
	return check_summary();
}
