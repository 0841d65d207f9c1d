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
	CHECK(c.n >= 3);
	const struct ldcache_entry *e = ldcache_lookup(&c, "libfxb.so.3", x86_64_flags, 1, prio, 3);
	CHECK(e != NULL);
	if (e)
		CHECK(strstr(e->value, "/lib/libfxb.so.3") != NULL);
	/* The hwcaps entry wins over the plain one when the CPU level allows. */
	e = ldcache_lookup(&c, "libfxa.so.1", x86_64_flags, 1, prio, 3);
	CHECK(e != NULL && e->hwcaps != NULL);
	if (e)
		CHECK(strstr(e->value, "glibc-hwcaps/x86-64-v2/libfxa.so.1") != NULL);
	/* ... and not when it does not. */
	e = ldcache_lookup(&c, "libfxa.so.1", x86_64_flags, 1, NULL, 0);
	CHECK(e != NULL && e->hwcaps == NULL);
	/* Entries of another ABI are not taken. */
	static const int32_t i386_flags[] = { LDCACHE_FLAG_ELF_LIBC6 };
	CHECK(ldcache_lookup(&c, "libfxb.so.3", i386_flags, 1, prio, 3) == NULL);
	CHECK(ldcache_lookup(&c, "libnothere.so.1", x86_64_flags, 1, prio, 3) == NULL);
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
	const struct ldcache_entry *e = ldcache_lookup(&c, "libc.so.6", x86_64_flags, 1, prio, 3);
	CHECK(e != NULL);
	if (e)
		CHECK_STR(e->value, "/lib/x86_64-linux-gnu/libc.so.6");
	ldcache_free(&c);
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
	RUN(test_bad_caches);
	fx_cleanup();
	return check_summary();
}
