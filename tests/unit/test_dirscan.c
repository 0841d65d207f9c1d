#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/dirscan.h"

static char tmp[] = "/tmp/compat-dirscan.XXXXXX";

static void path(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", tmp, rel);
}

static const char *libc_path(void)
{
	static const char *const c[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/libc.so.6",
					 "/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/libc.so.6" };
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		if (access(c[i], R_OK) == 0)
			return c[i];
	return NULL;
}

static struct dirscan_limits lim(void)
{
	return (struct dirscan_limits){ .max_dirs = 8, .max_entries = 100, .max_libs = 50, .timeout_ms = 5000 };
}

static void test_allowed(void)
{
	struct dirscan_limits l = lim();
	static const char *const allow[] = { "/opt/apps", "/data/" };
	struct cerr err;
	CHECK_INT(dirscan_allowed("/anything", &l, NULL), 0);	/* no prefixes: any absolute path */
	CHECK_INT(dirscan_allowed("relative/dir", &l, &err), COMPAT_EPERM);
	l.allow = allow;
	l.nallow = 2;
	CHECK_INT(dirscan_allowed("/opt/apps", &l, NULL), 0);
	CHECK_INT(dirscan_allowed("/opt/apps/x/lib", &l, NULL), 0);
	CHECK_INT(dirscan_allowed("/data/lib", &l, NULL), 0);
	CHECK_INT(dirscan_allowed("/opt/appsfoo", &l, &err), COMPAT_EPERM);
	CHECK(strstr(err.msg, "not under an allowed path") != NULL);
	CHECK_INT(dirscan_allowed("/opt/apps/../../etc", &l, &err), COMPAT_EPERM);
	CHECK_INT(dirscan_allowed("/etc", &l, NULL), COMPAT_EPERM);
}

static void test_build_and_lookup(void)
{
	const char *libc = libc_path();
	if (!libc)
		SKIP("no libc.so.6 in the usual places");
	char d[300], f[400], missing[300];
	path(d, sizeof d, "ok");
	mkdir(d, 0755);
	snprintf(f, sizeof f, "%s/libc.so.6", d);
	CHECK_INT(symlink(libc, f), 0);
	path(missing, sizeof missing, "does-not-exist");
	const char *dirs[] = { missing, d };
	struct dirscan_limits l = lim();
	struct host_index *idx;
	struct cerr err;
	CHECK_INT(dirscan_build(dirs, 2, &l, NULL, &idx, &err), 0);
	const struct host_lib *lib = index_lookup_soname(idx, "libc.so.6", 0, 0);
	CHECK(lib != NULL);
	if (lib)
		CHECK(strstr(lib->path, "/ok/libc.so.6") != NULL);
	CHECK_INT(index_count(idx), 1);
	index_free(idx);
}

/* A FIFO named like a library is refused without being opened (opening
 * it for reading would wait for a writer for ever). */
static void test_fifo_refused(void)
{
	char d[300], f[400];
	path(d, sizeof d, "fifo");
	mkdir(d, 0755);
	snprintf(f, sizeof f, "%s/libc.so.6", d);
	CHECK_INT(mkfifo(f, 0644), 0);
	const char *dirs[] = { d };
	struct dirscan_limits l = lim();
	struct host_index *idx;
	struct cerr err;
	CHECK_INT(dirscan_build(dirs, 1, &l, NULL, &idx, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "libc.so.6 is a FIFO, not a library") != NULL);
	CHECK(idx == NULL);
}

