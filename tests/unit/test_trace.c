/* Unit tests for the tracer (ptrace), its output formats (tracefmt) and
 * the library cache helpers (libcache). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/libcache.h"
#include "core/ptrace.h"
#include "core/tracefmt.h"
#include "fixture.h"

static const struct ptrace_event sample_ok = {
	.t_ns = 1500, .unix_ns = 1700000000000001500ull, .dur_ns = 2500, .tid = 11, .pid = 10,
	.comm = "prog", .syscall = "openat", .kind = PTRACE_KIND_OPEN,
	.path = "/lib/x86_64-linux-gnu/libc.so.6", .result = 3,
};
static const struct ptrace_event sample_fail = {
	.t_ns = 9000, .unix_ns = 1700000000000009000ull, .dur_ns = 1000, .tid = 10, .pid = 10,
	.comm = "prog", .syscall = "openat", .kind = PTRACE_KIND_OPEN,
	.path = "/opt/x/libz.so.1", .result = -ENOENT,
};

static char *format(enum tracefmt_kind kind)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct tracefmt fmt;
	tracefmt_init(&fmt, kind, f);
	CHECK_INT(tracefmt_event(&fmt, &sample_ok), 0);
	CHECK_INT(tracefmt_event(&fmt, &sample_fail), 0);
	CHECK_INT(tracefmt_finish(&fmt), 0);
	fclose(f);
	return buf;
}

static void test_fmt_text(void)
{
	char *s = format(TRACEFMT_TEXT);
	CHECK_STR(s, "1700000000000001500 Open /lib/x86_64-linux-gnu/libc.so.6\n"
		     "1700000000000009000 Lookup /opt/x/libz.so.1\n");
	free(s);
}

static void test_fmt_jsonl(void)
{
	char *s = format(TRACEFMT_JSONL);
	char *nl = strchr(s, '\n');
	CHECK(nl != NULL);
	if (!nl) {
		free(s);
		return;
	}
	json_error_t je;
	json_t *a = json_loadb(s, (size_t)(nl - s), 0, &je);
	json_t *b = json_loads(nl + 1, 0, &je);
	CHECK(a && b);
	if (a && b) {
		CHECK_INT(json_integer_value(json_object_get(a, "result")), 3);
		CHECK_INT(json_integer_value(json_object_get(a, "pid")), 10);
		CHECK_INT(json_integer_value(json_object_get(a, "tid")), 11);
		CHECK_INT(json_integer_value(json_object_get(a, "t_ns")), 1500);
		CHECK(json_object_get(a, "errno") == NULL);
		CHECK_STR(json_string_value(json_object_get(b, "errno")), "ENOENT");
		CHECK_INT(json_integer_value(json_object_get(b, "result")), -ENOENT);
		CHECK_STR(json_string_value(json_object_get(b, "path")), "/opt/x/libz.so.1");
	}
	json_decref(a);
	json_decref(b);
	free(s);
}

static void test_fmt_perfetto(void)
{
	char *s = format(TRACEFMT_PERFETTO);
	json_error_t je;
	json_t *d = json_loads(s, 0, &je);
	CHECK(d != NULL);
	json_t *ev = json_object_get(d, "traceEvents");
	CHECK(json_is_array(ev));
	size_t nx = 0, nproc = 0, nthread = 0;
	for (size_t i = 0; i < json_array_size(ev); i++) {
		json_t *e = json_array_get(ev, i);
		const char *ph = json_string_value(json_object_get(e, "ph"));
		const char *name = json_string_value(json_object_get(e, "name"));
		if (ph && !strcmp(ph, "X")) {
			nx++;
			if (nx == 1) {
				CHECK(json_number_value(json_object_get(e, "ts")) == 1.5);
				CHECK(json_number_value(json_object_get(e, "dur")) == 2.5);
				CHECK_STR(name, "openat libc.so.6");
				CHECK_STR(json_string_value(json_object_get(e, "cat")), "open");
			}
		} else if (ph && !strcmp(ph, "M")) {
			nproc += !strcmp(name, "process_name");
			nthread += !strcmp(name, "thread_name");
		}
	}
	CHECK_INT(nx, 2);
	CHECK_INT(nproc, 1);	/* one process (10), two threads (10, 11) */
	CHECK_INT(nthread, 2);
	json_decref(d);
	free(s);
}

