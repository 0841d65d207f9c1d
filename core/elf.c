#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "ldso.h"


#define MAX_VERSION_ENTRIES 4096	/* verneed/verdef entries walked per file */

/* The parts of an open ELF file a reader walks. */
struct elf_handle {
	Elf *e;
	int fd;
	size_t shstrndx;
	Elf_Scn *dynamic, *dynsym, *versym, *verneed, *verdef, *gnu_hash, *hash;
	GElf_Shdr dynamic_sh, dynsym_sh, verneed_sh, verdef_sh;
	Elf_Data *property;	/* .note.gnu.property / PT_GNU_PROPERTY */
	GElf_Phdr interp, dyn_ph;
	int has_interp, has_dynamic;
	GElf_Phdr loads[16];	/* PT_LOAD, to turn addresses into file offsets */
	size_t nloads;
	int sections_done;	/* section headers scanned (handle_sections) */
	uint64_t size;		/* file size: every table must lie inside it */
	void *map;		/* our private mapping of the file, or NULL */
	dev_t dev;
	ino_t ino;
};

struct verdef_map {
	char **names;	/* indexed by vd_ndx; NULL where unused; owned */
	size_t n;
};

struct elf_symtab {
	struct elf_handle h;
	Elf_Data *dynsym, *versym, *gnu_hash, *hash;
	size_t dynsym_link, nsyms;
	struct verdef_map vd;
	void *mem;	/* owned copy for _mem */
	int pending;	/* symbol tables not looked at yet (set up on first lookup) */
};

static void libelf_init(void)
{
	static int done;
	if (!done) {
		elf_version(EV_CURRENT);
		done = 1;
	}
}

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Program headers: what the kernel and ld.so look at. */
static int handle_scan(struct elf_handle *h, const char *name, struct cerr *err)
{
	GElf_Ehdr eh;
	size_t phnum;

	if (elf_kind(h->e) != ELF_K_ELF)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file", name);
	if (!gelf_getehdr(h->e, &eh))
		return cerr_set(err, COMPAT_EINVAL, "%s: bad ELF header: %s", name, elf_errmsg(-1));
	if (elf_getphdrnum(h->e, &phnum) != 0)
		return cerr_set(err, COMPAT_EINVAL, "%s: bad program headers: %s", name, elf_errmsg(-1));
	if (eh.e_phoff > h->size || (uint64_t)phnum * eh.e_phentsize > h->size - eh.e_phoff)
		return cerr_set(err, COMPAT_EINVAL, "%s: truncated (program headers past the end of the file)",
				name);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(h->e, (int)i, &ph))
			return cerr_set(err, COMPAT_EINVAL, "%s: bad program header %zu", name, i);
		if (ph.p_type != PT_NULL && ph.p_filesz &&
		    (ph.p_offset > h->size || ph.p_filesz > h->size - ph.p_offset))
			return cerr_set(err, COMPAT_EINVAL, "%s: truncated (segment %zu past the end of the file)",
					name, i);
		if (ph.p_type == PT_INTERP && !h->has_interp) {
			h->interp = ph;
			h->has_interp = 1;
		} else if (ph.p_type == PT_DYNAMIC && ph.p_filesz > 0 && !h->has_dynamic) {
			/* A PT_DYNAMIC without file bytes (separate .debug
			 * files) is nothing a loader can use. */
			h->dyn_ph = ph;
			h->has_dynamic = 1;
		} else if (ph.p_type == PT_LOAD && h->nloads < sizeof h->loads / sizeof h->loads[0]) {
			h->loads[h->nloads++] = ph;
		} else if (ph.p_type == PT_GNU_PROPERTY && !h->property && ph.p_filesz < (1u << 16)) {
			h->property = elf_getdata_rawchunk(h->e, (int64_t)ph.p_offset, ph.p_filesz,
							   ELF_T_BYTE);
		}
	}
	return 0;
}

/* Section headers: version tables and symbols, read only when asked for. */
static int handle_sections(struct elf_handle *h, const char *name, struct cerr *err)
{
	GElf_Ehdr eh;
	if (h->sections_done)
		return 0;
	h->sections_done = 1;
	gelf_getehdr(h->e, &eh);
	size_t shnum = 0;
	if (eh.e_shoff && (elf_getshdrnum(h->e, &shnum) != 0 || eh.e_shoff > h->size ||
			   (uint64_t)shnum * eh.e_shentsize > h->size - eh.e_shoff))
		return cerr_set(err, COMPAT_EINVAL, "%s: truncated (section headers past the end of the file)",
				name);
	if (elf_getshdrstrndx(h->e, &h->shstrndx) != 0)
		h->shstrndx = 0;
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(h->e, scn)) != NULL) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			return cerr_set(err, COMPAT_EINVAL, "%s: bad section header", name);
		if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > h->size || sh.sh_size > h->size - sh.sh_offset))
			return cerr_set(err, COMPAT_EINVAL, "%s: truncated (section %zu past the end of the file)",
					name, elf_ndxscn(scn));
		switch (sh.sh_type) {
		case SHT_DYNAMIC:
			if (!h->dynamic) {
				h->dynamic = scn;
				h->dynamic_sh = sh;
			}
			break;
		case SHT_DYNSYM:
			if (!h->dynsym) {
				h->dynsym = scn;
				h->dynsym_sh = sh;
			}
			break;
		case SHT_GNU_versym: h->versym = h->versym ? h->versym : scn; break;
		case SHT_GNU_verneed:
			if (!h->verneed) {
				h->verneed = scn;
				h->verneed_sh = sh;
			}
			break;
		case SHT_GNU_verdef:
			if (!h->verdef) {
				h->verdef = scn;
				h->verdef_sh = sh;
			}
			break;
		case SHT_GNU_HASH: h->gnu_hash = h->gnu_hash ? h->gnu_hash : scn; break;
		case SHT_HASH: h->hash = h->hash ? h->hash : scn; break;
		case SHT_NOTE:
			if (!h->property && h->shstrndx) {
				const char *sn = elf_strptr(h->e, h->shstrndx, sh.sh_name);
				if (sn && strcmp(sn, ".note.gnu.property") == 0)
					h->property = elf_rawdata(scn, NULL);
			}
			break;
		}
	}
	if (h->has_dynamic && !h->dynamic)
		return cerr_set(err, COMPAT_EINVAL,
				"%s: dynamic object without section headers (stripped with sstrip?)", name);
	return 0;
}

/* The checks every open file passes first: a regular file, of a size
 * libelf and we handle. Sets h's fd, size and identity. */
