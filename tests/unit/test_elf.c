#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
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

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The file offset of the first program header of this type in a native
 * ELF64 file, or 0 when there is none. */
static uint64_t phdr_offset(int fd, uint32_t type)
{
	Elf64_Ehdr h;
	if (pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h || h.e_ident[EI_CLASS] != ELFCLASS64 ||
	    h.e_ident[EI_DATA] != ELFDATA2LSB)
		return 0;
	for (int i = 0; i < h.e_phnum; i++) {
		Elf64_Phdr ph;
		if (pread(fd, &ph, sizeof ph, (off_t)(h.e_phoff + (size_t)i * sizeof ph)) != (ssize_t)sizeof ph)
			return 0;
		if (ph.p_type == type)
			return ph.p_offset;
	}
	return 0;
}

/* What elf_read without versions gives (ld.so's reads, pread) is what the
 * libelf path gives with them, for the dynamic part: every ELF file of the
 * system directories (up to 4000), and each as read from memory too. A
 * file the pread path refuses, the libelf path refuses as well. */
static void test_dynamic_reads_agree(void)
{
	static const char *const dirs[] = { "/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/i386-linux-gnu",
					    "/usr/lib32", "/usr/libexec", "/usr/lib/debug/.build-id" };
	size_t files = 0, compared = 0, differ = 0, refused = 0, note_only = 0;
	for (size_t k = 0; k < sizeof dirs / sizeof dirs[0] && files < 4000; k++) {
		DIR *dh = opendir(dirs[k]);
		struct dirent *e;
		while (dh && (e = readdir(dh)) != NULL && files < 4000) {
			char path[1024];
			struct stat st;
			unsigned char magic[4];
			snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
			int fd = open(path, O_RDONLY | O_NONBLOCK);
			if (fd < 0)
				continue;
			if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || pread(fd, magic, 4, 0) != 4 ||
			    memcmp(magic, ELFMAG, 4) != 0) {
				close(fd);
				continue;
			}
			files++;
			struct elf_info a, b, m;
			int ra = elf_read_fd(fd, path, 0, &a, NULL);
			int rb = elf_read_fd(fd, path, ELF_READ_VERSIONS, &b, NULL);
			/* ld.so's (and this path's) ISA property is PT_GNU_PROPERTY; with
			 * sections read, a .note.gnu.property section counts too (gold
			 * makes no PT_GNU_PROPERTY). */
			int prop_segment = phdr_offset(fd, PT_GNU_PROPERTY) != 0;
			int rm = -1;
			if (st.st_size < (8 << 20)) {
				void *buf = malloc((size_t)st.st_size);
				if (buf && pread(fd, buf, (size_t)st.st_size, 0) == st.st_size)
					rm = elf_read_mem(buf, (size_t)st.st_size, path, 0, &m, NULL);
				free(buf);
			}
			close(fd);
			int same = 1;
			if (ra < 0) {
				refused++;
				same = rb < 0;
			} else if (rb == 0) {
				same = a.elf_class == b.elf_class && a.machine == b.machine && a.type == b.type &&
				       a.osabi == b.osabi && a.dynamic == b.dynamic && a.flags_1 == b.flags_1 &&
				       (a.isa_needed == b.isa_needed || (!prop_segment && !a.isa_needed)) &&
				       same_str(a.interp, b.interp) &&
				       same_str(a.soname, b.soname) && same_str(a.rpath, b.rpath) &&
				       same_str(a.runpath, b.runpath) && a.nneeded == b.nneeded;
				for (size_t i = 0; same && i < a.nneeded; i++)
					same = strcmp(a.needed[i], b.needed[i]) == 0;
				compared++;
				note_only += a.isa_needed != b.isa_needed;
			}
			if (rm >= 0 || st.st_size < (8 << 20)) {
				/* from memory: the same answer */
				if ((rm < 0) != (ra < 0))
					same = 0;
				else if (rm == 0)
					same = same && a.nneeded == m.nneeded && same_str(a.soname, m.soname) &&
					       same_str(a.interp, m.interp) && a.isa_needed == m.isa_needed;
			}
			if (!same && differ++ < 5)
				printf("#   %s: pread %d, libelf %d, memory %d\n", path, ra, rb, rm);
			if (ra == 0)
				elf_info_free(&a);
			if (rb == 0)
				elf_info_free(&b);
			if (rm == 0)
				elf_info_free(&m);
		}
		if (dh)
			closedir(dh);
	}
	printf("# %zu ELF files, %zu compared with libelf, %zu refused by both, %zu differ "
	       "(%zu with a property note section and no PT_GNU_PROPERTY)\n", files, compared, refused, differ, note_only);
	CHECK(compared > 100);
	CHECK_INT(differ, 0);
}

/* Files cut short inside what ld.so reads are refused, never read past. */
static void test_dynamic_reads_truncated(void)
{
	struct elf_info in;
	struct cerr err;
	const char *d = fx_tmpdir();
	int lfd = open(lib, O_RDONLY);
	uint64_t dyn = lfd < 0 ? 0 : phdr_offset(lfd, PT_DYNAMIC);
	if (lfd >= 0)
		close(lfd);
	CHECK(dyn > 0);
	/* in the header, before the first whole program header, in PT_DYNAMIC
	 * (a file cut after some program headers has fewer, as libelf counts) */
	size_t cuts[] = { 20, 63, 64, 100, (size_t)dyn + 8 };
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		char cut[600];
		snprintf(cut, sizeof cut, "%s/cut%zu", d, i);
		CHECK(fx_sh("head -c %zu %s > %s", cuts[i], lib, cut) == 0);
		int r = elf_read(cut, 0, &in, &err);
		CHECK_INT(r, COMPAT_EINVAL);
		if (r == 0)
			elf_info_free(&in);
	}
	/* a string offset past the string table */
	char bad[600];
	snprintf(bad, sizeof bad, "%s/badstr", d);
	CHECK(fx_sh("cp %s %s", lib, bad) == 0);
	int fd = open(bad, O_RDWR);
	CHECK(fd >= 0);
	unsigned char eh[64];
	CHECK(pread(fd, eh, 64, 0) == 64);
	Elf64_Ehdr h;
	memcpy(&h, eh, sizeof h);
	for (int i = 0; i < h.e_phnum; i++) {
		Elf64_Phdr ph;
		CHECK(pread(fd, &ph, sizeof ph, (off_t)(h.e_phoff + (size_t)i * sizeof ph)) == (ssize_t)sizeof ph);
		if (ph.p_type != PT_DYNAMIC)
			continue;
		for (size_t k = 0; k < ph.p_filesz / sizeof(Elf64_Dyn); k++) {
			Elf64_Dyn de;
			off_t at = (off_t)(ph.p_offset + k * sizeof de);
			CHECK(pread(fd, &de, sizeof de, at) == (ssize_t)sizeof de);
			if (de.d_tag == DT_SONAME) {
				de.d_un.d_val = 0x7fffffff;
				CHECK(pwrite(fd, &de, sizeof de, at) == (ssize_t)sizeof de);
			}
		}
	}
	close(fd);
	CHECK_INT(elf_read(bad, 0, &in, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "string offset out of range") != NULL);
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
	RUN(test_dynamic_reads_agree);
	RUN(test_dynamic_reads_truncated);
	RUN(test_names);
	fx_cleanup();
	return check_summary();
}