static void test_fmt_kind(void)
{
	enum tracefmt_kind k;
	CHECK_INT(tracefmt_parse_kind("perfetto", &k), 0);
	CHECK_INT(k, TRACEFMT_PERFETTO);
	CHECK_INT(tracefmt_parse_kind("xml", &k), COMPAT_EINVAL);
}

static void test_library_name(void)
{
	CHECK(libcache_is_library_name("/lib/libc.so.6"));
	CHECK(libcache_is_library_name("libfoo.so"));
	CHECK(libcache_is_library_name("/x/ld-linux-x86-64.so.2"));
	CHECK(libcache_is_library_name("/x/libfoo.so.1.2.3"));
	CHECK(!libcache_is_library_name("/etc/ld.so.cache"));
	CHECK(!libcache_is_library_name("/x/libfoo.so.d/file"));
	CHECK(!libcache_is_library_name("/x/.so"));
	CHECK(!libcache_is_library_name("/x/libfoo.sox"));
}

static void test_stats_parse(void)
{
	struct libcache_stats st;
	const char good[] = "compat-trace-stats 1\nlibrary-opens-ok 21\nlibrary-opens-failed 410\nlater-key 5\n";
	CHECK_INT(libcache_stats_parse(good, strlen(good), &st), 0);
	CHECK_INT(st.lib_ok, 21);
	CHECK_INT(st.lib_failed, 410);
	CHECK_INT(st.entry_ns, 0);
	const char timed[] = "compat-trace-stats 1\nlibrary-opens-ok 2\nlibrary-opens-failed 3\n"
			     "start-entry-ns 1220000000\nstart-exit-ns 1230000000\n";
	CHECK_INT(libcache_stats_parse(timed, strlen(timed), &st), 0);
	CHECK_INT(st.entry_ns, 1220000000);
	CHECK_INT(st.exit_ns, 1230000000);
	const char *bad[] = {
		"compat-trace-stats 1\nlibrary-opens-ok 21\n",		/* a key missing */
		"compat-trace-stats 2\nlibrary-opens-ok 1\nlibrary-opens-failed 1\n",	/* version */
		"compat-trace-stats 1\nlibrary-opens-ok -1\nlibrary-opens-failed 1\n",
		"compat-trace-stats 1\nlibrary-opens-ok 99999999999999999999\nlibrary-opens-failed 1\n",
		"compat-trace-stats 1\nlibrary-opens-ok 1 2\nlibrary-opens-failed 1\n",
		"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT(libcache_stats_parse(bad[i], strlen(bad[i]), &st), COMPAT_EINVAL);
	CHECK_INT(libcache_stats_parse("compat-trace-stats 1\0x", 22, &st), COMPAT_EINVAL);
}

static void test_merge_artifact(void)
{
	struct artifact a;
	artifact_init(&a);
	artifact_set(&a, ARTIFACT_NS "library-name.0", "libm.so.6");
	artifact_set(&a, ARTIFACT_NS "library-name.1", "libc.so.6");
	artifact_set(&a, ARTIFACT_NS "needed.libc.so.6", "GLIBC_2.34");
	struct libcache_lib libs[2] = {
		{ "/p/libplug.so.3", NULL, "libplug.so", "libplug.so.3", 2, 62 },
		{ "/lib/libc.so.6", NULL, "libc.so.6", "libc.so.6", 2, 62 },
	};
	CHECK_INT(libcache_merge_artifact(&a, libs, 2, NULL), 0);
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "library-name.0"), "libc.so.6");
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "library-name.1"), "libm.so.6");
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "library-name.2"), "libplug.so.3");
	CHECK(artifact_get(&a, ARTIFACT_NS "library-name.3") == NULL);
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "needed.libc.so.6"), "GLIBC_2.34");
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "needed.libplug.so.3"), "");
	CHECK_STR(a.version, ARTIFACT_VERSION);
	artifact_free(&a);
}

