#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <sys/mman.h>
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

/* ---- the reference: the same facts through libelf and the section
 * headers, written here so that the test is a second reading ---- */

struct ref {
	char *soname, *rpath, *runpath, *needed[64];
	size_t nneeded;
	char *verdefs[256];
	size_t nverdefs;
	char *vneeds[512];	/* "FILE VERSION w" */
	size_t nvneeds;
	char *undefs[4096];	/* "NAME@VERSION FILE w" */
	size_t nundefs;
	uint32_t isa;
	Elf *e;
	Elf_Scn *dynsym;
	GElf_Shdr dynsym_sh;
	Elf_Data *syms, *versym;
	char *vdnames[1024];	/* verdef index -> name */
};

static char *xstrdup(const char *s)
{
	return strdup(s ? s : "(null)");
}

static uint32_t ref_isa(const unsigned char *p, size_t len)
{
	uint32_t bits = 0;
	const unsigned char *end = p + len;
	while (end - p >= 12) {
		uint32_t nsz, dsz, type;
		memcpy(&nsz, p, 4);
		memcpy(&dsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		const unsigned char *n = p + 12, *d = n + ((nsz + 3) & ~3u);
		if (d > end || dsz > (size_t)(end - d))
			break;
		if (type == NT_GNU_PROPERTY_TYPE_0 && nsz == 4 && !memcmp(n, "GNU", 4))
			for (const unsigned char *q = d; d + dsz - q >= 8;) {
				uint32_t pt, psz;
				memcpy(&pt, q, 4);
				memcpy(&psz, q + 4, 4);
				if (psz > (size_t)(d + dsz - q - 8))
					break;
				if (pt == GNU_PROPERTY_X86_ISA_1_NEEDED && psz == 4) {
					uint32_t v;
					memcpy(&v, q + 8, 4);
					bits |= v ? v : ELF_ISA_BASELINE;
				}
				q += 8 + ((psz + 7) & ~7u);
			}
		p = d + ((dsz + 7) & ~7u);
	}
	return bits;
}

/* 0, or -1 when libelf cannot read the file or it has no section headers. */
static int ref_read(void *map, size_t size, struct ref *r)
{
	memset(r, 0, sizeof *r);
	elf_version(EV_CURRENT);
	if (!(r->e = elf_memory(map, size)) || elf_kind(r->e) != ELF_K_ELF)
		return -1;
	GElf_Ehdr eh;
	gelf_getehdr(r->e, &eh);
	/* a relocatable object has no segments: ld.so reads no note of it */
	int x86 = (eh.e_machine == EM_X86_64 || eh.e_machine == EM_386) && eh.e_type != ET_REL;
	Elf_Scn *scn = NULL, *verneed = NULL, *verdef = NULL;
	GElf_Shdr vn_sh = { 0 }, vd_sh = { 0 };
	size_t shstr;
	if (elf_getshdrstrndx(r->e, &shstr) != 0 || !elf_nextscn(r->e, NULL))
		return -1;
	while ((scn = elf_nextscn(r->e, scn)) != NULL) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		const char *sn = elf_strptr(r->e, shstr, sh.sh_name);
		if (sh.sh_type == SHT_DYNAMIC) {
			Elf_Data *d = elf_getdata(scn, NULL);
			for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Dyn dyn;
				if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
					break;
				const char *str = elf_strptr(r->e, sh.sh_link, dyn.d_un.d_val);
				if (dyn.d_tag == DT_NEEDED && r->nneeded < 64)
					r->needed[r->nneeded++] = xstrdup(str);
				else if (dyn.d_tag == DT_SONAME && !r->soname)
					r->soname = xstrdup(str);
				else if (dyn.d_tag == DT_RPATH && !r->rpath)
					r->rpath = xstrdup(str);
				else if (dyn.d_tag == DT_RUNPATH && !r->runpath)
					r->runpath = xstrdup(str);
			}
		} else if (sh.sh_type == SHT_DYNSYM) {
			r->dynsym = scn;
			r->dynsym_sh = sh;
			r->syms = elf_getdata(scn, NULL);
		} else if (sh.sh_type == SHT_GNU_versym) {
			r->versym = elf_getdata(scn, NULL);
		} else if (sh.sh_type == SHT_GNU_verneed) {
			verneed = scn;
			vn_sh = sh;
		} else if (sh.sh_type == SHT_GNU_verdef) {
			verdef = scn;
			vd_sh = sh;
		} else if (sh.sh_type == SHT_NOTE && x86 && sn && !strcmp(sn, ".note.gnu.property")) {
			Elf_Data *d = elf_rawdata(scn, NULL);
			if (d)
				r->isa |= ref_isa(d->d_buf, d->d_size);
		}
	}
	/* version definitions, by index */
	for (size_t i = 0, off = 0; verdef && i < vd_sh.sh_info; i++) {
		Elf_Data *d = elf_getdata(verdef, NULL);
		GElf_Verdef vd;
		GElf_Verdaux va;
		if (!gelf_getverdef(d, (int)off, &vd) || !gelf_getverdaux(d, (int)(off + vd.vd_aux), &va))
			break;
		const char *n = elf_strptr(r->e, vd_sh.sh_link, va.vda_name);
		if ((vd.vd_ndx & 0x7fff) < 1024 && !r->vdnames[vd.vd_ndx & 0x7fff])
			r->vdnames[vd.vd_ndx & 0x7fff] = xstrdup(n);
		if (!(vd.vd_flags & VER_FLG_BASE) && r->nverdefs < 256)
			r->verdefs[r->nverdefs++] = xstrdup(n);
		if (!vd.vd_next)
			break;
		off += vd.vd_next;
	}
	/* version needs; their names by index for the undefined symbols */
	char *vnames[1024] = { NULL }, *vfiles[1024] = { NULL };
	for (size_t i = 0, off = 0; verneed && i < vn_sh.sh_info; i++) {
		Elf_Data *d = elf_getdata(verneed, NULL);
		GElf_Verneed vn;
		if (!gelf_getverneed(d, (int)off, &vn))
			break;
		const char *file = elf_strptr(r->e, vn_sh.sh_link, vn.vn_file);
		for (size_t j = 0, aoff = off + vn.vn_aux; j < vn.vn_cnt; j++) {
			GElf_Vernaux va;
			if (!gelf_getvernaux(d, (int)aoff, &va))
				break;
			const char *vname = elf_strptr(r->e, vn_sh.sh_link, va.vna_name);
			char buf[600];
			snprintf(buf, sizeof buf, "%s %s %d", file, vname, !!(va.vna_flags & VER_FLG_WEAK));
			if (r->nvneeds < 512)
				r->vneeds[r->nvneeds++] = strdup(buf);
			if ((va.vna_other & 0x7fff) < 1024) {
				vnames[va.vna_other & 0x7fff] = (char *)vname;
				vfiles[va.vna_other & 0x7fff] = (char *)file;
			}
			if (!va.vna_next)
				break;
			aoff += va.vna_next;
		}
		if (!vn.vn_next)
			break;
		off += vn.vn_next;
	}
	/* undefined symbols of .dynsym */
	for (size_t i = 1; r->syms && i < r->dynsym_sh.sh_size / r->dynsym_sh.sh_entsize; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(r->syms, (int)i, &sym))
			break;
		int bind = GELF_ST_BIND(sym.st_info);
		const char *n = elf_strptr(r->e, r->dynsym_sh.sh_link, sym.st_name);
		if (sym.st_shndx != SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK) || !n || !*n)
			continue;
		GElf_Versym vs = 0;
		const char *v = NULL, *f = NULL;
		if (r->versym && gelf_getversym(r->versym, (int)i, &vs) && (vs & 0x7fff) >= 2 && (vs & 0x7fff) < 1024) {
			v = vnames[vs & 0x7fff];
			f = vfiles[vs & 0x7fff];
		}
		char buf[1200];
		snprintf(buf, sizeof buf, "%s@%s %s %d", n, v ? v : "", f ? f : "", bind == STB_WEAK);
		if (r->nundefs < 4096)
			r->undefs[r->nundefs++] = strdup(buf);
	}
	return 0;
}