static int handle_stat(struct elf_handle *h, int fd, const char *name, struct cerr *err)
{
	struct stat st;
	memset(h, 0, sizeof *h);
	h->fd = fd;
	if (fstat(fd, &st) < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", name);
	if (!S_ISREG(st.st_mode))
		return cerr_set(err, COMPAT_EINVAL, "%s: not a regular file", name);
	if ((unsigned long long)st.st_size > ELF_MAX_FILE_BYTES)
		return cerr_set(err, COMPAT_EINVAL, "%s: larger than 4 GiB", name);
	if (st.st_size < EI_NIDENT)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file (too short)", name);
	h->size = (uint64_t)st.st_size;
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	return 0;
}

/* Our own mapping of the file: one mmap and no further system calls
 * (elf_begin would fstat and fcntl again). Private: should libelf convert
 * anything in place, the file never changes. Pages are read when touched. */
static int handle_map(struct elf_handle *h, int fd, const char *name, struct cerr *err)
{
	h->map = mmap(NULL, (size_t)h->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (h->map == MAP_FAILED) {
		h->map = NULL;
		return cerr_sys(err, COMPAT_EIO, "%s", name);
	}
	return 0;
}

/* libelf over the mapping, and the program headers. */
static int handle_attach(struct elf_handle *h, const char *name, struct cerr *err)
{
	libelf_init();
	h->e = elf_memory(h->map, (size_t)h->size);
	if (!h->e)
		return cerr_set(err, COMPAT_EINVAL, "%s: %s", name, elf_errmsg(-1));
	return handle_scan(h, name, err);
}

static int handle_open_fd(struct elf_handle *h, int fd, const char *name, struct cerr *err)
{
	int rc = handle_stat(h, fd, name, err);
	if (rc == 0)
		rc = handle_map(h, fd, name, err);
	return rc < 0 ? rc : handle_attach(h, name, err);
}

static int handle_open_mem(struct elf_handle *h, void *buf, size_t len, const char *name,
			   struct cerr *err)
{
	memset(h, 0, sizeof *h);
	h->fd = -1;
	h->size = len;
	libelf_init();
	h->e = elf_memory(buf, len);
	if (!h->e)
		return cerr_set(err, COMPAT_EINVAL, "%s: %s", name, elf_errmsg(-1));
	return handle_scan(h, name, err);
}

static void handle_close(struct elf_handle *h)
{
	if (h->e)
		elf_end(h->e);
	if (h->map)
		munmap(h->map, (size_t)h->size);
	if (h->fd >= 0)
		close(h->fd);
	h->e = NULL;
	h->map = NULL;
	h->fd = -1;
}

/* arr (holding n elements of size sz) with room for one more: it doubles
 * when n is 0 or a power of two, so that reading a table of n entries
 * costs log n reallocations, not n. NULL when out of memory (arr is then
 * unchanged). */
static void *grow(void *arr, size_t n, size_t sz)
{
	return n & (n - 1) ? arr : realloc(arr, (n ? n * 2 : 1) * sz);
}

static int push_str(char ***arr, size_t *n, const char *s)
{
	char **na = grow(*arr, *n, sizeof **arr);
	if (!na)
		return COMPAT_ENOMEM;
	*arr = na;
	if (!(na[*n] = strdup(s)))
		return COMPAT_ENOMEM;
	(*n)++;
	return 0;
}

/* Parse GNU property notes (len bytes at p) for the x86 ISA level a
 * program needs. */
static uint32_t read_isa_needed(const unsigned char *p, size_t len, int elf_class)
{
	if (!p)
		return 0;
	const unsigned char *end = p + len;
	size_t align = elf_class == ELFCLASS64 ? 8 : 4;
	uint32_t bits = 0;
	while (end - p >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, p, 4);
		memcpy(&descsz, p + 4, 4);
		memcpy(&type, p + 8, 4);
		p += 12;
		size_t nlen = (namesz + 3u) & ~3u;
		if (namesz > (size_t)(end - p) || nlen > (size_t)(end - p))
			break;
		const unsigned char *desc = p + nlen;
		if (descsz > (size_t)(end - desc))
			break;
		if (type == NT_GNU_PROPERTY_TYPE_0 && namesz == 4 && memcmp(p, "GNU", 4) == 0) {
			const unsigned char *q = desc, *qend = desc + descsz;
			while (qend - q >= 8) {
				uint32_t pt, psz;
				memcpy(&pt, q, 4);
				memcpy(&psz, q + 4, 4);
				q += 8;
				if (psz > (size_t)(qend - q))
					break;
				if (pt == GNU_PROPERTY_X86_ISA_1_NEEDED && psz == 4) {
					uint32_t v;
					memcpy(&v, q, 4);
					bits |= v ? v : ELF_ISA_BASELINE;
				}
				size_t adv = (psz + align - 1) & ~(align - 1);
				if (adv > (size_t)(qend - q))
					break;
				q += adv;
			}
		}
		size_t dadv = (descsz + align - 1) & ~(align - 1);
		if (dadv > (size_t)(end - desc))
			break;
		p = desc + dadv;
	}
	return bits;
}

/* File offset of a virtual address, through the PT_LOAD segments;
 * *avail is how many file bytes follow it in that segment. */
static int addr_to_offset(const struct elf_handle *h, uint64_t addr, uint64_t *off, uint64_t *avail)
{
	for (size_t i = 0; i < h->nloads; i++) {
		const GElf_Phdr *p = &h->loads[i];
		if (addr >= p->p_vaddr && addr - p->p_vaddr < p->p_filesz) {
			*off = p->p_offset + (addr - p->p_vaddr);
			*avail = p->p_filesz - (addr - p->p_vaddr);
			return 0;
		}
	}
	return -1;
}

/* The dynamic section as ld.so reads it: PT_DYNAMIC, and strings from
 * DT_STRTAB/DT_STRSZ located through the PT_LOAD segments. */
static int read_dynamic(struct elf_handle *h, struct elf_info *info, const char *name,
			struct cerr *err)
{
	Elf_Data *d = elf_getdata_rawchunk(h->e, (int64_t)h->dyn_ph.p_offset, h->dyn_ph.p_filesz, ELF_T_DYN);
	size_t esz = gelf_fsize(h->e, ELF_T_DYN, 1, EV_CURRENT);
	if (!d || !esz)
		return cerr_set(err, COMPAT_EINVAL, "%s: unreadable PT_DYNAMIC: %s", name, elf_errmsg(-1));
	size_t n = d->d_size / esz;
	uint64_t straddr = 0, strsz = 0;
	int have_str = 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;
		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_STRTAB) {
			straddr = dyn.d_un.d_ptr;
			have_str = 1;
		} else if (dyn.d_tag == DT_STRSZ) {
			strsz = dyn.d_un.d_val;
		} else if (dyn.d_tag == DT_FLAGS_1) {
			info->flags_1 = dyn.d_un.d_val;
		}
	}
	const char *strtab = NULL;
	uint64_t off, avail;
	if (have_str && addr_to_offset(h, straddr, &off, &avail) == 0) {
		if (strsz > avail)
			strsz = avail;
		Elf_Data *sd = strsz ? elf_getdata_rawchunk(h->e, (int64_t)off, strsz, ELF_T_BYTE) : NULL;
		strtab = sd ? sd->d_buf : NULL;
	}
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;
		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME && dyn.d_tag != DT_RPATH &&
		    dyn.d_tag != DT_RUNPATH)
			continue;
		uint64_t so = dyn.d_un.d_val;
		if (!strtab || so >= strsz || !memchr(strtab + so, '\0', strsz - so))
			return cerr_set(err, COMPAT_EINVAL,
					"%s: dynamic entry %zu: string offset out of range", name, i);
		const char *str = strtab + so;
		int rc = 0;
		switch (dyn.d_tag) {
		case DT_NEEDED: rc = push_str(&info->needed, &info->nneeded, str); break;
		case DT_SONAME: if (!info->soname && !(info->soname = strdup(str))) rc = COMPAT_ENOMEM; break;
		case DT_RPATH: if (!info->rpath && !(info->rpath = strdup(str))) rc = COMPAT_ENOMEM; break;
		case DT_RUNPATH: if (!info->runpath && !(info->runpath = strdup(str))) rc = COMPAT_ENOMEM; break;
		}
		if (rc < 0)
			return cerr_set(err, rc, "%s: out of memory", name);
	}
	return 0;
}

