#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/resolve.h"
#include "fixture.h"

static void test_host_program(void)
{
	struct rs_opts o = { 0 };
	struct resolver *rv;
	struct resolution r;
	struct cerr err;
	CHECK_INT(resolver_new(&o, &rv, &err), 0);
	CHECK_INT(resolver_run(rv, "/bin/true", &r, &err), 0);
	CHECK(r.interp > 0);
	int libc = -1;
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.objs[i].name, "libc.so.6") == 0)
			libc = (int)i;
	CHECK(libc > 0);
	if (libc > 0) {
		CHECK_STR(r.objs[libc].path, "/lib/x86_64-linux-gnu/libc.so.6");
		CHECK_INT(r.objs[libc].how, RS_LDCACHE);
		CHECK_INT(r.objs[libc].loader, 0);
	}
	resolution_free(&r);
	/* The same resolver again reuses what it read. */
	CHECK_INT(resolver_run(rv, "/bin/true", &r, &err), 0);
	resolution_free(&r);
	CHECK_INT(resolver_run(rv, "/etc/hostname", &r, &err), COMPAT_EINVAL);
	resolver_free(rv);
}

/* $LIB and $PLATFORM expand as this loader does; DT_NEEDED with '/' is a path. */
static void test_tokens_and_paths(void)
{
	const char *d = fx_tmpdir();
	fx_write("l.c", "int l(void){return 0;}\n");
	fx_write("m.c", "int l(void); int main(void){return l();}\n");
	CHECK(fx_sh("mkdir -p %s/lib/x86_64-linux-gnu/sub %s/x86_64 && "
		    "gcc -shared -fPIC -o %s/lib/x86_64-linux-gnu/sub/libtok.so %s/l.c -Wl,-soname,libtok.so && "
		    "gcc -shared -fPIC -o %s/x86_64/libplat.so %s/l.c && "
		    "gcc -o %s/m1 %s/m.c -L%s/lib/x86_64-linux-gnu/sub -ltok "
		    "-Wl,--enable-new-dtags,-rpath,'$ORIGIN/$LIB/sub' && "
		    "gcc -o %s/m2 %s/m.c %s/x86_64/libplat.so",
		    d, d, d, d, d, d, d, d, d, d, d, d) == 0);
	struct rs_opts o = { 0 };
	struct resolver *rv;
	struct resolution r;
	char path[600];
	CHECK_INT(resolver_new(&o, &rv, NULL), 0);
	snprintf(path, sizeof path, "%s/m1", d);
	CHECK_INT(resolver_run(rv, path, &r, NULL), 0);
	CHECK(r.n >= 3 && r.objs[2].path && strstr(r.objs[2].path, "/lib/x86_64-linux-gnu/sub/libtok.so"));
	CHECK(r.n >= 3 && r.objs[2].how == RS_RUNPATH && r.objs[2].via_origin);
	resolution_free(&r);
	snprintf(path, sizeof path, "%s/m2", d);
	CHECK_INT(resolver_run(rv, path, &r, NULL), 0);
	CHECK(r.n >= 3 && r.objs[2].how == RS_PATH);
	resolution_free(&r);
	resolver_free(rv);
}

/* A hang (a FIFO opened for reading waits for a writer) is a failure,
 * not a stuck test run. */
static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "not ok - hung (a FIFO was opened for reading)\n";
	if (write(1, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}

/* gen FIFO and a FIFO named like a library on the search path: refused at
 * once, never opened for reading. */
static void test_fifo_never_opened(void)
{
	const char *d = fx_tmpdir();
	CHECK(fx_sh("mkdir -p %s/ff && mkfifo %s/ff/prog %s/ff/libc.so.6", d, d, d) == 0);
	signal(SIGALRM, on_alarm);
	alarm(10);
	char path[600], lp[600];
	snprintf(path, sizeof path, "%s/ff/prog", d);
	snprintf(lp, sizeof lp, "%s/ff", d);
	struct rs_opts o = { .library_path = lp };
	struct resolver *rv;
	struct resolution r;
	struct cerr err;
	CHECK_INT(resolver_new(&o, &rv, &err), 0);
	CHECK_INT(resolver_run(rv, path, &r, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "not a regular file") != NULL);
	CHECK_INT(resolver_run(rv, "/bin/true", &r, &err), 0);
	/* the search stops at the FIFO, as ld.so's would (it would block
	 * there): reported, not opened */
	int libc = -1;
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.objs[i].name, "libc.so.6") == 0)
			libc = (int)i;
	CHECK(libc > 0 && !r.objs[libc].path && r.objs[libc].problem &&
	      strstr(r.objs[libc].problem, "/ff/libc.so.6: not a regular file"));
	resolution_free(&r);
	resolver_free(rv);
	alarm(0);
}