static void ref_free(struct ref *r)
{
	free(r->soname);
	free(r->rpath);
	free(r->runpath);
	for (size_t i = 0; i < r->nneeded; i++)
		free(r->needed[i]);
	for (size_t i = 0; i < r->nverdefs; i++)
		free(r->verdefs[i]);
	for (size_t i = 0; i < r->nvneeds; i++)
		free(r->vneeds[i]);
	for (size_t i = 0; i < r->nundefs; i++)
		free(r->undefs[i]);
	for (size_t i = 0; i < 1024; i++)
		free(r->vdnames[i]);
	if (r->e)
		elf_end(r->e);
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* What compat read agrees with the reference; the first difference into why. */
static int agrees(const struct elf_info *a, const struct ref *r, const char **why)
{
	char buf[1200];
	*why = "soname/rpath/runpath";
	if (!same_str(a->soname, r->soname) || !same_str(a->rpath, r->rpath) || !same_str(a->runpath, r->runpath))
		return 0;
	*why = "needed";
	if (a->nneeded != r->nneeded)
		return 0;
	for (size_t i = 0; i < a->nneeded; i++)
		if (strcmp(a->needed[i], r->needed[i]))
			return 0;
	*why = "isa";
	if (a->isa_needed != r->isa)
		return 0;
	*why = "verdefs";
	if (a->nverdefs != r->nverdefs)
		return 0;
	for (size_t i = 0; i < a->nverdefs; i++)
		if (strcmp(a->verdefs[i], r->verdefs[i]))
			return 0;
	*why = "vneeds";
	size_t k = 0;
	for (size_t i = 0; i < a->nvneeds; i++)
		for (size_t j = 0; j < a->vneeds[i].nversions; j++, k++) {
			snprintf(buf, sizeof buf, "%s %s %d", a->vneeds[i].file, a->vneeds[i].versions[j], a->vneeds[i].weak[j]);
			if (k >= r->nvneeds || strcmp(buf, r->vneeds[k]))
				return 0;
		}
	if (k != r->nvneeds)
		return 0;
	*why = "undefs";
	if (a->nundefs != r->nundefs)
		return 0;
	for (size_t i = 0; i < a->nundefs; i++) {
		const struct elf_undef *u = &a->undefs[i];
		snprintf(buf, sizeof buf, "%s@%s %s %d", u->name, u->version ? u->version : "", u->vfile ? u->vfile : "",
			 u->weak);
		if (strcmp(buf, r->undefs[i]))
			return 0;
	}
	return 1;
}

/* Every defined symbol of the reference is found by a lookup, with its
 * version (hidden ones only with their version), and a name it lacks is
 * not: up to `budget` lookups. Returns the number of failures. */
static size_t lookups_agree(const struct elf_symtab *t, const struct ref *r, size_t *budget)
{
	size_t bad = 0;
	for (size_t i = 1; r->syms && *budget && i < r->dynsym_sh.sh_size / r->dynsym_sh.sh_entsize; i++) {
		GElf_Sym sym;
		GElf_Versym vs = 0;
		if (!gelf_getsym(r->syms, (int)i, &sym))
			break;
		int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
		const char *n = elf_strptr(r->e, r->dynsym_sh.sh_link, sym.st_name);
		if (!n || !*n || sym.st_shndx == SHN_UNDEF || bind == STB_LOCAL || (sym.st_value == 0 && type != STT_TLS) ||
		    (type != STT_NOTYPE && type != STT_OBJECT && type != STT_FUNC && type != STT_TLS &&
		     type != STT_GNU_IFUNC && type != STT_COMMON))
			continue;
		if (r->versym)
			gelf_getversym(r->versym, (int)i, &vs);
		const char *v = (vs & 0x7fff) >= 2 && (vs & 0x7fff) < 1024 ? r->vdnames[vs & 0x7fff] : NULL;
		(*budget)--;
		if (elf_symtab_exports(t, n) != 1 || (v && elf_symtab_defines(t, n, v) != 1) ||
		    (!(vs & 0x8000) && elf_symtab_defines(t, n, NULL) != 1)) {
			if (bad++ < 2)
				printf("#   %s@%s not found\n", n, v ? v : "");
		}
	}
	if (elf_symtab_exports(t, "no_such_symbol_in_any_library_zq") != 0)
		bad++;
	return bad;
}

/* compat's reading (pread for the dynamic part, the mapping for the
 * tables, and from memory) agrees with libelf's reading of the section
 * headers on every ELF file of the system directories (up to 4000) that
 * has them; lookups find every defined symbol of the libraries (up to
 * 200,000 lookups); a file compat refuses, libelf refuses too. */
static void test_reads_agree_with_libelf(void)
{
	static const char *const dirs[] = { "/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/lib/i386-linux-gnu",
					    "/usr/lib32", "/usr/libexec", "/usr/lib/debug/.build-id" };
	size_t files = 0, compared = 0, differ = 0, refused = 0, lookups_bad = 0, budget = 200000;
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
			struct elf_symtab *t = NULL;
			int ra = elf_read_fd(fd, path, 0, &a, NULL);
			int rb = elf_read_fd_symtab(fd, path, ELF_READ_VERSIONS | ELF_READ_UNDEFS, &b, &t, NULL);
			void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
			close(fd);
			int rm = map == MAP_FAILED ? -9 : elf_read_mem(map, (size_t)st.st_size, path, ELF_READ_VERSIONS | ELF_READ_UNDEFS,
								    &m, NULL);
			struct ref r;
			int rr = map == MAP_FAILED ? -1 : ref_read(map, (size_t)st.st_size, &r);
			const char *why = "";
			int same = (ra < 0) == (rb < 0) && (rb < 0) == (rm < 0);
			if (!same)
				why = "refused by one reading only";
			if (ra < 0) {
				refused++;
				if (rr == 0 && r.dynsym)
					same = 0, why = "refused, libelf reads it";
			} else if (same) {
				/* the pread path and the mapping agree on what both read */
				same = a.nneeded == b.nneeded && same_str(a.soname, b.soname) && same_str(a.interp, b.interp) &&
				       a.isa_needed == b.isa_needed && a.flags_1 == b.flags_1 && a.dynamic == b.dynamic &&
				       b.nundefs == m.nundefs && b.nverdefs == m.nverdefs;
				if (!same)
					why = "pread and mapping differ";
				if (same && rr == 0) {
					same = agrees(&b, &r, &why);
					compared++;
					if (same && t && budget)
						lookups_bad += lookups_agree(t, &r, &budget);
				}
			}
			if (!same && differ++ < 5)
				printf("#   %s: %s (pread %d, mapping %d, memory %d, libelf %d)\n", path, why, ra, rb, rm, rr);
			if (rr == 0 || r.e)
				ref_free(&r);
			if (ra == 0)
				elf_info_free(&a);
			if (rb == 0)
				elf_info_free(&b);
			if (rm == 0)
				elf_info_free(&m);
			elf_symtab_close(t);
			if (map != MAP_FAILED)
				munmap(map, (size_t)st.st_size);
		}
		if (dh)
			closedir(dh);
	}
	printf("# %zu ELF files, %zu compared with libelf, %zu refused, %zu differ; %zu lookups, %zu failed\n", files,
	       compared, refused, differ, 200000 - budget, lookups_bad);
	CHECK(compared > 100 && budget < 200000);
	CHECK_INT(differ, 0);
	CHECK_INT(lookups_bad, 0);
}