/* Version needs: vn_file -> [vna_name]; also a table from vna_other index
 * to (name, file) for the undefined-symbol pass. */
struct vneed_index {
	uint16_t idx;
	const char *name, *file;	/* borrowed from info->vneeds */
};

static int read_verneed(struct elf_handle *h, struct elf_info *info, const char *name,
			struct vneed_index **vix, size_t *nvix, struct cerr *err)
{
	Elf_Data *d = elf_getdata(h->verneed, NULL);
	size_t link = h->verneed_sh.sh_link, off = 0, walked = 0;
	if (!d)
		return cerr_set(err, COMPAT_EINVAL, "%s: unreadable .gnu.version_r", name);
	for (size_t i = 0; i < h->verneed_sh.sh_info; i++) {
		GElf_Verneed vn;
		if (!gelf_getverneed(d, (int)off, &vn))
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version need at %zu", name, off);
		const char *file = elf_strptr(h->e, link, vn.vn_file);
		if (!file)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version need file name", name);
		struct elf_vneed *nv = grow(info->vneeds, info->nvneeds, sizeof *nv);
		if (!nv)
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		info->vneeds = nv;
		struct elf_vneed *v = &nv[info->nvneeds++];
		memset(v, 0, sizeof *v);
		if (!(v->file = strdup(file)))
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		size_t aoff = off + vn.vn_aux;
		for (size_t j = 0; j < vn.vn_cnt; j++) {
			GElf_Vernaux va;
			if (++walked > MAX_VERSION_ENTRIES || !gelf_getvernaux(d, (int)aoff, &va))
				return cerr_set(err, COMPAT_EINVAL, "%s: bad version need entry", name);
			const char *vname = elf_strptr(h->e, link, va.vna_name);
			if (!vname)
				return cerr_set(err, COMPAT_EINVAL, "%s: bad version name", name);
			uint8_t *nw = grow(v->weak, v->nversions, 1);
			if (!nw)
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			v->weak = nw;
			nw[v->nversions] = (va.vna_flags & VER_FLG_WEAK) != 0;
			if (push_str(&v->versions, &v->nversions, vname) < 0)
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			struct vneed_index *nx = grow(*vix, *nvix, sizeof *nx);
			if (!nx)
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			*vix = nx;
			nx[*nvix].idx = va.vna_other & 0x7fff;
			nx[*nvix].name = v->versions[v->nversions - 1];
			nx[*nvix].file = v->file;
			(*nvix)++;
			if (!va.vna_next)
				break;
			aoff += va.vna_next;
		}
		if (!vn.vn_next || ++walked > MAX_VERSION_ENTRIES)
			break;
		off += vn.vn_next;
	}
	return 0;
}

/* Version definitions: fills map (index -> name) and, when info is given,
 * info->verdefs (names except the base entry). */
static int read_verdef(struct elf_handle *h, struct verdef_map *map, struct elf_info *info,
		       const char *name, struct cerr *err)
{
	Elf_Data *d = elf_getdata(h->verdef, NULL);
	size_t link = h->verdef_sh.sh_link, off = 0;
	if (!d)
		return cerr_set(err, COMPAT_EINVAL, "%s: unreadable .gnu.version_d", name);
	for (size_t i = 0; i < h->verdef_sh.sh_info && i < MAX_VERSION_ENTRIES; i++) {
		GElf_Verdef vd;
		GElf_Verdaux va;
		if (!gelf_getverdef(d, (int)off, &vd) || !gelf_getverdaux(d, (int)(off + vd.vd_aux), &va))
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version definition at %zu", name, off);
		const char *vname = elf_strptr(h->e, link, va.vda_name);
		if (!vname)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version definition name", name);
		size_t ndx = vd.vd_ndx & 0x7fff;
		if (map) {
			if (ndx >= map->n) {
				char **nn = realloc(map->names, (ndx + 1) * sizeof *nn);
				if (!nn)
					return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
				memset(nn + map->n, 0, (ndx + 1 - map->n) * sizeof *nn);
				map->names = nn;
				map->n = ndx + 1;
			}
			if (!map->names[ndx] && !(map->names[ndx] = strdup(vname)))
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		}
		if (info && !(vd.vd_flags & VER_FLG_BASE) &&
		    push_str(&info->verdefs, &info->nverdefs, vname) < 0)
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		if (!vd.vd_next)
			break;
		off += vd.vd_next;
	}
	return 0;
}

static int read_undefs(struct elf_handle *h, struct elf_info *info, const struct vneed_index *vix,
		       size_t nvix, const char *name, struct cerr *err)
{
	Elf_Data *syms = elf_getdata(h->dynsym, NULL);
	Elf_Data *vers = h->versym ? elf_getdata(h->versym, NULL) : NULL;
	size_t esz = gelf_fsize(h->e, ELF_T_SYM, 1, EV_CURRENT);
	if (!syms || !esz)
		return cerr_set(err, COMPAT_EINVAL, "%s: unreadable .dynsym", name);
	size_t n = syms->d_size / esz;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		if (!gelf_getsym(syms, (int)i, &sym))
			break;
		int bind = GELF_ST_BIND(sym.st_info);
		if (sym.st_shndx != SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK))
			continue;
		const char *sname = elf_strptr(h->e, h->dynsym_sh.sh_link, sym.st_name);
		if (!sname)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad symbol name at %zu", name, i);
		if (!*sname)
			continue;
		const char *ver = NULL, *file = NULL;
		GElf_Versym vs;
		if (vers && gelf_getversym(vers, (int)i, &vs) && (vs & 0x7fff) >= 2) {
			for (size_t k = 0; k < nvix; k++)
				if (vix[k].idx == (vs & 0x7fff)) {
					ver = vix[k].name;
					file = vix[k].file;
					break;
				}
		}
		struct elf_undef *nu = grow(info->undefs, info->nundefs, sizeof *nu);
		if (!nu)
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		info->undefs = nu;
		struct elf_undef *u = &nu[info->nundefs++];
		u->name = strdup(sname);
		u->version = dupstr(ver);
		u->vfile = dupstr(file);
		u->weak = bind == STB_WEAK;
		if (!u->name || (ver && !u->version) || (file && !u->vfile))
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	}
	return 0;
}

static int info_fill(struct elf_handle *h, unsigned flags, struct elf_info *info, const char *name,
		     struct cerr *err)
{
	GElf_Ehdr eh;
	struct vneed_index *vix = NULL;
	size_t nvix = 0;
	int rc = 0;