static void test_bounds(void)
{
	char d[300], f[400];
	path(d, sizeof d, "many");
	mkdir(d, 0755);
	for (int i = 0; i < 120; i++) {
		snprintf(f, sizeof f, "%s/file%d.txt", d, i);
		close(open(f, O_CREAT | O_WRONLY, 0644));
	}
	const char *dirs[] = { d };
	struct dirscan_limits l = lim();
	struct host_index *idx;
	struct cerr err;
	CHECK_INT(dirscan_build(dirs, 1, &l, NULL, &idx, &err), COMPAT_ELIMIT);
	CHECK(strstr(err.msg, "more than 100 entries") != NULL);
	l.max_entries = 1000;
	CHECK_INT(dirscan_build(dirs, 1, &l, NULL, &idx, &err), 0);	/* no libraries in it */
	index_free(idx);
	const char *nine[9] = { d, d, d, d, d, d, d, d, d };
	CHECK_INT(dirscan_build(nine, 9, &l, NULL, &idx, &err), COMPAT_ELIMIT);
	CHECK(strstr(err.msg, "at most 8") != NULL);
	int cancelled = 1;
	CHECK_INT(dirscan_build(dirs, 1, &l, &cancelled, &idx, &err), COMPAT_ELIMIT);
}

/* A symlink inside an allowed prefix may not lead out of it. */
static void test_symlink_out_of_prefix(void)
{
	char allowed[300], outside[300], link[400];
	path(allowed, sizeof allowed, "allowed");
	path(outside, sizeof outside, "outside");
	mkdir(allowed, 0755);
	mkdir(outside, 0755);
	snprintf(link, sizeof link, "%s/link", allowed);
	CHECK_INT(symlink(outside, link), 0);
	const char *allow[] = { allowed };
	struct dirscan_limits l = lim();
	l.allow = allow;
	l.nallow = 1;
	const char *dirs[] = { link };
	struct host_index *idx;
	struct cerr err;
	CHECK_INT(dirscan_build(dirs, 1, &l, NULL, &idx, &err), COMPAT_EPERM);
	CHECK(strstr(err.msg, "not under an allowed path") != NULL);
	const char *dirs2[] = { allowed };
	CHECK_INT(dirscan_build(dirs2, 1, &l, NULL, &idx, &err), 0);
	index_free(idx);
}

static struct host_index *empty_index(void)
{
	struct index_opts o = { .no_system = 1 };
	struct host_index *idx;
	return index_build(&o, &idx, NULL) == 0 ? idx : NULL;
}

static void test_cache(void)
{
	struct dircache *c;
	const char *a[] = { "/a", "/b" }, *b[] = { "/a" }, *ab[] = { "/a/b" };
	CHECK_INT(dircache_new(&c, 2, 100, 1000), 0);
	struct host_index *i1 = empty_index(), *i2 = empty_index(), *i3 = empty_index();
	CHECK_INT(dircache_put(c, a, 2, i1, 0), 0);
	CHECK(dircache_get(c, a, 2, 10) == i1);
	CHECK(dircache_get(c, b, 1, 10) == NULL);
	CHECK(dircache_get(c, ab, 1, 10) == NULL);	/* keys are lists, not joined text */
	CHECK_INT(dircache_put(c, b, 1, i2, 20), 0);
	CHECK(dircache_get(c, a, 2, 30) == i1);		/* a used more recently than b */
	CHECK_INT(dircache_put(c, ab, 1, i3, 40), 0);	/* full: b (least recently used) goes */
	CHECK_INT(dircache_count(c), 2);
	CHECK(dircache_get(c, b, 1, 50) == NULL);
	CHECK(dircache_get(c, a, 2, 50) == i1);
	CHECK(dircache_get(c, a, 2, 1500) == NULL);	/* older than the ttl */
	dircache_expire(c, 5000);
	CHECK_INT(dircache_count(c), 0);
	CHECK_INT(dircache_put(c, a, 2, empty_index(), 0), 0);
	dircache_clear(c);
	CHECK_INT(dircache_count(c), 0);
	dircache_free(c);
}

int main(void)
{
	alarm(30);	/* a FIFO opened by mistake would hang: fail instead */
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_allowed);
	RUN(test_build_and_lookup);
	RUN(test_fifo_refused);
	RUN(test_bounds);
	RUN(test_symlink_out_of_prefix);
	RUN(test_cache);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		printf("#   could not remove %s\n", tmp);
	return check_summary();
}