/* The application's own files (opened by path) are in the closure but
 * not host needs; which ones they are, ld.so's search decides. */
static void test_merge_own_files(void)
{
	const char *d = fx_tmpdir();
	fx_write("own.c", "int own(void){return 0;}\n");
	fx_write("ownmain.c", "int main(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/plug %s/lp && gcc -shared -fPIC -o %s/plug/libown.so.1 %s/own.c -Wl,-soname,libown.so.1 && "
		    "cp %s/plug/libown.so.1 %s/lp/libown.so.1 && gcc -o %s/ownmain %s/ownmain.c",
		    d, d, d, d, d, d, d, d) == 0);
	char prog[600], plug[600], lp[600], inlp[600], libc[PATH_MAX];
	snprintf(prog, sizeof prog, "%s/ownmain", d);
	snprintf(plug, sizeof plug, "%s/plug/libown.so.1", d);
	snprintf(lp, sizeof lp, "%s/lp", d);
	snprintf(inlp, sizeof inlp, "%s/lp/libown.so.1", d);
	CHECK(realpath("/lib/x86_64-linux-gnu/libc.so.6", libc) != NULL);
	struct libcache_lib libs[3] = {
		{ .path = plug, .name = "libown.so.1", .soname = "libown.so.1" },
		{ .path = libc, .name = "libc.so.6", .soname = "libc.so.6" },
		{ .path = inlp, .name = "libown.so.1", .soname = "libown.so.1" },
	};
	unsigned char own[3];
	CHECK_INT(libcache_mark_own(prog, lp, libs, 3, own, NULL), 0);
	CHECK_INT(own[0], 1);	/* not where the search for its name leads */
	CHECK_INT(own[1], 0);	/* the cache's */
	CHECK_INT(own[2], 0);	/* LD_LIBRARY_PATH's */
	CHECK_INT(libcache_mark_own(prog, NULL, libs, 3, own, NULL), 0);
	CHECK_INT(own[2], 1);	/* without it, opened by path */
	struct artifact a;
	artifact_init(&a);
	CHECK_INT(libcache_merge_artifact(&a, libs, 2, own), 0);
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "library-name.1"), "libown.so.1");
	CHECK(artifact_get(&a, ARTIFACT_NS "needed.libown.so.1") == NULL);
	CHECK_STR(artifact_get(&a, ARTIFACT_NS "needed.libc.so.6"), "");
	artifact_free(&a);
}

struct counter {
	int events, exec_true, libc_ok, stop_after;
};

static int count_event(void *p, const struct ptrace_event *ev)
{
	struct counter *c = p;
	c->events++;
	if (ev->kind == PTRACE_KIND_EXEC && ev->result == 0 && strstr(ev->path, "/true"))
		c->exec_true++;
	if (ev->kind == PTRACE_KIND_OPEN && ev->result >= 0 && strstr(ev->path, "/libc.so.6"))
		c->libc_ok++;
	CHECK(ev->pid > 0 && ev->tid > 0 && ev->path[0] == '/');
	return c->stop_after && c->events >= c->stop_after ? COMPAT_EINVAL : 0;
}

static int traceable = 1;

static void test_run_true(void)
{
	char *argv[] = { "true", NULL };
	struct counter c = { 0 };
	struct ptrace_opts o = { .argv = argv, .on_event = count_event, .ctx = &c };
	struct ptrace_result res;
	struct cerr err;
	int rc = ptrace_run(&o, &res, &err);
	if (rc == COMPAT_EPERM) {
		printf("# ptrace not permitted here: %s\n", err.msg);
		traceable = 0;
		SKIP("ptrace is not permitted here");
	}
	CHECK_INT(rc, 0);
	CHECK_INT(ptrace_exit_code(res.status), 0);
	CHECK_INT(c.exec_true, 1);
	CHECK_INT(c.libc_ok, 1);
	CHECK_INT((long long)res.events, c.events);
	CHECK(res.start_unix_ns > 1600000000000000000ull);
}

