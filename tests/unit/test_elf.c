#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/elf.h"
#include "fixture.h"

static char lib[512], lib_sysv[512], exe[512];

static void build(void)
{
	const char *d = fx_tmpdir();
	fx_write("v.c", "int foo_old(void){return 1;} int foo_new(void){return 2;}\n"
			"int helper(void); int use(void){return helper();}\n");
	fx_write("v.map", "FOO_1.0 { global: foo_old; local: *; };\n"
			  "FOO_2.0 { global: foo_new; use; } FOO_1.0;\n");
	fx_write("m.c", "int foo_new(void); int main(void){return foo_new() == 2 ? 0 : 1;}\n");
	snprintf(lib, sizeof lib, "%s/libfx.so.2", d);
	snprintf(lib_sysv, sizeof lib_sysv, "%s/libfxs.so.2", d);
	snprintf(exe, sizeof exe, "%s/exe", d);
	CHECK(fx_sh("gcc -shared -fPIC -o %s %s/v.c -Wl,-soname,libfx.so.2 -Wl,--version-script,%s/v.map "
		    "-Wl,--disable-new-dtags,-rpath,/opt/r1", lib, d, d) == 0);
	CHECK(fx_sh("gcc -shared -fPIC -o %s %s/v.c -Wl,-soname,libfxs.so.2 -Wl,--version-script,%s/v.map "
		    "-Wl,--hash-style=sysv", lib_sysv, d, d) == 0);
	CHECK(fx_sh("gcc -o %s %s/m.c %s -Wl,--enable-new-dtags,-rpath,'$ORIGIN/lib' -Wl,-z,x86-64-v2 "
		    "-Wl,--allow-shlib-undefined", exe, d,
		    lib) == 0);
}

static void test_library_fields(void)
{
	struct elf_info in;
	struct cerr err;
	CHECK_INT(elf_read(lib, ELF_READ_UNDEFS | ELF_READ_VERSIONS, &in, &err), 0);
	CHECK_INT(in.elf_class, ELFCLASS64);
	CHECK_INT(in.machine, EM_X86_64);
	CHECK_INT(in.type, ET_DYN);
	CHECK_STR(in.soname, "libfx.so.2");
	CHECK_STR(in.rpath, "/opt/r1");
	CHECK(in.runpath == NULL);
	CHECK(in.interp == NULL);
	CHECK_INT(in.nverdefs, 2);
	if (in.nverdefs == 2) {
		CHECK_STR(in.verdefs[0], "FOO_1.0");
		CHECK_STR(in.verdefs[1], "FOO_2.0");
	}
	int found_helper = 0;
	for (size_t i = 0; i < in.nundefs; i++)
		found_helper |= strcmp(in.undefs[i].name, "helper") == 0 && in.undefs[i].version == NULL;
	CHECK(found_helper);
	elf_info_free(&in);
}

static void test_program_fields(void)
{
	struct elf_info in;
	struct cerr err;
	if (elf_read(exe, ELF_READ_UNDEFS, &in, &err) != 0) {
		CHECK(!"cannot read the fixture program");
		return;
	}
	CHECK_STR(in.interp, "/lib64/ld-linux-x86-64.so.2");
	CHECK_STR(in.runpath, "$ORIGIN/lib");
	CHECK(in.nneeded >= 2);
	CHECK_STR(in.needed[0], "libfx.so.2");
	CHECK_INT(elf_isa_level(in.isa_needed), 2);
	int vfx = 0, vlibc = 0;
	for (size_t i = 0; i < in.nvneeds; i++) {
		if (strcmp(in.vneeds[i].file, "libfx.so.2") == 0)
			vfx = in.vneeds[i].nversions == 1 && strcmp(in.vneeds[i].versions[0], "FOO_2.0") == 0;
		if (strcmp(in.vneeds[i].file, "libc.so.6") == 0)
			vlibc = 1;
	}
	CHECK(vfx);
	CHECK(vlibc);
	int bound = 0;
	for (size_t i = 0; i < in.nundefs; i++)
		if (strcmp(in.undefs[i].name, "foo_new") == 0)
			bound = in.undefs[i].version && strcmp(in.undefs[i].version, "FOO_2.0") == 0 &&
				strcmp(in.undefs[i].vfile, "libfx.so.2") == 0;
	CHECK(bound);
	elf_info_free(&in);
}