/* A root given by a relative path, a program given by a relative path, a
 * program that is an absolute symlink inside the root: $ORIGIN and the
 * program are the root's, as for absolute paths. */
static void test_root_relative_and_symlinked_program(void)
{
	const char *d = fx_tmpdir();
	fx_write("ol.c", "int ol(void){return 0;}\n");
	fx_write("om.c", "int ol(void); int main(void){return ol();}\n");
	CHECK(fx_sh("mkdir -p %s/rr/usr/bin %s/rr/usr/lib/app && "
		    "gcc -shared -fPIC -o %s/rr/usr/lib/app/libol.so.1 %s/ol.c -Wl,-soname,libol.so.1 && "
		    "gcc -o %s/rr/usr/bin/om.real %s/om.c %s/rr/usr/lib/app/libol.so.1 "
		    "-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib/app' && "
		    "ln -s /usr/bin/om.real %s/rr/usr/bin/om",
		    d, d, d, d, d, d, d, d) == 0);
	char cwd[600];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(d) == 0);
	const char *progs[] = { "rr/usr/bin/om.real", "rr/usr/bin/om" };
	for (int i = 0; i < 2; i++) {
		struct rs_opts o = { .root = "rr" };
		struct resolver *rv;
		struct resolution r;
		struct cerr err;
		CHECK_INT(resolver_new(&o, &rv, &err), 0);
		int rc = resolver_run(rv, progs[i], &r, &err);
		CHECK_INT(rc, 0);
		if (rc == 0) {
			int found = 0;
			for (size_t k = 1; k < r.n; k++)
				if (strcmp(r.objs[k].name, "libol.so.1") == 0)
					found = r.objs[k].path && r.objs[k].how == RS_RUNPATH &&
						strcmp(r.objs[k].path, "/usr/bin/../lib/app/libol.so.1") == 0;
			printf("# %s: libol.so.1 %s\n", progs[i], found ? "found through $ORIGIN" : "NOT found");
			CHECK(found);
			resolution_free(&r);
		} else {
			printf("# %s: %s\n", progs[i], err.msg);
		}
		resolver_free(rv);
	}
	CHECK(chdir(cwd) == 0);
}

/* A shared object of a machine no loader is modelled for, without
 * PT_INTERP: no loader to load (UBSan saw open(NULL) here before). */
static void test_unknown_machine_without_interp(void)
{
	const char *d = fx_tmpdir();
	fx_write("u.c", "#include <stdio.h>\nint u(void){return puts(\"u\");}\n");	/* a DT_NEEDED */
	CHECK(fx_sh("gcc -shared -fPIC -o %s/libu.so %s/u.c && "
		    "printf '\\064\\022' | dd of=%s/libu.so bs=1 seek=18 conv=notrunc status=none", d, d, d) == 0);
	char path[600];
	snprintf(path, sizeof path, "%s/libu.so", d);
	struct rs_opts o = { 0 };
	struct resolver *rv;
	struct resolution r;
	CHECK_INT(resolver_new(&o, &rv, NULL), 0);
	CHECK_INT(resolver_run(rv, path, &r, NULL), 0);
	CHECK_INT(r.interp, -1);
	CHECK_INT(r.objs[0].info->machine, 0x1234);
	CHECK(r.objs[0].info->nneeded > 0);
	resolution_free(&r);
	resolver_free(rv);
}

static void test_how_names(void)
{
	CHECK_STR(rs_how_name(RS_RPATH), "[rpath]");
	CHECK_STR(rs_how_name(RS_LD_LIBRARY_PATH), "[LD_LIBRARY_PATH]");
	CHECK_STR(rs_how_name(RS_RUNPATH), "[runpath]");
	CHECK_STR(rs_how_name(RS_LDCACHE), "[ld.so.cache]");
	CHECK_STR(rs_how_name(RS_DEFAULT), "[default path]");
}

int main(void)
{
	RUN(test_host_program);
	RUN(test_tokens_and_paths);
	RUN(test_fifo_never_opened);
	RUN(test_root_relative_and_symlinked_program);
	RUN(test_unknown_machine_without_interp);
	RUN(test_how_names);
	fx_cleanup();
	return check_summary();
}