	gelf_getehdr(h->e, &eh);
	info->elf_class = eh.e_ident[EI_CLASS];
	info->osabi = eh.e_ident[EI_OSABI];
	info->machine = eh.e_machine;
	info->type = eh.e_type;
	info->dynamic = h->has_dynamic;
	if (h->has_interp) {
		Elf_Data *d = h->interp.p_filesz < 4096
			? elf_getdata_rawchunk(h->e, (int64_t)h->interp.p_offset, h->interp.p_filesz, ELF_T_BYTE)
			: NULL;
		if (!d || !d->d_size || !memchr(d->d_buf, '\0', d->d_size)) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: bad PT_INTERP", name);
			goto out;
		}
		if (!(info->interp = strdup(d->d_buf))) {
			rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			goto out;
		}
	}
	if (h->has_dynamic && (rc = read_dynamic(h, info, name, err)) < 0)
		goto out;
	/* Version tables and symbols need the section headers. */
	if ((flags & (ELF_READ_UNDEFS | ELF_READ_VERSIONS)) && (rc = handle_sections(h, name, err)) < 0)
		goto out;
	if (info->machine == EM_X86_64 || info->machine == EM_386)
		info->isa_needed = h->property ? read_isa_needed(h->property->d_buf, h->property->d_size, info->elf_class)
					       : 0;
	if ((flags & (ELF_READ_UNDEFS | ELF_READ_VERSIONS)) && h->verneed &&
	    (rc = read_verneed(h, info, name, &vix, &nvix, err)) < 0)
		goto out;
	if ((flags & ELF_READ_VERSIONS) && h->verdef && (rc = read_verdef(h, NULL, info, name, err)) < 0)
		goto out;
	if ((flags & ELF_READ_UNDEFS) && h->dynsym &&
	    (rc = read_undefs(h, info, vix, nvix, name, err)) < 0)
		goto out;
out:
	free(vix);
	if (rc < 0)
		elf_info_free(info);
	return rc;
}

/* ---- the dynamic information as ld.so reads it, without libelf ----
 *
 * What a caller that needs no section wants (gen --list, a library's
 * DT_NEEDED, SONAME, RPATH, RUNPATH, PT_INTERP, the ISA property) is what
 * ld.so reads: the ELF header and program headers, PT_INTERP, PT_DYNAMIC
 * and the strings it names, PT_GNU_PROPERTY. They are read here with pread
 * into small buffers (or from memory): no mapping, no page of the file
 * touched beyond them, no libelf descriptor and its per-section tables.
 * The checks and answers are those of the libelf path (handle_scan,
 * read_dynamic, info_fill); test_elf compares both on the machine's files. */

#define DYN_CHUNK 256	/* dynamic entries read at a time */
#define HEAD_BYTES 1024	/* read first: the headers, and PT_INTERP and the
			 * property note of most files (ld.so reads 832) */
#define STR_WINDOW 512	/* dynamic strings read at a time */

struct src {
	int fd;				/* pread from it, or (fd < 0) */
	const unsigned char *mem;	/* copy from here */
	uint64_t size;
	int big, is64;			/* the file's byte order and class */
	unsigned char head[HEAD_BYTES];	/* the file's first bytes, */
	size_t nhead;			/* this many */
	unsigned char win[STR_WINDOW];	/* the strings read last: nwin bytes at win_off */
	uint64_t win_off;
	size_t nwin;
};