static void lookups(const char *path)
{
	struct elf_symtab *t;
	struct cerr err;
	CHECK_INT(elf_symtab_open(path, &t, &err), 0);
	if (!t)
		return;
	CHECK_INT(elf_symtab_defines(t, "foo_new", "FOO_2.0"), 1);
	CHECK_INT(elf_symtab_defines(t, "foo_new", "FOO_1.0"), 0);
	CHECK_INT(elf_symtab_defines(t, "foo_old", "FOO_1.0"), 1);
	CHECK_INT(elf_symtab_defines(t, "foo_new", NULL), 1);
	CHECK_INT(elf_symtab_defines(t, "helper", NULL), 0);	/* undefined here */
	CHECK_INT(elf_symtab_defines(t, "no_such_symbol", NULL), 0);
	CHECK_INT(elf_symtab_exports(t, "foo_old"), 1);
	elf_symtab_close(t);
}

static void test_symbol_lookup_gnu_hash(void)
{
	lookups(lib);
}

static void test_symbol_lookup_sysv_hash(void)
{
	lookups(lib_sysv);
}

static void test_libc_exports(void)
{
	struct elf_symtab *t;
	CHECK_INT(elf_symtab_open("/lib/x86_64-linux-gnu/libc.so.6", &t, NULL), 0);
	CHECK_INT(elf_symtab_defines(t, "printf", "GLIBC_2.2.5"), 1);
	CHECK_INT(elf_symtab_defines(t, "memcpy", "GLIBC_2.14"), 1);
	CHECK_INT(elf_symtab_defines(t, "printf", "GLIBC_9.99"), 0);
	CHECK_INT(elf_symtab_defines(t, "definitely_not_in_libc", NULL), 0);
	elf_symtab_close(t);
}

static void test_bad_input(void)
{
	struct elf_info in;
	struct cerr err;
	const char *junk = fx_write("junk", "this is not an ELF file at all\n");
	CHECK_INT(elf_read(junk, 0, &in, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "junk") != NULL);
	CHECK_INT(elf_read("/nonexistent/file", 0, &in, &err), COMPAT_EIO);
	CHECK(strstr(err.msg, "No such file") != NULL);
	char trunc[600];
	snprintf(trunc, sizeof trunc, "%s/trunc", fx_tmpdir());
	fx_sh("head -c 2000 %s > %s", lib, trunc);
	CHECK_INT(elf_read(trunc, 0, &in, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "truncated") != NULL);
	CHECK_INT(elf_read_mem("\177ELF", 4, "mem", 0, &in, &err), COMPAT_EINVAL);
	CHECK_INT(elf_read(fx_tmpdir(), 0, &in, &err), COMPAT_EINVAL);	/* a directory */
}

static void test_names(void)
{
	char buf[16];
	CHECK_STR(elf_class_name(ELFCLASS64), "ELF64");
	CHECK_STR(elf_machine_name(EM_X86_64, buf, sizeof buf), "x86_64");
	CHECK_STR(elf_machine_name(9999, buf, sizeof buf), "EM_9999");
	CHECK_INT(elf_machine_from_name("EM_9999"), 9999);
	CHECK_INT(elf_machine_from_name("aarch64"), EM_AARCH64);
	CHECK_INT(elf_machine_from_name("nonsense"), -1);
	CHECK_INT(elf_osabi_from_name("GNU"), ELFOSABI_GNU);
	CHECK_INT(elf_isa_level(ELF_ISA_BASELINE | ELF_ISA_V3), 3);
	CHECK_INT(elf_isa_level(0), 1);
}

int main(void)
{
	RUN(build);
	RUN(test_library_fields);
	RUN(test_program_fields);
	RUN(test_symbol_lookup_gnu_hash);
	RUN(test_symbol_lookup_sysv_hash);
	RUN(test_libc_exports);
	RUN(test_bad_input);
	RUN(test_names);
	fx_cleanup();
	return check_summary();
}