static void test_run_status(void)
{
	char *argv[] = { "sh", "-c", "exit 3", NULL };
	char *argv2[] = { "sh", "-c", "kill -9 $$", NULL };
	struct ptrace_opts o = { .argv = argv };
	struct ptrace_result res;
	struct cerr err;
	if (!traceable)
		SKIP("ptrace is not permitted here");
	CHECK_INT(ptrace_run(&o, &res, &err), 0);
	CHECK_INT(ptrace_exit_code(res.status), 3);
	o.argv = argv2;
	CHECK_INT(ptrace_run(&o, &res, &err), 0);
	CHECK_INT(ptrace_exit_code(res.status), 128 + SIGKILL);
}

static void test_run_missing(void)
{
	char *argv[] = { "/nonexistent/program", NULL };
	struct ptrace_opts o = { .argv = argv };
	struct ptrace_result res;
	struct cerr err;
	if (!traceable)
		SKIP("ptrace is not permitted here");
	CHECK_INT(ptrace_run(&o, &res, &err), COMPAT_ENOTFOUND);
	CHECK(strstr(err.msg, "/nonexistent/program") != NULL);
	CHECK_INT(ptrace_exit_code(res.status), 127);
}

static void test_run_callback_stops(void)
{
	char *argv[] = { "sh", "-c", "ls / >/dev/null; sleep 10", NULL };
	struct counter c = { .stop_after = 3 };
	struct ptrace_opts o = { .argv = argv, .on_event = count_event, .ctx = &c };
	struct ptrace_result res;
	struct cerr err;
	if (!traceable)
		SKIP("ptrace is not permitted here");
	CHECK_INT(ptrace_run(&o, &res, &err), COMPAT_EINVAL);
	CHECK_INT(c.events, 3);
	/* nothing left behind */
	CHECK(waitpid(-1, NULL, __WALL | WNOHANG) < 0 && errno == ECHILD);

	/* Stopped while forked children run (and one may not have reported
	 * its first stop yet): all are killed and reaped, at once. */
	char *argv2[] = { "sh", "-c", "sleep 10 & sleep 10 & sleep 10 & ls / >/dev/null; wait", NULL };
	struct counter c2 = { .stop_after = 5 };
	struct timespec a, b;
	o.argv = argv2;
	o.ctx = &c2;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_INT(ptrace_run(&o, &res, &err), COMPAT_EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(b.tv_sec - a.tv_sec < 5);
	CHECK(waitpid(-1, NULL, __WALL | WNOHANG) < 0 && errno == ECHILD);
}

/* The time to reach the entry point (ld.so done) is measured, and comes
 * before the exit; through an exec chain it is the last image's. */
static void test_run_entry(void)
{
	char *argv[] = { "true", NULL };
	char *argv2[] = { "sh", "-c", "sleep 0.2; exec true", NULL };
	struct ptrace_opts o = { .argv = argv };
	struct ptrace_result res;
	struct cerr err;
	if (!traceable)
		SKIP("ptrace is not permitted here");
	CHECK_INT(ptrace_run(&o, &res, &err), 0);
	CHECK_INT(ptrace_exit_code(res.status), 0);
	CHECK(res.entry_ns > 0);
	CHECK(res.exit_ns >= res.entry_ns);
	o.argv = argv2;
	CHECK_INT(ptrace_run(&o, &res, &err), 0);
	CHECK_INT(ptrace_exit_code(res.status), 0);
	CHECK(res.entry_ns > 200000000ull);	/* true's, after the sleep */
	CHECK(res.exit_ns >= res.entry_ns);
}

struct seen_paths {
	int hostname, libc, exec;
};

static int note_paths(void *p, const struct ptrace_event *ev)
{
	struct seen_paths *s = p;
	s->hostname += strcmp(ev->path, "/etc/hostname") == 0;
	s->libc += ev->result >= 0 && strstr(ev->path, "/libc.so.6") != NULL;
	s->exec += ev->kind == PTRACE_KIND_EXEC && ev->result == 0;
	return 0;
}

static void test_run_modes(void)
{
	char *argv[] = { "cat", "/etc/hostname", NULL };
	struct seen_paths all = { 0 }, lo = { 0 };
	struct ptrace_opts o = { .argv = argv, .on_event = note_paths, .ctx = &all };
	struct ptrace_result res;
	struct cerr err;
	if (!traceable)
		SKIP("ptrace is not permitted here");
	fflush(stdout);
	int saved = dup(1), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);	/* cat's output is not a test line */
	int rc1 = ptrace_run(&o, &res, &err);
	o.ctx = &lo;
	o.loader_only = 1;
	int rc2 = ptrace_run(&o, &res, &err);
	dup2(saved, 1);
	close(saved);
	close(null);
	CHECK_INT(rc1, 0);
	CHECK_INT(rc2, 0);
	CHECK_INT(all.exec, 1);
	CHECK_INT(all.libc, 1);
	CHECK(all.hostname >= 1);
	CHECK_INT(lo.exec, 1);	/* execs are traced in both modes */
	CHECK_INT(lo.libc, 1);	/* the loader's open of libc */
	CHECK_INT(lo.hostname, 0);	/* cat's own open is not */
}

