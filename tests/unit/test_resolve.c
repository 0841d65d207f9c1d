#include <stdlib.h>

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
	RUN(test_how_names);
	fx_cleanup();
	return check_summary();
}
