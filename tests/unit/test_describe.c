/* compat gen's core: what an artifact records of bound, unbound and weak
 * references, of programs and shared objects, of one architecture. */
#include <elf.h>
#include <stdlib.h>

#include "check.h"
#include "core/describe.h"
#include "fixture.h"

struct warnings {
	char text[4096];
	int n;
};

static void on_warn(void *ctx, const char *path, const char *msg)
{
	struct warnings *w = ctx;
	(void)path;
	size_t used = strlen(w->text);
	snprintf(w->text + used, sizeof w->text - used, "%s\n", msg);
	w->n++;
}

static int describe(const char *const *paths, size_t n, const struct describe_opts *o, struct warnings *w,
		    struct artifact *a, struct cerr *err)
{
	artifact_init(a);
	if (w)
		memset(w, 0, sizeof *w);
	return describe_paths(paths, n, o, w ? on_warn : NULL, w, a, err);
}

static const char *get(const struct artifact *a, const char *key)
{
	char k[256];
	snprintf(k, sizeof k, ARTIFACT_NS "%s", key);
	return artifact_get(a, k);
}

static char v1[512], v2[512], prog[512], plugin[512];

/* A library pair: v2 has new_fn (versioned) and newer_fn (unversioned
 * library), v1 has neither; a program built against v2; a plugin that
 * imports host_api from whoever loads it and refers weakly to maybe_fn. */
static void build(void)
{
	const char *d = fx_tmpdir();
	snprintf(v1, sizeof v1, "%s/v1", d);
	snprintf(v2, sizeof v2, "%s/v2", d);
	snprintf(prog, sizeof prog, "%s/prog", d);
	snprintf(plugin, sizeof plugin, "%s/plugin.so", d);
	fx_write("p1.c", "int old_fn(void){return 1;}\n");
	fx_write("p2.c", "int old_fn(void){return 1;} int new_fn(void){return 2;}\n");
	fx_write("p.map", "PAIR_1 { global: old_fn; local: *; };\nPAIR_2 { global: new_fn; } PAIR_1;\n");
	fx_write("p1.map", "PAIR_1 { global: old_fn; local: *; };\n");
	fx_write("u1.c", "int u_old(void){return 1;}\n");
	fx_write("u2.c", "int u_old(void){return 1;} int newer_fn(void){return 3;}\n");
	fx_write("prog.c", "int old_fn(void); int new_fn(void); int u_old(void); int newer_fn(void);\n"
			   "__attribute__((weak)) int maybe_fn(void);\n"
			   "int main(void){return old_fn() + new_fn() + u_old() + newer_fn() + (maybe_fn ? 1 : 0) == 7 ? 0 : 1;}\n");
	fx_write("plugin.c", "int host_api(int); __attribute__((weak)) int maybe_fn(void);\n"
			     "int plug(void){return host_api(1) + (maybe_fn ? 1 : 0);}\n");
	CHECK(fx_sh("mkdir -p %s %s && "
		    "gcc -shared -fPIC -o %s/libpair.so.1 %s/p2.c -Wl,-soname,libpair.so.1 -Wl,--version-script,%s/p.map && "
		    "gcc -shared -fPIC -o %s/libpair.so.1 %s/p1.c -Wl,-soname,libpair.so.1 -Wl,--version-script,%s/p1.map && "
		    "gcc -shared -fPIC -o %s/libu.so.1 %s/u2.c -Wl,-soname,libu.so.1 && "
		    "gcc -shared -fPIC -o %s/libu.so.1 %s/u1.c -Wl,-soname,libu.so.1 && "
		    "gcc -o %s %s/prog.c %s/libpair.so.1 %s/libu.so.1 && "
		    "gcc -shared -fPIC -o %s %s/plugin.c",
		    v1, v2, v2, d, d, v1, d, d, v2, d, v1, d, prog, d, v2, v2, plugin, d) == 0);
}

static void test_bound_symbols_carry_versions(void)
{
	build();
	const char *paths[] = { prog };
	struct describe_opts o = { .library_path = v2 };
	struct artifact a;
	struct cerr err;
	struct warnings w;
	CHECK_INT(describe(paths, 1, &o, &w, &a, &err), 0);
	CHECK_STR(get(&a, "symbols.libpair.so.1"), "new_fn@PAIR_2 old_fn@PAIR_1");
	CHECK_STR(get(&a, "symbols.libu.so.1"), "newer_fn u_old");
	CHECK_STR(get(&a, "needed.libpair.so.1"), "PAIR_1 PAIR_2");
	CHECK(get(&a, "unbound") == NULL);
	CHECK_INT(w.n, 0);
	/* the weak reference is no need, bound or not */
	for (size_t i = 0; i < a.nattrs; i++)
		CHECK(strstr(a.attrs[i].value, "maybe_fn") == NULL);
	artifact_free(&a);
}