static void test_loaded(void)
{
	struct libcache_seen s;
	struct libcache_lib *libs;
	size_t n;
	struct ptrace_event ev = sample_ok;
	libcache_seen_init(&s, 1);
	ev.path = "/lib/x86_64-linux-gnu/libc.so.6";
	CHECK_INT(libcache_note(&s, &ev), 0);
	ev.path = "/etc/passwd";
	CHECK_INT(libcache_note(&s, &ev), 0);
	CHECK_INT(libcache_note(&s, &sample_fail), 0);
	CHECK_INT(s.stats.lib_ok, 1);
	CHECK_INT(s.stats.lib_failed, 1);
	CHECK_INT(libcache_loaded(&s, &libs, &n, NULL), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(libs[0].soname, "libc.so.6");
	libcache_libs_free(libs, n);
	libcache_seen_free(&s);

	char buf[64];
	CHECK(libcache_lib_dir("/c", buf, sizeof buf) != NULL);
	CHECK(!strcmp(buf, "/c") || !strncmp(buf, "/c/glibc-hwcaps/x86-64-v", 24));
	CHECK(libcache_lib_dir("/a-very-long-directory-name", buf, 8) == NULL);
}

static int read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, cap - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n < 0 ? -1 : (int)n;
}

/* libcache_write: the map, the audit object, no write through a planted
 * symlink; libcache_audit_prepare: accepts it, refuses it once others can
 * write to it. */