/* len bytes at off: 0; COMPAT_EINVAL past the end; COMPAT_EIO. */
static int src_read(const struct src *s, uint64_t off, void *buf, size_t len)
{
	if (off > s->size || len > s->size - off)
		return COMPAT_EINVAL;
	if (s->fd < 0 || (off < s->nhead && len <= s->nhead - off)) {
		memcpy(buf, s->fd < 0 ? s->mem + off : s->head + off, len);
		return 0;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = pread(s->fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return COMPAT_EIO;	/* or the file shrank meanwhile */
		done += (size_t)n;
	}
	return 0;
}

static uint16_t get16(const struct src *s, const unsigned char *p)
{
	return s->big ? (uint16_t)(p[0] << 8 | p[1]) : (uint16_t)(p[1] << 8 | p[0]);
}

static uint32_t get32(const struct src *s, const unsigned char *p)
{
	return s->big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
		      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static uint64_t get64(const struct src *s, const unsigned char *p)
{
	return s->big ? (uint64_t)get32(s, p) << 32 | get32(s, p + 4) : (uint64_t)get32(s, p + 4) << 32 | get32(s, p);
}

/* An address-sized field (Elf32_Addr/Off/Word or their 64-bit forms). */
static uint64_t get_word(const struct src *s, const unsigned char *p)
{
	return s->is64 ? get64(s, p) : get32(s, p);
}

/* The NUL-terminated string at offset so of a string table of strsz bytes
 * at file offset base, malloc'd into *out. COMPAT_EINVAL when it does not
 * end inside the table, COMPAT_EIO, COMPAT_ENOMEM. */
static int src_string(struct src *s, uint64_t base, uint64_t strsz, uint64_t so, char **out)
{
	char buf[256], *big = NULL;
	size_t have = 0, cap = sizeof buf;
	char *p = buf;
	int rc = 0;
	*out = NULL;
	if (so >= strsz)
		return COMPAT_EINVAL;
	/* The strings of DT_NEEDED and DT_SONAME lie near each other: one
	 * read of STR_WINDOW bytes usually serves them all. */
	uint64_t at = base + so, avail = strsz - so;
	if (s->fd >= 0 && !(at >= s->win_off && at - s->win_off < s->nwin)) {
		size_t n = avail < sizeof s->win ? (size_t)avail : sizeof s->win;
		s->nwin = 0;
		if (src_read(s, at, s->win, n) == 0) {
			s->win_off = at;
			s->nwin = n;
		}
	}
	if (s->fd >= 0 && at >= s->win_off && at - s->win_off < s->nwin) {
		const char *w = (const char *)s->win + (at - s->win_off);
		size_t left = s->nwin - (size_t)(at - s->win_off);
		if (left > avail)
			left = (size_t)avail;
		if (memchr(w, '\0', left))
			return (*out = strdup(w)) ? 0 : COMPAT_ENOMEM;
	}
	for (;;) {
		size_t want = cap - have;
		if (want > strsz - so - have)
			want = (size_t)(strsz - so - have);
		if ((rc = src_read(s, base + so + have, p + have, want)) < 0)
			break;
		char *nul = memchr(p + have, '\0', want);
		have += want;
		if (nul) {
			rc = (*out = strdup(p)) ? 0 : COMPAT_ENOMEM;
			break;
		}
		if (have == strsz - so) {
			rc = COMPAT_EINVAL;	/* runs off the end of the table */
			break;
		}
		char *nb = realloc(big, cap * 2);
		if (!nb) {
			rc = COMPAT_ENOMEM;
			break;
		}
		if (!big)
			memcpy(nb, buf, have);
		big = p = nb;
		cap *= 2;
	}
	free(big);
	return rc;
}

struct dyn_phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz;
};

static void phdr_at(const struct src *s, const unsigned char *p, struct dyn_phdr *ph)
{
	ph->type = get32(s, p);
	ph->offset = get_word(s, p + (s->is64 ? 8 : 4));
	ph->vaddr = get_word(s, p + (s->is64 ? 16 : 8));
	ph->filesz = get_word(s, p + (s->is64 ? 32 : 16));
}

/* The dynamic entries of PT_DYNAMIC, DYN_CHUNK at a time: calls fn for
 * each until DT_NULL or fn returns non-zero (returned). */
static int dyn_each(const struct src *s, const struct dyn_phdr *dyn, unsigned char *buf, int *buffered,
		    int (*fn)(void *ctx, size_t i, int64_t tag, uint64_t val), void *ctx)
{
	size_t esz = s->is64 ? 16 : 8, n = (size_t)(dyn->filesz / esz);
	for (size_t i = 0; i < n; i += DYN_CHUNK) {
		size_t k = n - i < DYN_CHUNK ? n - i : DYN_CHUNK;
		/* a section of one chunk (every real one) is read once for both passes */
		int rc = *buffered && n <= DYN_CHUNK ? 0 : src_read(s, dyn->offset + i * esz, buf, k * esz);
		if (rc < 0)
			return rc;
		*buffered = n <= DYN_CHUNK;
		for (size_t j = 0; j < k; j++) {
			const unsigned char *e = buf + j * esz;
			int64_t tag = s->is64 ? (int64_t)get64(s, e) : (int32_t)get32(s, e);
			if (tag == DT_NULL)
				return 1;
			if ((rc = fn(ctx, i + j, tag, get_word(s, e + esz / 2))) != 0)
				return rc;
		}
	}
	return 0;
}

struct dyn_scan {
	struct src *s;
	struct elf_info *info;
	uint64_t straddr, strsz, stroff;
	int have_str;
	const char *name;
	struct cerr *err;
};

static int dyn_first_pass(void *ctx, size_t i, int64_t tag, uint64_t val)
{
	struct dyn_scan *d = ctx;
	(void)i;
	if (tag == DT_STRTAB) {
		d->straddr = val;
		d->have_str = 1;
	} else if (tag == DT_STRSZ) {
		d->strsz = val;
	} else if (tag == DT_FLAGS_1) {
		d->info->flags_1 = val;
	}
	return 0;
}

static int dyn_strings_pass(void *ctx, size_t i, int64_t tag, uint64_t val)
{
	struct dyn_scan *d = ctx;
	struct elf_info *info = d->info;
	if (tag != DT_NEEDED && tag != DT_SONAME && tag != DT_RPATH && tag != DT_RUNPATH)
		return 0;
	char *str = NULL;
	int rc = d->strsz ? src_string(d->s, d->stroff, d->strsz, val, &str) : COMPAT_EINVAL;
	if (rc == COMPAT_EINVAL)
		return cerr_set(d->err, rc, "%s: dynamic entry %zu: string offset out of range", d->name, i);
	if (rc < 0)
		return rc == COMPAT_EIO ? cerr_sys(d->err, rc, "%s", d->name) : cerr_set(d->err, rc, "%s: out of memory", d->name);
	char **slot = tag == DT_SONAME ? &info->soname : tag == DT_RPATH ? &info->rpath
		    : tag == DT_RUNPATH ? &info->runpath : NULL;
	if (slot) {
		if (!*slot)
			*slot = str;
		else
			free(str);
		return 0;
	}
	char **nv = grow(info->needed, info->nneeded, sizeof *nv);
	if (!nv) {
		free(str);
		return cerr_set(d->err, COMPAT_ENOMEM, "%s: out of memory", d->name);
	}
	info->needed = nv;
	nv[info->nneeded++] = str;
	return 0;
}

/* info_fill without sections, from s. */
static int dyn_read(struct src *s, const char *name, struct elf_info *info, struct cerr *err)
{
	unsigned char eh[64], pbuf[4096], *ph = pbuf, dbuf[DYN_CHUNK * 16];
	int dyn_buffered = 0;
	struct dyn_phdr interp = { 0 }, dyn = { 0 }, prop = { 0 }, loads[16];
	int has_interp = 0, has_dynamic = 0, has_prop = 0, rc;
	size_t nloads = 0;

	size_t ehsize = s->size < sizeof eh ? (size_t)s->size : sizeof eh;
	if (s->fd >= 0) {
		/* the headers and the first strings and notes, in one read */
		size_t n = s->size < sizeof s->head ? (size_t)s->size : sizeof s->head;
		if ((rc = src_read(s, 0, s->head, n)) == 0)
			s->nhead = n;
	}
	if ((rc = src_read(s, 0, eh, ehsize)) < 0)
		return rc == COMPAT_EIO ? cerr_sys(err, rc, "%s", name) : cerr_set(err, rc, "%s: not an ELF file", name);
	if (memcmp(eh, ELFMAG, SELFMAG) != 0 || (eh[EI_CLASS] != ELFCLASS32 && eh[EI_CLASS] != ELFCLASS64) ||
	    (eh[EI_DATA] != ELFDATA2LSB && eh[EI_DATA] != ELFDATA2MSB) || eh[EI_VERSION] != EV_CURRENT)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file", name);
	s->is64 = eh[EI_CLASS] == ELFCLASS64;
	s->big = eh[EI_DATA] == ELFDATA2MSB;
	size_t need = s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if (ehsize < need)
		return cerr_set(err, COMPAT_EINVAL, "%s: bad ELF header: truncated", name);
	uint64_t phoff = get_word(s, eh + (s->is64 ? 32 : 28)), shoff = get_word(s, eh + (s->is64 ? 40 : 32));
	size_t phentsize = get16(s, eh + (s->is64 ? 54 : 42)), phnum = get16(s, eh + (s->is64 ? 56 : 44));
	size_t stdsz = s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (phnum == PN_XNUM && shoff) {
		/* the real count is section 0's sh_info */
		unsigned char sh0[4];
		if (src_read(s, shoff + (s->is64 ? 44 : 28), sh0, 4) < 0)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad program headers", name);
		phnum = get32(s, sh0);
	}
	/* as libelf counts them (elf_getphdrnum): none fits, an error; some
	 * do, those */
	if (phnum && (phoff >= s->size || s->size - phoff < stdsz))
		return cerr_set(err, COMPAT_EINVAL, "%s: bad program headers: truncated", name);
	if (phnum > (s->size - phoff) / stdsz)
		phnum = (size_t)((s->size - phoff) / stdsz);
	if (phoff > s->size || (uint64_t)phnum * phentsize > s->size - phoff)
		return cerr_set(err, COMPAT_EINVAL, "%s: truncated (program headers past the end of the file)", name);
	info->elf_class = eh[EI_CLASS];
	info->osabi = eh[EI_OSABI];
	info->type = get16(s, eh + 16);
	info->machine = get16(s, eh + 18);
	if (phnum * stdsz > sizeof pbuf && !(ph = malloc(phnum * stdsz)))
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	if (phnum && (rc = src_read(s, phoff, ph, phnum * stdsz)) < 0) {
		rc = rc == COMPAT_EIO ? cerr_sys(err, rc, "%s", name) : cerr_set(err, rc, "%s: bad program headers", name);
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		struct dyn_phdr p;
		phdr_at(s, ph + i * stdsz, &p);
		if (p.type != PT_NULL && p.filesz && (p.offset > s->size || p.filesz > s->size - p.offset)) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: truncated (segment %zu past the end of the file)", name, i);
			goto out;
		}
		if (p.type == PT_INTERP && !has_interp) {
			interp = p;
			has_interp = 1;
		} else if (p.type == PT_DYNAMIC && p.filesz > 0 && !has_dynamic) {
			dyn = p;
			has_dynamic = 1;
		} else if (p.type == PT_LOAD && nloads < sizeof loads / sizeof loads[0]) {
			loads[nloads++] = p;
		} else if (p.type == PT_GNU_PROPERTY && !has_prop && p.filesz < (1u << 16)) {
			prop = p;
			has_prop = 1;
		}
	}
	info->dynamic = has_dynamic;
	if (has_interp) {
		char ib[4096];
		if (interp.filesz >= sizeof ib || !interp.filesz || src_read(s, interp.offset, ib, (size_t)interp.filesz) < 0 ||
		    !memchr(ib, '\0', (size_t)interp.filesz)) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: bad PT_INTERP", name);
			goto out;
		}
		if (!(info->interp = strdup(ib))) {
			rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			goto out;
		}
	}
	if (has_dynamic) {
		struct dyn_scan d = { .s = s, .info = info, .name = name, .err = err };
		if ((rc = dyn_each(s, &dyn, dbuf, &dyn_buffered, dyn_first_pass, &d)) < 0) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: unreadable PT_DYNAMIC", name);
			goto out;
		}
		d.strsz = d.have_str ? d.strsz : 0;
		int located = 0;
		for (size_t i = 0; d.have_str && i < nloads && !located; i++)
			if (d.straddr >= loads[i].vaddr && d.straddr - loads[i].vaddr < loads[i].filesz) {
				d.stroff = loads[i].offset + (d.straddr - loads[i].vaddr);
				if (d.strsz > loads[i].filesz - (d.straddr - loads[i].vaddr))
					d.strsz = loads[i].filesz - (d.straddr - loads[i].vaddr);
				located = 1;
			}
		if (!located)
			d.strsz = 0;
		if ((rc = dyn_each(s, &dyn, dbuf, &dyn_buffered, dyn_strings_pass, &d)) < 0)
			goto out;
	}
	if (has_prop && (info->machine == EM_X86_64 || info->machine == EM_386)) {
		unsigned char pb[512], *pp = prop.filesz <= sizeof pb ? pb : malloc((size_t)prop.filesz);
		if (pp && src_read(s, prop.offset, pp, (size_t)prop.filesz) == 0)
			info->isa_needed = read_isa_needed(pp, (size_t)prop.filesz, info->elf_class);
		if (pp != pb)
			free(pp);
	}
	rc = 0;