/* gen on a host whose libraries lack what the program needs: those
 * references bind to nothing and are recorded (with their versions), with
 * one warning naming them. */
static void test_unbound_recorded_and_warned(void)
{
	const char *paths[] = { prog };
	struct describe_opts o = { .library_path = v1 };
	struct artifact a;
	struct cerr err;
	struct warnings w;
	CHECK_INT(describe(paths, 1, &o, &w, &a, &err), 0);
	CHECK_STR(get(&a, "unbound"), "new_fn@PAIR_2 newer_fn");
	CHECK_STR(get(&a, "symbols.libpair.so.1"), "old_fn@PAIR_1");
	CHECK_STR(get(&a, "symbols.libu.so.1"), "u_old");
	CHECK(get(&a, "plugin-imports") == NULL);
	CHECK_INT(w.n, 1);
	CHECK(strstr(w.text, "2 symbols bound to nothing") && strstr(w.text, "new_fn@PAIR_2 newer_fn"));
	artifact_free(&a);
}

/* A shared object's unbound references are its loader's to provide. */
static void test_plugin_imports(void)
{
	const char *paths[] = { plugin };
	struct describe_opts o = { 0 };
	struct artifact a;
	struct cerr err;
	struct warnings w;
	CHECK_INT(describe(paths, 1, &o, &w, &a, &err), 0);
	CHECK_STR(get(&a, "plugin-imports"), "host_api");
	CHECK(get(&a, "unbound") == NULL);
	CHECK_INT(w.n, 0);
	artifact_free(&a);
	/* described with a program that defines it (its loading process), it is bound */
	const char *d = fx_tmpdir();
	fx_write("host.c", "int host_api(int x){return x;} int main(void){return 0;}\n");
	CHECK(fx_sh("gcc -rdynamic -o %s/host %s/host.c", d, d) == 0);
	char host[600];
	snprintf(host, sizeof host, "%s/host", d);
	const char *both[] = { plugin, host };
	CHECK_INT(describe(both, 2, &o, &w, &a, &err), 0);
	CHECK(get(&a, "plugin-imports") == NULL);
	artifact_free(&a);
}

/* isa-level only from a GNU property note; a DT_NEEDED path is the
 * application's own file; RPATH and RUNPATH travel apart. */
static void test_isa_paths_and_search_dirs(void)
{
	const char *d = fx_tmpdir();
	fx_write("m.c", "int main(void){return 0;}\n");
	fx_write("pl.c", "int pl(void){return 0;}\n");
	fx_write("pm.c", "int pl(void); int main(void){return pl();}\n");
	/* a shared object has no ISA note unless its objects had one (only
	 * crt1.o, of programs, brings one here) */
	CHECK(fx_sh("gcc -shared -fPIC -o %s/nonote %s/pl.c && ! readelf -n %s/nonote | grep -q 'ISA needed'",
		    d, d, d) == 0);
	CHECK(fx_sh("gcc -o %s/v3 %s/m.c -Wl,-z,x86-64-v3", d, d) == 0);
	CHECK(fx_sh("mkdir -p %s/own && gcc -shared -fPIC -o %s/own/libpl.so %s/pl.c && "
		    "gcc -o %s/pathneed %s/pm.c %s/own/libpl.so -Wl,--disable-new-dtags,-rpath,/opt/rp:/opt/rp2 && "
		    "gcc -o %s/runneed %s/pm.c %s/own/libpl.so -Wl,--enable-new-dtags,-rpath,/opt/run",
		    d, d, d, d, d, d, d, d, d) == 0);
	char p[600];
	struct describe_opts o = { 0 };
	struct artifact a;
	struct cerr err;
	snprintf(p, sizeof p, "%s/nonote", d);
	const char *paths[] = { p };
	CHECK_INT(describe(paths, 1, &o, NULL, &a, &err), 0);
	CHECK(get(&a, "isa-level") == NULL);
	artifact_free(&a);
	snprintf(p, sizeof p, "%s/v3", d);
	CHECK_INT(describe(paths, 1, &o, NULL, &a, &err), 0);
	CHECK_STR(get(&a, "isa-level"), "x86-64-v3");
	artifact_free(&a);
	/* linked by path (no soname): DT_NEEDED is the path */
	snprintf(p, sizeof p, "%s/pathneed", d);
	CHECK_INT(describe(paths, 1, &o, NULL, &a, &err), 0);
	for (size_t i = 0; i < a.nattrs; i++)
		CHECK(strncmp(a.attrs[i].key, ARTIFACT_NS "needed.", 22) || !strstr(a.attrs[i].key, "libpl.so"));
	CHECK_STR(get(&a, "rpath"), "/opt/rp:/opt/rp2");
	CHECK(get(&a, "runpath") == NULL && get(&a, "search-path") == NULL);
	artifact_free(&a);
	snprintf(p, sizeof p, "%s/runneed", d);
	CHECK_INT(describe(paths, 1, &o, NULL, &a, &err), 0);
	CHECK_STR(get(&a, "runpath"), "/opt/run");
	CHECK(get(&a, "rpath") == NULL);
	artifact_free(&a);
}