/* A copy with the section header table gone (what sstrip leaves): read
 * as ld.so reads it, through the dynamic section, with the same needs,
 * versions and undefined symbols; lookups still work. */
static void test_without_section_headers(void)
{
	const char *d = fx_tmpdir();
	const char *files[] = { lib, exe };
	for (size_t f = 0; f < 2; f++) {
		char bare[600];
		snprintf(bare, sizeof bare, "%s/bare%zu", d, f);
		CHECK(fx_sh("cp %s %s && printf '\\0\\0\\0\\0\\0\\0\\0\\0' | dd of=%s bs=1 seek=40 conv=notrunc status=none && "
			    "printf '\\0\\0\\0\\0\\0\\0' | dd of=%s bs=1 seek=58 conv=notrunc status=none",
			    files[f], bare, bare, bare) == 0);
		struct elf_info a, b;
		CHECK_INT(elf_read(files[f], ELF_READ_UNDEFS | ELF_READ_VERSIONS, &a, NULL), 0);
		CHECK_INT(elf_read(bare, ELF_READ_UNDEFS | ELF_READ_VERSIONS, &b, NULL), 0);
		CHECK_INT(b.nneeded, a.nneeded);
		CHECK_INT(b.nverdefs, a.nverdefs);
		CHECK_INT(b.nvneeds, a.nvneeds);
		CHECK_INT(b.nundefs, a.nundefs);
		for (size_t i = 0; i < a.nundefs && i < b.nundefs; i++)
			CHECK_STR(b.undefs[i].name, a.undefs[i].name);
		CHECK(a.nundefs > 0);
		elf_info_free(&a);
		elf_info_free(&b);
		if (f == 0)
			lookups(bare);
	}
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
	RUN(test_reads_agree_with_libelf);
	RUN(test_without_section_headers);
	RUN(test_dynamic_reads_truncated);
	RUN(test_names);
	fx_cleanup();
	return check_summary();
}