out:
	if (ph != pbuf)
		free(ph);
	if (rc < 0)
		elf_info_free(info);
	return rc;
}

/* Without versions or symbols, no section is needed: read what ld.so reads. */
static int needs_sections(unsigned flags)
{
	return (flags & (ELF_READ_UNDEFS | ELF_READ_VERSIONS)) != 0;
}

static int dyn_read_fd(int fd, const struct elf_handle *h, const char *name, struct elf_info *info,
		       struct cerr *err)
{
	struct src s = { .fd = fd, .size = h->size };
	return dyn_read(&s, name, info, err);
}

int elf_read_fd(int fd, const char *name, unsigned flags, struct elf_info *info, struct cerr *err)
{
	struct elf_handle h;
	memset(info, 0, sizeof *info);
	int rc;
	if (!needs_sections(flags)) {
		rc = handle_stat(&h, fd, name, err);
		return rc < 0 ? rc : dyn_read_fd(fd, &h, name, info, err);
	}
	rc = handle_open_fd(&h, fd, name, err);
	if (rc == 0)
		rc = info_fill(&h, flags, info, name, err);
	h.fd = -1;	/* the caller's */
	handle_close(&h);
	return rc;
}

static int symtab_setup(struct elf_symtab *t, const char *name, struct cerr *err);

int elf_read_fd_symtab(int fd, const char *name, unsigned flags, struct elf_info *info,
		       struct elf_symtab **symtab, struct cerr *err)
{
	memset(info, 0, sizeof *info);
	*symtab = NULL;
	struct elf_symtab *t = calloc(1, sizeof *t);
	if (!t)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	int rc;
	if (!needs_sections(flags)) {
		/* What ld.so reads, read as it reads it; the mapping is made now
		 * (the descriptor is not kept) and looked into, through libelf,
		 * only by the first symbol lookup. */
		rc = handle_stat(&t->h, fd, name, err);
		if (rc == 0)
			rc = dyn_read_fd(fd, &t->h, name, info, err);
		if (rc == 0)
			rc = handle_map(&t->h, fd, name, err);
	} else {
		rc = handle_open_fd(&t->h, fd, name, err);
		if (rc == 0)
			rc = info_fill(&t->h, flags, info, name, err);
	}
	/* Many libraries are never looked into (gen --list): set the symbol
	 * tables up on the first lookup. */
	t->pending = 1;
	/* The whole file is mapped: the descriptor is the caller's again. */
	t->h.fd = -1;
	info->dev = t->h.dev;
	info->ino = t->h.ino;
	if (rc < 0) {
		elf_info_free(info);
		elf_symtab_close(t);
		return rc;
	}
	*symtab = t;
	return 0;
}

/* NT_GNU_ABI_TAG: "GNU\0", then four 32-bit words: OS, major, minor, patch. */
static int abi_tag(struct elf_handle *h, unsigned version[3])
{
	size_t phnum;
	int found = 0;
	if (elf_getphdrnum(h->e, &phnum) != 0)
		return 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(h->e, (int)i, &ph) || ph.p_type != PT_NOTE || !ph.p_filesz ||
		    ph.p_filesz > (1u << 16) || ph.p_offset > h->size || ph.p_filesz > h->size - ph.p_offset)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(h->e, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		size_t off = 0, name_off, desc_off, next;
		GElf_Nhdr nh;
		while (d && off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == NT_GNU_ABI_TAG && nh.n_namesz == 4 && nh.n_descsz >= 16 &&
			    memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0) {
				uint32_t w[4];
				memcpy(w, (const char *)d->d_buf + desc_off, sizeof w);
				GElf_Ehdr eh;
				/* The words are in the file's byte order. */
				if (gelf_getehdr(h->e, &eh) && (eh.e_ident[EI_DATA] == ELFDATA2MSB) !=
								       (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__))
					for (int k = 0; k < 4; k++)
						w[k] = __builtin_bswap32(w[k]);
				if (w[0] == 0 && (!found || w[1] > version[0] ||
						  (w[1] == version[0] && (w[2] > version[1] ||
									  (w[2] == version[1] && w[3] > version[2]))))) {
					version[0] = w[1];
					version[1] = w[2];
					version[2] = w[3];
					found = 1;
				}
			}
			off = next;
		}
	}
	return found;
}

int elf_abi_tag_fd(int fd, const char *name, unsigned version[3], struct cerr *err)
{
	struct elf_handle h;
	int rc = handle_open_fd(&h, fd, name, err);
	if (rc == 0)
		rc = abi_tag(&h, version);
	h.fd = -1;	/* the caller's */
	handle_close(&h);
	return rc;
}

int elf_abi_tag_mem(const void *buf, size_t len, const char *name, unsigned version[3], struct cerr *err)
{
	struct elf_handle h;
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	memcpy(copy, buf, len);
	int rc = handle_open_mem(&h, copy, len, name, err);
	if (rc == 0)
		rc = abi_tag(&h, version);
	handle_close(&h);
	free(copy);
	return rc;
}

/* Open path for reading through the one open helper (no FIFO, no device). */
static int open_path(const char *path, struct cerr *err)
{
	int fd = ldso_open(NULL, path, O_RDONLY);
	if (fd < 0)
		return errno == ENXIO ? cerr_set(err, COMPAT_EINVAL, "%s: not a regular file", path)
				      : cerr_sys(err, COMPAT_EIO, "%s", path);
	return fd;
}