/* Files of several machines or classes make no artifact, unless --machine
 * picks one; a FIFO is refused without being opened. */
static void test_mixed_sets_and_fifo(void)
{
	const char *d = fx_tmpdir();
	fx_write("mx.c", "int mx(void){return 0;}\n");
	CHECK(fx_sh("mkdir -p %s/mixed/x64 %s/mixed/arm64 && gcc -shared -fPIC -o %s/mixed/x64/libmx.so %s/mx.c && "
		    "cp %s/mixed/x64/libmx.so %s/mixed/x64/libmy.so && cp %s/mixed/x64/libmx.so %s/mixed/arm64/libmx.so && "
		    "printf '\\267\\000' | dd of=%s/mixed/arm64/libmx.so bs=1 seek=18 conv=notrunc status=none && "
		    "mkfifo %s/fifo",
		    d, d, d, d, d, d, d, d, d, d) == 0);
	char dir[600], fifo[600];
	snprintf(dir, sizeof dir, "%s/mixed", d);
	snprintf(fifo, sizeof fifo, "%s/fifo", d);
	const char *paths[] = { dir };
	struct describe_opts o = { 0 };
	struct artifact a;
	struct cerr err;
	struct warnings w;
	CHECK_INT(describe(paths, 1, &o, &w, &a, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "2 architectures") && strstr(err.msg, "--machine"));
	CHECK_INT(w.n, 2);
	CHECK(strstr(w.text, "ELF64 x86_64: 2 files\n") && strstr(w.text, "ELF64 aarch64: 1 file\n"));
	artifact_free(&a);
	o.machine = "x86_64";
	CHECK_INT(describe(paths, 1, &o, &w, &a, &err), 0);
	CHECK_STR(get(&a, "elf.machine"), "x86_64");
	CHECK_INT(w.n, 1);
	CHECK_STR(w.text, "skipped 1 file of other architectures (ELF64 aarch64: 1)\n");
	artifact_free(&a);
	o.machine = "riscv";
	CHECK_INT(describe(paths, 1, &o, &w, &a, &err), COMPAT_EINVAL);
	artifact_free(&a);
	o.machine = NULL;
	const char *f[] = { fifo };
	CHECK_INT(describe(f, 1, &o, &w, &a, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "not a regular file") != NULL);
	artifact_free(&a);
}

/* gen --root R R/opt/app: the application's libraries are the ones in the
 * scanned tree as the loader opens them inside R. */
static void test_root_scanned_tree(void)
{
	const char *d = fx_tmpdir();
	fx_write("ra.c", "int ra(void){return 0;}\n");
	fx_write("rm.c", "int ra(void); int main(void){return ra();}\n");
	CHECK(fx_sh("mkdir -p %s/R/opt/app/bin %s/R/opt/app/lib && "
		    "gcc -shared -fPIC -o %s/R/opt/app/lib/libra.so.1 %s/ra.c -Wl,-soname,libra.so.1 && "
		    "gcc -o %s/R/opt/app/bin/rm %s/rm.c %s/R/opt/app/lib/libra.so.1 -Wl,-rpath,/opt/app/lib",
		    d, d, d, d, d, d, d) == 0);
	char root[600], app[600];
	snprintf(root, sizeof root, "%s/R", d);
	snprintf(app, sizeof app, "%s/R/opt/app", d);
	const char *paths[] = { app };
	struct describe_opts o = { .root = root };
	struct artifact a;
	struct cerr err;
	CHECK_INT(describe(paths, 1, &o, NULL, &a, &err), 0);
	CHECK(get(&a, "needed.libra.so.1") == NULL);
	CHECK(get(&a, "symbols.libra.so.1") == NULL);
	artifact_free(&a);
}

int main(void)
{
	RUN(test_bound_symbols_carry_versions);
	RUN(test_unbound_recorded_and_warned);
	RUN(test_plugin_imports);
	RUN(test_isa_paths_and_search_dirs);
	RUN(test_mixed_sets_and_fifo);
	RUN(test_root_scanned_tree);
	fx_cleanup();
	return check_summary();
}