static void test_cache_write(void)
{
	char dir[] = "/tmp/compat-test-cache.XXXXXX", outside[] = "/tmp/compat-test-outside.XXXXXX";
	char p[512], q[PATH_MAX + 64], text[4096], libc[PATH_MAX];
	struct libcache_stats st = { 3, 40, 5000000, 6000000 };
	struct libcache_audit a;
	struct cerr err;
	if (!mkdtemp(dir) || mkstemp(outside) < 0 || !realpath("/proc/self/exe", libc))
		SKIP("no temporary directory");
	/* any ELF file of this ABI will do as "the library" */
	struct libcache_lib lib = { libc, NULL, "libtest.so.1", "libtest.so.1", sizeof(void *) == 8 ? 2 : 1,
				    sizeof(void *) == 8 ? 62 : 3 };
	snprintf(p, sizeof p, "%s/compat-audit.map", dir);
	CHECK_INT(symlink(outside, p), 0);
	CHECK_INT(libcache_write(dir, &lib, 1, 0, &st, &err), 0);
	CHECK_INT(read_text(outside, text, sizeof text), 0);	/* untouched */
	struct stat sb;
	CHECK(lstat(p, &sb) == 0 && S_ISREG(sb.st_mode));
	CHECK(read_text(p, text, sizeof text) > 0);
	snprintf(q, sizeof q, "compat-audit-map 1\n%d %d ", lib.elf_class, lib.machine);
	CHECK(strncmp(text, q, strlen(q)) == 0);
	snprintf(q, sizeof q, " libtest.so.1 %s\n", libc);
	CHECK(strstr(text, q) != NULL);
	snprintf(p, sizeof p, "%s/compat-trace.stats", dir);
	CHECK(read_text(p, text, sizeof text) > 0);
	CHECK(strstr(text, "start-entry-ns 5000000\n") != NULL);
	size_t len;
	const unsigned char *obj = libcache_audit_object(sizeof(void *) == 8 ? "x86_64" : "i386", &len);
	snprintf(p, sizeof p, "%s/compat-audit-%s.so", dir, sizeof(void *) == 8 ? "x86_64" : "i386");
	CHECK(obj != NULL && len > 1000 && stat(p, &sb) == 0 && (size_t)sb.st_size == len);

	CHECK_INT(libcache_audit_prepare(dir, "true", &a, &err), 0);
	CHECK_INT(a.nentries, 1);
	CHECK(strstr(a.ld_audit, "/compat-audit-") != NULL && a.ld_audit[0] == '/');
	CHECK_INT(a.setid, 0);
	chmod(dir, 0775);
	CHECK_INT(libcache_audit_prepare(dir, "true", &a, &err), COMPAT_EPERM);
	CHECK(strstr(err.msg, "writable by group or others") != NULL);
	chmod(dir, 0755);
	chmod(p, 0646);
	CHECK_INT(libcache_audit_prepare(dir, "true", &a, &err), COMPAT_EPERM);

	/* One file per name: the same file twice is one line; a name seen
	 * with two different files is left out (whatever their order). */
	char truebin[PATH_MAX], map2[PATH_MAX + 32];
	if (realpath("/bin/true", truebin)) {
		/* file A twice and B once, then B twice and A once: one of
		 * them sorts the pair of equal paths first */
		struct libcache_lib three[4] = {
			{ libc, NULL, "libdup.so.1", "libdup.so.1", lib.elf_class, lib.machine },
			{ truebin, NULL, "libdup.so.1", "libdup.so.1", lib.elf_class, lib.machine },
			{ libc, NULL, "libdup.so.1", "libdup.so.1", lib.elf_class, lib.machine },
			{ libc, NULL, "libone.so.1", "libone.so.1", lib.elf_class, lib.machine },
		};
		struct libcache_lib four[5] = { three[3], three[1], three[0], three[1], three[3] };
		for (int round = 0; round < 2; round++) {
			CHECK_INT(libcache_write(dir, round ? four : three, round ? 5 : 4, 0, &st, &err), 0);
			snprintf(map2, sizeof map2, "%s/compat-audit.map", dir);
			CHECK(read_text(map2, text, sizeof text) > 0);
			CHECK(strstr(text, " libdup.so.1 ") == NULL);
			char *one = strstr(text, " libone.so.1 ");
			CHECK(one != NULL && strstr(one + 1, " libone.so.1 ") == NULL);
		}
	}

	/* a DIR that is a symlink is refused, nothing written through it */
	snprintf(q, sizeof q, "%s.link", dir);
	CHECK_INT(symlink(dir, q), 0);
	CHECK_INT(libcache_write(q, &lib, 1, 0, &st, &err), COMPAT_EPERM);
	unlink(q);
	snprintf(q, sizeof q, "rm -rf '%s'", dir);
	CHECK_INT(system(q), 0);
	unlink(outside);
}

int main(void)
{
	RUN(test_fmt_text);
	RUN(test_fmt_jsonl);
	RUN(test_fmt_perfetto);
	RUN(test_fmt_kind);
	RUN(test_library_name);
	RUN(test_stats_parse);
	RUN(test_merge_artifact);
	RUN(test_merge_own_files);
	RUN(test_run_true);
	RUN(test_run_status);
	RUN(test_run_missing);
	RUN(test_run_callback_stops);
	RUN(test_run_entry);
	RUN(test_run_modes);
	RUN(test_loaded);
	RUN(test_cache_write);
	fx_cleanup();
	return check_summary();
}