int elf_read(const char *path, unsigned flags, struct elf_info *info, struct cerr *err)
{
	memset(info, 0, sizeof *info);
	int fd = open_path(path, err);
	if (fd < 0)
		return fd;
	int rc = elf_read_fd(fd, path, flags, info, err);
	close(fd);
	return rc;
}

int elf_read_mem(const void *buf, size_t len, const char *name, unsigned flags,
		 struct elf_info *info, struct cerr *err)
{
	struct elf_handle h;
	memset(info, 0, sizeof *info);
	if (!needs_sections(flags)) {
		struct src s = { .fd = -1, .mem = buf, .size = len };
		if (len < EI_NIDENT)
			return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file (too short)", name);
		return dyn_read(&s, name, info, err);
	}
	/* libelf may convert in place: give it a private copy. */
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	memcpy(copy, buf, len);
	int rc = handle_open_mem(&h, copy, len, name, err);
	if (rc == 0)
		rc = info_fill(&h, flags, info, name, err);
	handle_close(&h);
	free(copy);
	return rc;
}

void elf_info_free(struct elf_info *info)
{
	free(info->interp);
	free(info->soname);
	free(info->rpath);
	free(info->runpath);
	for (size_t i = 0; i < info->nneeded; i++)
		free(info->needed[i]);
	free(info->needed);
	for (size_t i = 0; i < info->nvneeds; i++) {
		for (size_t j = 0; j < info->vneeds[i].nversions; j++)
			free(info->vneeds[i].versions[j]);
		free(info->vneeds[i].versions);
		free(info->vneeds[i].weak);
		free(info->vneeds[i].file);
	}
	free(info->vneeds);
	for (size_t i = 0; i < info->nverdefs; i++)
		free(info->verdefs[i]);
	free(info->verdefs);
	for (size_t i = 0; i < info->nundefs; i++) {
		free(info->undefs[i].name);
		free(info->undefs[i].version);
		free(info->undefs[i].vfile);
	}
	free(info->undefs);
	memset(info, 0, sizeof *info);
}

int elf_peek(const char *path, uint8_t *elf_class, uint16_t *machine, uint16_t *type,
	     uint8_t *osabi, struct cerr *err)
{
	int fd = open_path(path, err);
	if (fd < 0)
		return fd;
	int rc = elf_peek_fd(fd, path, elf_class, machine, type, osabi, err);
	close(fd);
	return rc;
}

int elf_peek_fd(int fd, const char *path, uint8_t *elf_class, uint16_t *machine, uint16_t *type,
		uint8_t *osabi, struct cerr *err)
{
	unsigned char hdr[20];
	ssize_t n = pread(fd, hdr, sizeof hdr, 0);
	if (n < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", path);
	if (n < (ssize_t)sizeof hdr || memcmp(hdr, ELFMAG, SELFMAG) != 0)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file", path);
	int big = hdr[EI_DATA] == ELFDATA2MSB;
	*elf_class = hdr[EI_CLASS];
	*osabi = hdr[EI_OSABI];
	*type = big ? (uint16_t)(hdr[16] << 8 | hdr[17]) : (uint16_t)(hdr[17] << 8 | hdr[16]);
	*machine = big ? (uint16_t)(hdr[18] << 8 | hdr[19]) : (uint16_t)(hdr[19] << 8 | hdr[18]);
	return 0;
}

/* ---- symbol lookup ---- */

static int symtab_setup(struct elf_symtab *t, const char *name, struct cerr *err)
{
	struct elf_handle *h = &t->h;
	int rc = h->e ? 0 : handle_attach(h, name, err);
	if (rc == 0)
		rc = handle_sections(h, name, err);
	if (rc < 0)
		return rc;
	if (!h->dynsym)
		return 0;	/* nothing exported */
	t->dynsym = elf_getdata(h->dynsym, NULL);
	t->dynsym_link = h->dynsym_sh.sh_link;
	size_t esz = gelf_fsize(h->e, ELF_T_SYM, 1, EV_CURRENT);
	if (!t->dynsym || !esz)
		return cerr_set(err, COMPAT_EINVAL, "%s: unreadable .dynsym", name);
	t->nsyms = t->dynsym->d_size / esz;
	t->versym = h->versym ? elf_getdata(h->versym, NULL) : NULL;
	t->gnu_hash = h->gnu_hash ? elf_getdata(h->gnu_hash, NULL) : NULL;
	t->hash = h->hash ? elf_getdata(h->hash, NULL) : NULL;
	if (h->verdef)
		return read_verdef(h, &t->vd, NULL, name, err);
	return 0;
}

int elf_symtab_open(const char *path, struct elf_symtab **out, struct cerr *err)
{
	struct elf_symtab *t = calloc(1, sizeof *t);
	if (!t)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", path);
	t->h.fd = -1;
	int fd = open_path(path, err);
	int rc = fd < 0 ? fd : handle_open_fd(&t->h, fd, path, err);
	if (rc == 0)
		rc = symtab_setup(t, path, err);
	if (rc < 0) {
		if (fd >= 0 && t->h.fd < 0)
			close(fd);
		elf_symtab_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

int elf_symtab_open_fd(int fd, const char *name, struct elf_symtab **out, struct cerr *err)
{
	struct elf_symtab *t = calloc(1, sizeof *t);
	if (!t)
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	int rc = handle_open_fd(&t->h, fd, name, err);
	if (rc == 0)
		rc = symtab_setup(t, name, err);
	t->h.fd = -1;	/* the caller's; the mapping does not need it */
	if (rc < 0) {
		elf_symtab_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

int elf_symtab_open_mem(const void *buf, size_t len, struct elf_symtab **out, struct cerr *err)
{
	struct elf_symtab *t = calloc(1, sizeof *t);
	if (!t || !(t->mem = malloc(len ? len : 1))) {
		free(t);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	memcpy(t->mem, buf, len);
	int rc = handle_open_mem(&t->h, t->mem, len, "<memory>", err);
	if (rc == 0)
		rc = symtab_setup(t, "<memory>", err);
	if (rc < 0) {
		elf_symtab_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

void elf_symtab_close(struct elf_symtab *t)
{
	if (!t)
		return;
	handle_close(&t->h);
	for (size_t i = 0; i < t->vd.n; i++)
		free(t->vd.names[i]);
	free(t->vd.names);
	free(t->mem);
	free(t);
}

/* Marks "any version, hidden ones too" for sym_matches. */
static const char any_version[] = "";

/* Does dynsym entry i match name@version as ld.so's check_match would? */
static int sym_matches(const struct elf_symtab *t, size_t i, const char *name, const char *version)
{
	GElf_Sym sym;
	if (i >= t->nsyms || !gelf_getsym(t->dynsym, (int)i, &sym))
		return 0;
	int type = GELF_ST_TYPE(sym.st_info), bind = GELF_ST_BIND(sym.st_info);
	if (sym.st_shndx == SHN_UNDEF || (sym.st_value == 0 && type != STT_TLS))
		return 0;
	if (bind == STB_LOCAL)
		return 0;
	if (type != STT_NOTYPE && type != STT_OBJECT && type != STT_FUNC && type != STT_COMMON &&
	    type != STT_TLS && type != STT_GNU_IFUNC)
		return 0;
	const char *sname = elf_strptr(t->h.e, t->dynsym_link, sym.st_name);
	if (!sname || strcmp(sname, name) != 0)
		return 0;
	GElf_Versym vs;
	if (version == any_version || !t->versym || !gelf_getversym(t->versym, (int)i, &vs))
		return 1;
	size_t ndx = vs & 0x7fff;
	int hidden = (vs & 0x8000) != 0;
	if (!version)
		return !hidden;
	if (ndx < 2)
		return !hidden;
	return ndx < t->vd.n && t->vd.names[ndx] && strcmp(t->vd.names[ndx], version) == 0;
}

static int lookup_gnu(const struct elf_symtab *t, const char *name, const char *version)
{
	const Elf_Data *d = t->gnu_hash;
	const unsigned char *p = d->d_buf;
	size_t size = d->d_size;
	uint32_t hdr[4];
	if (!p || size < sizeof hdr)
		return -1;
	memcpy(hdr, p, sizeof hdr);
	uint32_t nbuckets = hdr[0], symoffset = hdr[1], bloom_size = hdr[2], shift = hdr[3];
	size_t word = gelf_getclass(t->h.e) == ELFCLASS64 ? 8 : 4;
	if (!nbuckets || !bloom_size || (uint64_t)bloom_size * word > size - 16)
		return -1;
	size_t buckets_off = 16 + (size_t)bloom_size * word;
	if ((uint64_t)nbuckets * 4 > size - buckets_off)
		return -1;
	size_t chains_off = buckets_off + (size_t)nbuckets * 4;

	uint32_t h = 5381;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		h = h * 33 + *c;
	unsigned bits = (unsigned)word * 8;
	uint64_t bw;
	size_t bi = (h / bits) % bloom_size;
	if (word == 8) {
		memcpy(&bw, p + 16 + bi * 8, 8);
	} else {
		uint32_t w32;
		memcpy(&w32, p + 16 + bi * 4, 4);
		bw = w32;
	}
	uint64_t mask = (1ull << (h % bits)) | (1ull << ((h >> (shift % 32)) % bits));
	if ((bw & mask) != mask)
		return 0;
	uint32_t idx;
	memcpy(&idx, p + buckets_off + (h % nbuckets) * 4, 4);
	if (idx == 0 || idx < symoffset)
		return 0;
	for (size_t guard = 0; guard < t->nsyms; guard++, idx++) {
		size_t coff = chains_off + (size_t)(idx - symoffset) * 4;
		if (coff + 4 > size || idx >= t->nsyms)
			return 0;
		uint32_t ch;
		memcpy(&ch, p + coff, 4);
		if ((ch | 1) == (h | 1) && sym_matches(t, idx, name, version))
			return 1;
		if (ch & 1)
			return 0;
	}
	return 0;
}

static int lookup_sysv(const struct elf_symtab *t, const char *name, const char *version)
{
	const Elf_Data *d = t->hash;
	const unsigned char *p = d->d_buf;
	size_t size = d->d_size;
	uint32_t nbucket, nchain;
	if (!p || size < 8)
		return -1;
	memcpy(&nbucket, p, 4);
	memcpy(&nchain, p + 4, 4);
	if (!nbucket || (uint64_t)nbucket + nchain > (size - 8) / 4)
		return -1;
	uint32_t h = 0, g;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		h = (h << 4) + *c;
		g = h & 0xf0000000u;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	uint32_t idx;
	memcpy(&idx, p + 8 + (h % nbucket) * 4, 4);
	for (size_t guard = 0; idx != 0 && idx < nchain && guard < nchain; guard++) {
		if (sym_matches(t, idx, name, version))
			return 1;
		memcpy(&idx, p + 8 + ((size_t)nbucket + idx) * 4, 4);
	}
	return 0;
}

int elf_symtab_defines(const struct elf_symtab *t, const char *name, const char *version)
{
	if (t->pending) {
		struct elf_symtab *m = (struct elf_symtab *)t;	/* opaque: set up once */
		m->pending = 0;
		if (symtab_setup(m, "symtab", NULL) < 0)
			m->dynsym = NULL;
	}
	if (!t->dynsym)
		return 0;
	int r = t->gnu_hash ? lookup_gnu(t, name, version) : -1;
	if (r < 0 && t->hash)
		r = lookup_sysv(t, name, version);
	if (r < 0) {	/* no usable hash table: linear scan */
		for (size_t i = 1; i < t->nsyms; i++)
			if (sym_matches(t, i, name, version))
				return 1;
		return 0;
	}
	return r;
}

int elf_symtab_exports(const struct elf_symtab *t, const char *name)
{
	return elf_symtab_defines(t, name, any_version);
}

/* ---- names ---- */

struct name_entry {
	int v;
	const char *name;
};

static const struct name_entry machines[] = {
	{ EM_386, "i386" }, { EM_X86_64, "x86_64" }, { EM_AARCH64, "aarch64" },
	{ EM_ARM, "arm" }, { EM_PPC64, "ppc64" }, { EM_PPC, "ppc" }, { EM_S390, "s390" },
	{ EM_RISCV, "riscv" }, { EM_MIPS, "mips" }, { EM_SPARCV9, "sparcv9" },
	{ EM_LOONGARCH, "loongarch" }, { 0, NULL },
};
static const struct name_entry osabis[] = {
	{ ELFOSABI_SYSV, "SYSV" }, { ELFOSABI_GNU, "GNU" }, { ELFOSABI_FREEBSD, "FreeBSD" },
	{ ELFOSABI_GNU, "Linux" }, { 0, NULL },
};

/* Name of v in the table, or "PREFIX<v>" written into buf. */
static const char *name_of(const struct name_entry *t, int v, const char *prefix, char *buf, size_t len)
{
	for (; t->name; t++)
		if (t->v == v)
			return t->name;
	snprintf(buf, len, "%s%d", prefix, v);
	return buf;
}

/* Value named name in the table, or parsed from "PREFIX<v>"; -1 if neither. */
static int value_of(const struct name_entry *t, const char *name, const char *prefix)
{
	for (; t->name; t++)
		if (strcmp(t->name, name) == 0)
			return t->v;
	size_t pl = strlen(prefix);
	if (strncmp(name, prefix, pl) == 0 && name[pl] >= '0' && name[pl] <= '9')
		return (int)strtol(name + pl, NULL, 10);
	return -1;
}

const char *elf_class_name(int elf_class)
{
	return elf_class == ELFCLASS64 ? "ELF64" : elf_class == ELFCLASS32 ? "ELF32" : "ELFNONE";
}

int elf_class_from_name(const char *name)
{
	return strcmp(name, "ELF64") == 0 ? ELFCLASS64 : strcmp(name, "ELF32") == 0 ? ELFCLASS32 : -1;
}

const char *elf_machine_name(int machine, char *buf, size_t len)
{
	return name_of(machines, machine, "EM_", buf, len);
}

int elf_machine_from_name(const char *name)
{
	return value_of(machines, name, "EM_");
}

const char *elf_osabi_name(int osabi, char *buf, size_t len)
{
	return name_of(osabis, osabi, "OSABI_", buf, len);
}

int elf_osabi_from_name(const char *name)
{
	return value_of(osabis, name, "OSABI_");
}

int elf_isa_level(uint32_t isa)
{
	return isa & ELF_ISA_V4 ? 4 : isa & ELF_ISA_V3 ? 3 : isa & ELF_ISA_V2 ? 2 : 1;
}
