/* Reading ELF files as glibc's loader reads them: the ELF header and
 * program headers, PT_INTERP, PT_DYNAMIC and the tables it points to
 * (strings, symbols, their versions, the version needs and definitions,
 * the GNU and SysV hash tables), located through the PT_LOAD segments.
 * Section headers are never needed, as ld.so never needs them, so a file
 * stripped of them (sstrip) is read like any other.
 *
 * Two ways to the bytes: pread into small buffers (struct src with an fd:
 * the headers in one read of the first page, PT_DYNAMIC in one read, the
 * strings in windows), for a caller that needs only the dynamic section
 * (gen --list, a library's DT_NEEDED), so that no page of the file is
 * mapped or touched beyond those bytes; or a read-only view of a mapping
 * (or of the caller's memory), for the version tables and symbol lookups,
 * where only the pages a lookup touches are read. Every offset and size
 * from the file is checked against the segment (or the file) it lies in
 * before it is used. Fields are read in the file's byte order and class.
 *
 * libelf remains for the notes of elf_abi_tag_*. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "vec.h"
#include "ldso.h"

#define MAX_VERSION_ENTRIES 4096	/* verneed/verdef entries walked per file */
#define MAX_LOADS 16			/* PT_LOAD segments kept to locate tables */
#define MAX_NOTES 8			/* PT_NOTE segments looked into for the ISA note */
#define MAX_NOTE_BYTES (1u << 16)
#define DYN_CHUNK 256			/* dynamic entries read at a time */
#define HEAD_BYTES 4096			/* read first: the headers, PT_INTERP, the property note
					 * and, for a small program, its dynamic strings (ld.so
					 * reads 832 bytes; a page costs no more to copy) */
#define STR_WINDOW 512			/* dynamic strings read at a time */

/* ---- bytes ---- */

/* What the pread path reads ahead: the first bytes of the file, and a
 * window of the string table. */
struct src_cache {
	unsigned char head[HEAD_BYTES];
	size_t nhead;
	unsigned char win[STR_WINDOW];
	uint64_t win_off;
	size_t nwin;
};

/* A file to read: through fd (pread), or in memory at mem. */
struct src {
	int fd;				/* >= 0: pread from it */
	const unsigned char *mem;	/* fd < 0: the file's bytes */
	uint64_t size;
	int big, is64;			/* the file's byte order and class */
	struct src_cache *cache;	/* fd >= 0: read-ahead, or NULL */
};

/* len bytes at off into buf: 0; COMPAT_EINVAL past the end; COMPAT_EIO. */
static int src_read(const struct src *s, uint64_t off, void *buf, size_t len)
{
	if (off > s->size || len > s->size - off)
		return COMPAT_EINVAL;
	if (s->fd < 0) {
		memcpy(buf, s->mem + off, len);
		return 0;
	}
	if (s->cache && off < s->cache->nhead && len <= s->cache->nhead - off) {
		memcpy(buf, s->cache->head + off, len);
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

/* Fields in the file's byte order: one load, swapped when it is not ours. */
#define HOST_BIG (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__)

static inline uint16_t get16(const struct src *s, const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return s->big != HOST_BIG ? __builtin_bswap16(v) : v;
}

static inline uint32_t get32(const struct src *s, const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return s->big != HOST_BIG ? __builtin_bswap32(v) : v;
}

/* len bytes at off of a source in memory, in place; NULL when they are
 * not all inside the file (or the source is not in memory). The lookups'
 * way to the bytes: no copy. */
static const unsigned char *src_at(const struct src *s, uint64_t off, uint64_t len)
{
	return s->fd < 0 && off <= s->size && len <= s->size - off ? s->mem + off : NULL;
}

static inline uint64_t get64(const struct src *s, const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return s->big != HOST_BIG ? __builtin_bswap64(v) : v;
}

/* An address-sized field (Elf32_Addr/Off/Word or their 64-bit forms). */
static inline uint64_t get_word(const struct src *s, const unsigned char *p)
{
	return s->is64 ? get64(s, p) : get32(s, p);
}

/* A 32-bit field at off: 0 or COMPAT_EINVAL (past the end). */
static int src_get32(const struct src *s, uint64_t off, uint32_t *v)
{
	unsigned char b[4];
	int rc = src_read(s, off, b, 4);
	*v = rc == 0 ? get32(s, b) : 0;
	return rc;
}

/* The NUL-terminated string at offset so of a string table of strsz bytes
 * at file offset base, malloc'd into *out. COMPAT_EINVAL when it does not
 * end inside the table, COMPAT_EIO, COMPAT_ENOMEM. */
static int src_string(const struct src *s, uint64_t base, uint64_t strsz, uint64_t so, char **out)
{
	*out = NULL;
	if (so >= strsz || base > s->size || strsz > s->size - base)
		return COMPAT_EINVAL;
	uint64_t at = base + so, avail = strsz - so;
	if (s->fd < 0) {
		const char *p = (const char *)s->mem + at;
		if (!memchr(p, '\0', (size_t)avail))
			return COMPAT_EINVAL;
		return (*out = strdup(p)) ? 0 : COMPAT_ENOMEM;
	}
	/* The names of DT_NEEDED and DT_SONAME lie near each other: one
	 * read of STR_WINDOW bytes usually serves them all. */
	struct src_cache *c = s->cache;
	if (c && !(c->nwin && at >= c->win_off && at - c->win_off < c->nwin)) {
		size_t n = avail < sizeof c->win ? (size_t)avail : sizeof c->win;
		c->nwin = 0;
		if (src_read(s, at, c->win, n) == 0) {
			c->win_off = at;
			c->nwin = n;
		}
	}
	if (c && c->nwin && at >= c->win_off && at - c->win_off < c->nwin) {
		const char *w = (const char *)c->win + (at - c->win_off);
		size_t left = c->nwin - (size_t)(at - c->win_off);
		if (left > avail)
			left = (size_t)avail;
		if (memchr(w, '\0', left))
			return (*out = strdup(w)) ? 0 : COMPAT_ENOMEM;
	}
	/* a long one (a DT_RPATH of many directories): read it whole */
	char buf[256], *p = buf, *big = NULL;
	size_t have = 0, cap = sizeof buf;
	int rc;
	for (;;) {
		size_t want = cap - have;
		if (want > avail - have)
			want = (size_t)(avail - have);
		if ((rc = src_read(s, at + have, p + have, want)) < 0)
			break;
		char *nul = memchr(p + have, '\0', want);
		have += want;
		if (nul) {
			rc = (*out = strdup(p)) ? 0 : COMPAT_ENOMEM;
			break;
		}
		if (have == avail) {
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

static int push_str(char ***arr, size_t *n, char *s)
{
	char **na = vec_grow(*arr, *n, sizeof **arr);
	if (!na)
		return COMPAT_ENOMEM;
	*arr = na;
	na[(*n)++] = s;
	return 0;
}

/* ---- headers ---- */

struct seg {
	uint32_t type;
	uint64_t offset, vaddr, filesz;
};

/* What the program headers say, as the kernel and ld.so read them. */
struct headers {
	uint8_t elf_class, osabi;
	uint16_t type, machine;
	struct seg interp, dyn, prop;
	int has_interp, has_dynamic, has_prop;
	struct seg loads[MAX_LOADS];	/* to turn addresses into file offsets */
	size_t nloads;
	struct seg notes[MAX_NOTES];	/* PT_NOTE: an ISA note without PT_GNU_PROPERTY (gold) */
	size_t nnotes;
};

static void seg_at(const struct src *s, const unsigned char *p, struct seg *ph)
{
	ph->type = get32(s, p);
	ph->offset = get_word(s, p + (s->is64 ? 8 : 4));
	ph->vaddr = get_word(s, p + (s->is64 ? 16 : 8));
	ph->filesz = get_word(s, p + (s->is64 ? 32 : 16));
}

static int io_error(struct cerr *err, int rc, const char *name, const char *what)
{
	return rc == COMPAT_EIO ? cerr_sys(err, rc, "%s", name) : cerr_set(err, rc, "%s: %s", name, what);
}

/* The ELF header and program headers. Checks: the identification (ELF,
 * class and data known, version 1), the program headers inside the file
 * (counted as libelf's elf_getphdrnum counts them: those that fit), every
 * segment with bytes inside the file. Returns 0, COMPAT_EINVAL, COMPAT_EIO,
 * COMPAT_ENOMEM. */
static int read_headers(struct src *s, const char *name, struct headers *hd, struct cerr *err)
{
	unsigned char eh[64], pbuf[1024], *ph = pbuf;
	int rc;
	memset(hd, 0, sizeof *hd);
	if (s->size < EI_NIDENT)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file (too short)", name);
	if (s->cache) {
		/* the headers and the first strings and notes, in one read */
		size_t n = s->size < sizeof s->cache->head ? (size_t)s->size : sizeof s->cache->head;
		if ((rc = src_read(s, 0, s->cache->head, n)) < 0)
			return io_error(err, rc, name, "not an ELF file");
		s->cache->nhead = n;
	}
	size_t ehsize = s->size < sizeof eh ? (size_t)s->size : sizeof eh;
	if ((rc = src_read(s, 0, eh, ehsize)) < 0)
		return io_error(err, rc, name, "not an ELF file");
	if (memcmp(eh, ELFMAG, SELFMAG) != 0 || (eh[EI_CLASS] != ELFCLASS32 && eh[EI_CLASS] != ELFCLASS64) ||
	    (eh[EI_DATA] != ELFDATA2LSB && eh[EI_DATA] != ELFDATA2MSB) || eh[EI_VERSION] != EV_CURRENT)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file", name);
	s->is64 = eh[EI_CLASS] == ELFCLASS64;
	s->big = eh[EI_DATA] == ELFDATA2MSB;
	if (ehsize < (s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return cerr_set(err, COMPAT_EINVAL, "%s: bad ELF header: truncated", name);
	hd->elf_class = eh[EI_CLASS];
	hd->osabi = eh[EI_OSABI];
	hd->type = get16(s, eh + 16);
	hd->machine = get16(s, eh + 18);
	uint64_t phoff = get_word(s, eh + (s->is64 ? 32 : 28)), shoff = get_word(s, eh + (s->is64 ? 40 : 32));
	size_t phentsize = get16(s, eh + (s->is64 ? 54 : 42)), phnum = get16(s, eh + (s->is64 ? 56 : 44));
	size_t stdsz = s->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (phnum == PN_XNUM && shoff) {
		/* the real count is section 0's sh_info */
		uint32_t n;
		if (src_get32(s, shoff + (s->is64 ? 44 : 28), &n) < 0)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad program headers", name);
		phnum = n;
	}
	if (phnum && (phoff >= s->size || s->size - phoff < stdsz))
		return cerr_set(err, COMPAT_EINVAL, "%s: bad program headers: truncated", name);
	if (phnum > (s->size - phoff) / stdsz)
		phnum = (size_t)((s->size - phoff) / stdsz);
	if ((uint64_t)phnum * phentsize > s->size - phoff)
		return cerr_set(err, COMPAT_EINVAL, "%s: truncated (program headers past the end of the file)", name);
	if (phnum * stdsz > sizeof pbuf && !(ph = malloc(phnum * stdsz)))
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	if (phnum && (rc = src_read(s, phoff, ph, phnum * stdsz)) < 0) {
		rc = io_error(err, rc, name, "bad program headers");
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		struct seg p;
		seg_at(s, ph + i * stdsz, &p);
		if (p.type != PT_NULL && p.filesz && (p.offset > s->size || p.filesz > s->size - p.offset)) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: truncated (segment %zu past the end of the file)", name, i);
			goto out;
		}
		if (p.type == PT_INTERP && !hd->has_interp) {
			hd->interp = p;
			hd->has_interp = 1;
		} else if (p.type == PT_DYNAMIC && p.filesz > 0 && !hd->has_dynamic) {
			/* A PT_DYNAMIC without file bytes (separate .debug
			 * files) is nothing a loader can use. */
			hd->dyn = p;
			hd->has_dynamic = 1;
		} else if (p.type == PT_LOAD && hd->nloads < MAX_LOADS) {
			hd->loads[hd->nloads++] = p;
		} else if (p.type == PT_GNU_PROPERTY && !hd->has_prop && p.filesz < MAX_NOTE_BYTES) {
			hd->prop = p;
			hd->has_prop = 1;
		} else if (p.type == PT_NOTE && hd->nnotes < MAX_NOTES && p.filesz && p.filesz < MAX_NOTE_BYTES) {
			hd->notes[hd->nnotes++] = p;
		}
	}
	rc = 0;
out:
	if (ph != pbuf)
		free(ph);
	return rc;
}

/* ---- the dynamic section: where ld.so's tables are ---- */

/* A table the dynamic section points to: its file offset and how many
 * bytes of its PT_LOAD segment follow (every read of it stays within). */
struct table {
	uint64_t off, avail;
	int present;
};

struct dyn_tables {
	struct table str, sym, gnu_hash, hash, versym, verdef, verneed;
	uint64_t strsz, syment, verdefnum, verneednum, flags_1;
};

/* The file offset of address addr, through the PT_LOAD segments. */
static void locate(const struct headers *hd, uint64_t addr, struct table *t)
{
	for (size_t i = 0; i < hd->nloads; i++) {
		const struct seg *p = &hd->loads[i];
		if (addr >= p->vaddr && addr - p->vaddr < p->filesz) {
			t->off = p->offset + (addr - p->vaddr);
			t->avail = p->filesz - (addr - p->vaddr);
			t->present = 1;
			return;
		}
	}
	t->present = 0;
}

/* Call fn on each dynamic entry until DT_NULL or fn returns non-zero (then
 * returned). A PT_DYNAMIC of one chunk (every real one) is read once into
 * buf for every pass (*buffered). */
static int dyn_each(const struct src *s, const struct headers *hd, unsigned char *buf, int *buffered,
		    int (*fn)(void *ctx, size_t i, int64_t tag, uint64_t val), void *ctx)
{
	size_t esz = s->is64 ? 16 : 8, n = (size_t)(hd->dyn.filesz / esz);
	for (size_t i = 0; i < n; i += DYN_CHUNK) {
		size_t k = n - i < DYN_CHUNK ? n - i : DYN_CHUNK;
		int rc = *buffered && n <= DYN_CHUNK ? 0 : src_read(s, hd->dyn.offset + i * esz, buf, k * esz);
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

struct dyn_addrs {
	uint64_t addr[7];	/* DT_STRTAB, DT_SYMTAB, DT_GNU_HASH, DT_HASH, DT_VERSYM, DT_VERDEF, DT_VERNEED */
	int have[7];
	struct dyn_tables *tab;
};

static int dyn_collect(void *ctx, size_t i, int64_t tag, uint64_t val)
{
	struct dyn_addrs *d = ctx;
	int k = -1;
	(void)i;
	switch (tag) {
	case DT_STRTAB: k = 0; break;
	case DT_SYMTAB: k = 1; break;
	case DT_GNU_HASH: k = 2; break;
	case DT_HASH: k = 3; break;
	case DT_VERSYM: k = 4; break;
	case DT_VERDEF: k = 5; break;
	case DT_VERNEED: k = 6; break;
	case DT_STRSZ: d->tab->strsz = val; break;
	case DT_SYMENT: d->tab->syment = val; break;
	case DT_VERDEFNUM: d->tab->verdefnum = val; break;
	case DT_VERNEEDNUM: d->tab->verneednum = val; break;
	case DT_FLAGS_1: d->tab->flags_1 = val; break;
	}
	if (k >= 0 && !d->have[k]) {
		d->addr[k] = val;
		d->have[k] = 1;
	}
	return 0;
}

/* The tables of the dynamic section, located (ld.so's l_info). */
static int read_tables(const struct src *s, const struct headers *hd, unsigned char *buf, int *buffered,
		       struct dyn_tables *tab)
{
	struct dyn_addrs d = { .tab = tab };
	memset(tab, 0, sizeof *tab);
	if (!hd->has_dynamic)
		return 0;
	int rc = dyn_each(s, hd, buf, buffered, dyn_collect, &d);
	if (rc < 0)
		return rc;
	struct table *t[7] = { &tab->str, &tab->sym, &tab->gnu_hash, &tab->hash, &tab->versym, &tab->verdef,
			       &tab->verneed };
	for (int k = 0; k < 7; k++)
		if (d.have[k])
			locate(hd, d.addr[k], t[k]);
	/* the string table ends where DT_STRSZ says, or its segment does */
	if (!tab->str.present || tab->strsz > tab->str.avail)
		tab->strsz = tab->str.present ? tab->str.avail : 0;
	size_t std = s->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	if (tab->syment != std)
		tab->syment = std;	/* ld.so assumes its own ElfW(Sym) */
	return 0;
}

struct dyn_strings {
	const struct src *s;
	const struct dyn_tables *tab;
	struct elf_info *info;
	const char *name;
	struct cerr *err;
};

static int dyn_string(void *ctx, size_t i, int64_t tag, uint64_t val)
{
	struct dyn_strings *d = ctx;
	struct elf_info *info = d->info;
	if (tag != DT_NEEDED && tag != DT_SONAME && tag != DT_RPATH && tag != DT_RUNPATH)
		return 0;
	char *str = NULL;
	int rc = d->tab->strsz ? src_string(d->s, d->tab->str.off, d->tab->strsz, val, &str) : COMPAT_EINVAL;
	if (rc < 0)
		return rc == COMPAT_EINVAL
			       ? cerr_set(d->err, rc, "%s: dynamic entry %zu: string offset out of range", d->name, i)
			       : io_error(d->err, rc, d->name, "out of memory");
	char **slot = tag == DT_SONAME ? &info->soname : tag == DT_RPATH ? &info->rpath
		    : tag == DT_RUNPATH ? &info->runpath : NULL;
	if (slot) {
		if (!*slot)
			*slot = str;
		else
			free(str);
		return 0;
	}
	if (push_str(&info->needed, &info->nneeded, str) < 0) {
		free(str);
		return cerr_set(d->err, COMPAT_ENOMEM, "%s: out of memory", d->name);
	}
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

/* ---- version tables and symbols ---- */

/* Version needs: vn_file -> [vna_name]; also a table from vna_other index
 * to (name, file) for the undefined symbols. */
struct vneed_index {
	uint16_t idx;
	const char *name, *file;	/* borrowed from info->vneeds */
};

static int read_verneed(const struct src *s, const struct dyn_tables *tab, struct elf_info *info, const char *name,
			struct vneed_index **vix, size_t *nvix, struct cerr *err)
{
	uint64_t off = tab->verneed.off, end = tab->verneed.off + tab->verneed.avail;
	size_t walked = 0;
	for (size_t i = 0; i < tab->verneednum; i++) {
		unsigned char vn[16];
		if (off > end || end - off < sizeof vn || src_read(s, off, vn, sizeof vn) < 0)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version need at %llu", name,
					(unsigned long long)(off - tab->verneed.off));
		uint16_t cnt = get16(s, vn + 2);
		uint32_t file_off = get32(s, vn + 4), aux = get32(s, vn + 8), next = get32(s, vn + 12);
		struct elf_vneed *nv = vec_grow(info->vneeds, info->nvneeds, sizeof *nv);
		if (!nv)
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		info->vneeds = nv;
		struct elf_vneed *v = &nv[info->nvneeds++];
		memset(v, 0, sizeof *v);
		int rc = src_string(s, tab->str.off, tab->strsz, file_off, &v->file);
		if (rc < 0)
			return rc == COMPAT_ENOMEM ? cerr_set(err, rc, "%s: out of memory", name)
						   : cerr_set(err, COMPAT_EINVAL, "%s: bad version need file name", name);
		uint64_t aoff = off + aux;
		for (size_t j = 0; j < cnt; j++) {
			unsigned char va[16];
			if (++walked > MAX_VERSION_ENTRIES || aoff < off || aoff > end || end - aoff < sizeof va ||
			    src_read(s, aoff, va, sizeof va) < 0)
				return cerr_set(err, COMPAT_EINVAL, "%s: bad version need entry", name);
			uint16_t flags = get16(s, va + 4), other = get16(s, va + 6);
			uint32_t vname = get32(s, va + 8), vnext = get32(s, va + 12);
			char *str;
			if ((rc = src_string(s, tab->str.off, tab->strsz, vname, &str)) < 0)
				return rc == COMPAT_ENOMEM ? cerr_set(err, rc, "%s: out of memory", name)
							   : cerr_set(err, COMPAT_EINVAL, "%s: bad version name", name);
			uint8_t *nw = vec_grow(v->weak, v->nversions, 1);
			if (nw)
				v->weak = nw;
			if (!nw || push_str(&v->versions, &v->nversions, str) < 0) {
				free(str);
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			}
			nw[v->nversions - 1] = (flags & VER_FLG_WEAK) != 0;
			struct vneed_index *nx = vec_grow(*vix, *nvix, sizeof *nx);
			if (!nx)
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			*vix = nx;
			nx[*nvix] = (struct vneed_index){ other & 0x7fff, str, v->file };
			(*nvix)++;
			if (!vnext)
				break;
			aoff += vnext;
		}
		if (!next || ++walked > MAX_VERSION_ENTRIES)
			break;
		off += next;
	}
	return 0;
}

struct verdef_map {
	const char **names;	/* indexed by vd_ndx; NULL where unused; the
				 * strings are the mapping's (the map is only
				 * filled from memory) */
	size_t n;
};

/* Version definitions: fills map (index -> name) and, when info is given,
 * info->verdefs (names except the base entry). */
static int read_verdef(const struct src *s, const struct dyn_tables *tab, struct verdef_map *map,
		       struct elf_info *info, const char *name, struct cerr *err)
{
	uint64_t off = tab->verdef.off, end = tab->verdef.off + tab->verdef.avail;
	for (size_t i = 0; i < tab->verdefnum && i < MAX_VERSION_ENTRIES; i++) {
		unsigned char vd[20], va[8];
		if (off > end || end - off < sizeof vd || src_read(s, off, vd, sizeof vd) < 0)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version definition at %llu", name,
					(unsigned long long)(off - tab->verdef.off));
		uint16_t flags = get16(s, vd + 2), ndx = get16(s, vd + 4) & 0x7fff;
		uint32_t aux = get32(s, vd + 12), next = get32(s, vd + 16);
		uint64_t aoff = off + aux;
		if (aoff < off || aoff > end || end - aoff < sizeof va || src_read(s, aoff, va, sizeof va) < 0)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad version definition at %llu", name,
					(unsigned long long)(off - tab->verdef.off));
		uint32_t so = get32(s, va);
		if (map && s->fd < 0) {
			/* in place: the name ends inside the string table */
			const char *p = (const char *)s->mem + tab->str.off + so;
			if (so >= tab->strsz || !memchr(p, '\0', (size_t)(tab->strsz - so)))
				return cerr_set(err, COMPAT_EINVAL, "%s: bad version definition name", name);
			if (ndx >= map->n) {
				size_t nn_n = (size_t)ndx + 1 > map->n * 2 ? (size_t)ndx + 1 : map->n * 2;
				const char **nn = realloc(map->names, nn_n * sizeof *nn);
				if (!nn)
					return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
				memset(nn + map->n, 0, (nn_n - map->n) * sizeof *nn);
				map->names = nn;
				map->n = nn_n;
			}
			if (!map->names[ndx])
				map->names[ndx] = p;
		}
		if (info && !(flags & VER_FLG_BASE)) {
			char *vname;
			int rc = src_string(s, tab->str.off, tab->strsz, so, &vname);
			if (rc < 0)
				return rc == COMPAT_ENOMEM ? cerr_set(err, rc, "%s: out of memory", name)
							   : cerr_set(err, COMPAT_EINVAL, "%s: bad version definition name", name);
			if (push_str(&info->verdefs, &info->nverdefs, vname) < 0) {
				free(vname);
				return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			}
		}
		if (!next)
			break;
		off += next;
	}
	return 0;
}

/* One dynamic symbol. */
struct sym {
	uint32_t name;
	uint8_t info;
	uint16_t shndx;
	uint64_t value;
};

static int sym_at(const struct src *s, const struct dyn_tables *tab, uint64_t i, struct sym *out)
{
	unsigned char b[sizeof(Elf64_Sym)];
	if (!tab->sym.present || i >= tab->sym.avail / tab->syment ||
	    src_read(s, tab->sym.off + i * tab->syment, b, (size_t)tab->syment) < 0)
		return -1;
	out->name = get32(s, b);
	if (s->is64) {
		out->info = b[4];
		out->shndx = get16(s, b + 6);
		out->value = get64(s, b + 8);
	} else {
		out->value = get32(s, b + 4);
		out->info = b[12];
		out->shndx = get16(s, b + 14);
	}
	return 0;
}

/* How many dynamic symbols there are, as the hash tables tell (a file
 * without section headers): DT_HASH's nchain, else one past the last
 * symbol of the GNU hash chains (what readelf -D does). Bounded by the
 * bytes of the segment the table lies in. */
static uint64_t sym_count(const struct src *s, const struct dyn_tables *tab)
{
	uint64_t bound = tab->sym.present ? tab->sym.avail / tab->syment : 0;
	uint32_t v;
	if (tab->hash.present && tab->hash.avail >= 8 && src_get32(s, tab->hash.off + 4, &v) == 0)
		return v < bound ? v : bound;
	if (!tab->gnu_hash.present || tab->gnu_hash.avail < 16)
		return 0;
	uint32_t nbuckets, symoffset, bloom_size;
	const struct table *g = &tab->gnu_hash;
	if (src_get32(s, g->off, &nbuckets) < 0 || src_get32(s, g->off + 4, &symoffset) < 0 ||
	    src_get32(s, g->off + 8, &bloom_size) < 0)
		return 0;
	uint64_t buckets = 16 + (uint64_t)bloom_size * (s->is64 ? 8 : 4), chains = buckets + (uint64_t)nbuckets * 4;
	if (chains > g->avail)
		return 0;
	uint32_t last = 0;
	for (uint32_t b = 0; b < nbuckets; b++)
		if (src_get32(s, g->off + buckets + (uint64_t)b * 4, &v) == 0 && v > last)
			last = v;
	if (last < symoffset)
		return symoffset < bound ? symoffset : bound;
	for (uint64_t i = last; i < bound; i++) {
		if (chains + (i - symoffset) * 4 + 4 > g->avail || src_get32(s, g->off + chains + (i - symoffset) * 4, &v) < 0)
			return i;
		if (v & 1)
			return i + 1;
	}
	return bound;
}

/* The number of symbols of the .dynsym section at the offset of DT_SYMTAB,
 * from the section headers (ld.so needs no count, but a list of every
 * undefined symbol does: the hash tables need not cover the unhashed
 * ones, and some linkers put undefined ones past GNU hash's symoffset);
 * 0 when there is no such section (sstrip). */
static uint64_t dynsym_section_count(const struct src *s, const struct dyn_tables *tab)
{
	unsigned char eh[64], sh[64];
	size_t shsz = s->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (src_read(s, 0, eh, s->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)) < 0)
		return 0;
	uint64_t shoff = get_word(s, eh + (s->is64 ? 40 : 32));
	size_t shentsize = get16(s, eh + (s->is64 ? 58 : 46)), shnum = get16(s, eh + (s->is64 ? 60 : 48));
	if (!shoff || shentsize != shsz)
		return 0;
	for (size_t i = 0; i < shnum; i++) {
		if (src_read(s, shoff + i * shsz, sh, shsz) < 0)
			return 0;
		uint32_t type = get32(s, sh + 4);
		uint64_t off = get_word(s, sh + (s->is64 ? 24 : 16)), size = get_word(s, sh + (s->is64 ? 32 : 20));
		if (type == SHT_DYNSYM && off == tab->sym.off) {
			uint64_t n = size / tab->syment, bound = tab->sym.avail / tab->syment;
			return n < bound ? n : bound;
		}
	}
	return 0;
}

static int read_undefs(const struct src *s, const struct dyn_tables *tab, struct elf_info *info,
		       const struct vneed_index *vix, size_t nvix, const char *name, struct cerr *err)
{
	uint64_t n = tab->sym.present ? dynsym_section_count(s, tab) : 0;
	if (!n)
		n = sym_count(s, tab);
	for (uint64_t i = 1; i < n; i++) {
		struct sym sym;
		if (sym_at(s, tab, i, &sym) < 0)
			break;
		int bind = ELF64_ST_BIND(sym.info);
		if (sym.shndx != SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK))
			continue;
		if (sym.name >= tab->strsz || !s->mem ||
		    !memchr(s->mem + tab->str.off + sym.name, '\0', (size_t)(tab->strsz - sym.name)))
			return cerr_set(err, COMPAT_EINVAL, "%s: bad symbol name at %llu", name, (unsigned long long)i);
		const char *sname = (const char *)s->mem + tab->str.off + sym.name;
		if (!*sname)
			continue;
		const char *ver = NULL, *file = NULL;
		unsigned char vb[2];
		if (tab->versym.present && (i + 1) * 2 <= tab->versym.avail &&
		    src_read(s, tab->versym.off + i * 2, vb, 2) == 0 && (get16(s, vb) & 0x7fff) >= 2) {
			uint16_t vs = get16(s, vb) & 0x7fff;
			for (size_t k = 0; k < nvix; k++)
				if (vix[k].idx == vs) {
					ver = vix[k].name;
					file = vix[k].file;
					break;
				}
		}
		struct elf_undef *nu = vec_grow(info->undefs, info->nundefs, sizeof *nu);
		if (!nu)
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
		info->undefs = nu;
		struct elf_undef *u = &nu[info->nundefs++];
		/* the version and its file are info->vneeds' strings */
		u->name = strdup(sname);
		u->version = ver;
		u->vfile = file;
		u->weak = bind == STB_WEAK;
		if (!u->name)
			return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	}
	return 0;
}

/* ---- what a file says ---- */

/* The x86 ISA property: PT_GNU_PROPERTY, or where a linker made none
 * (gold), the property notes among the PT_NOTE segments. */
static uint32_t read_isa(const struct src *s, const struct headers *hd)
{
	uint32_t bits = 0;
	const struct seg *segs = hd->has_prop ? &hd->prop : hd->notes;
	size_t n = hd->has_prop ? 1 : hd->nnotes;
	for (size_t i = 0; i < n; i++) {
		unsigned char buf[512], *p = segs[i].filesz <= sizeof buf ? buf : malloc((size_t)segs[i].filesz);
		if (p && src_read(s, segs[i].offset, p, (size_t)segs[i].filesz) == 0)
			bits |= read_isa_needed(p, (size_t)segs[i].filesz, hd->elf_class);
		if (p != buf)
			free(p);
	}
	return bits;
}

/* What info asks for, from s: the headers, PT_INTERP, the dynamic
 * section's names, the ISA property; with ELF_READ_VERSIONS the version
 * needs and definitions; with ELF_READ_UNDEFS the version needs and the
 * undefined symbols (these two need s in memory). */
static int read_info(struct src *s, unsigned flags, const char *name, struct elf_info *info,
		     struct dyn_tables *located, struct cerr *err)
{
	struct headers hd;
	struct dyn_tables tab;
	struct vneed_index *vix = NULL;
	size_t nvix = 0;
	unsigned char dbuf[DYN_CHUNK * 16];
	int buffered = 0, rc;

	memset(info, 0, sizeof *info);
	if ((rc = read_headers(s, name, &hd, err)) < 0)
		return rc;
	info->elf_class = hd.elf_class;
	info->osabi = hd.osabi;
	info->machine = hd.machine;
	info->type = hd.type;
	info->dynamic = hd.has_dynamic;
	if (hd.has_interp) {
		char ib[4096];
		if (hd.interp.filesz >= sizeof ib || !hd.interp.filesz ||
		    src_read(s, hd.interp.offset, ib, (size_t)hd.interp.filesz) < 0 ||
		    !memchr(ib, '\0', (size_t)hd.interp.filesz)) {
			rc = cerr_set(err, COMPAT_EINVAL, "%s: bad PT_INTERP", name);
			goto out;
		}
		if (!(info->interp = strdup(ib))) {
			rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
			goto out;
		}
	}
	if ((rc = read_tables(s, &hd, dbuf, &buffered, &tab)) < 0) {
		rc = io_error(err, rc, name, "unreadable PT_DYNAMIC");
		goto out;
	}
	if (hd.has_dynamic) {
		struct dyn_strings d = { .s = s, .tab = &tab, .info = info, .name = name, .err = err };
		info->flags_1 = tab.flags_1;
		if ((rc = dyn_each(s, &hd, dbuf, &buffered, dyn_string, &d)) < 0)
			goto out;
	}
	if (info->machine == EM_X86_64 || info->machine == EM_386)
		info->isa_needed = read_isa(s, &hd);
	if ((flags & (ELF_READ_UNDEFS | ELF_READ_VERSIONS)) && tab.verneed.present &&
	    (rc = read_verneed(s, &tab, info, name, &vix, &nvix, err)) < 0)
		goto out;
	if ((flags & ELF_READ_VERSIONS) && tab.verdef.present &&
	    (rc = read_verdef(s, &tab, NULL, info, name, err)) < 0)
		goto out;
	if ((flags & ELF_READ_UNDEFS) && (rc = read_undefs(s, &tab, info, vix, nvix, name, err)) < 0)
		goto out;
	if (located)
		*located = tab;
	rc = 0;
out:
	free(vix);
	if (rc < 0)
		elf_info_free(info);
	return rc;
}

/* The checks every open file passes first: a regular file, of a size we
 * handle. */
static int file_check(int fd, const char *name, struct stat *st, struct cerr *err)
{
	if (fstat(fd, st) < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", name);
	if (!S_ISREG(st->st_mode))
		return cerr_set(err, COMPAT_EINVAL, "%s: not a regular file", name);
	if ((unsigned long long)st->st_size > ELF_MAX_FILE_BYTES)
		return cerr_set(err, COMPAT_EINVAL, "%s: larger than 4 GiB", name);
	if (st->st_size < EI_NIDENT)
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file (too short)", name);
	return 0;
}

/* A read-only mapping of the whole file: pages are read when touched. */
static int file_map(int fd, const char *name, size_t size, void **map, struct cerr *err)
{
	*map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return cerr_sys(err, COMPAT_EIO, "%s", name);
	}
	return 0;
}

static int needs_tables(unsigned flags)
{
	return (flags & (ELF_READ_UNDEFS | ELF_READ_VERSIONS)) != 0;
}

int elf_read_fd(int fd, const char *name, unsigned flags, struct elf_info *info, struct cerr *err)
{
	struct stat st;
	memset(info, 0, sizeof *info);
	int rc = file_check(fd, name, &st, err);
	if (rc < 0)
		return rc;
	if (!needs_tables(flags)) {
		/* only what ld.so reads first: pread, nothing mapped */
		struct src_cache cache;
		struct src s = { .fd = fd, .size = (uint64_t)st.st_size, .cache = &cache };
		cache.nhead = cache.nwin = 0;
		cache.win_off = 0;
		rc = read_info(&s, flags, name, info, NULL, err);
	} else {
		void *map;
		if ((rc = file_map(fd, name, (size_t)st.st_size, &map, err)) < 0)
			return rc;
		struct src s = { .fd = -1, .mem = map, .size = (uint64_t)st.st_size };
		rc = read_info(&s, flags, name, info, NULL, err);
		munmap(map, (size_t)st.st_size);
	}
	info->dev = (uint64_t)st.st_dev;
	info->ino = (uint64_t)st.st_ino;
	return rc;
}

/* ---- symbol lookup ---- */

/* DT_GNU_HASH, checked once: every part lies inside its segment. */
struct gnu_hash {
	uint32_t nbuckets, symoffset, bloom_size, shift;
	const unsigned char *bloom, *buckets, *chains;
	uint64_t nchains;	/* chain words inside the segment */
};

/* DT_HASH, checked once. */
struct sysv_hash {
	uint32_t nbucket, nchain;
	const unsigned char *buckets, *chains;
};

struct elf_symtab {
	void *map;		/* the file, mapped (or a copy, for _mem) */
	size_t size;
	int owned_copy;		/* map is malloc'd (elf_symtab_open_mem) */
	int pending;		/* not set up yet (on the first lookup) */
	int located;		/* tab already located (by elf_read_fd_symtab) */
	int usable;		/* set up: there is a symbol table */
	struct src s;
	struct dyn_tables tab;
	struct verdef_map vd;
	uint64_t nsyms;		/* symbols inside the segment of DT_SYMTAB */
	const unsigned char *syms, *strs, *versym;	/* in place; versym NULL when none */
	uint64_t nversym;
	struct gnu_hash gnu;	/* usable when gnu.nbuckets */
	struct sysv_hash sysv;	/* usable when sysv.nbucket */
};

static struct elf_symtab *symtab_new(void *map, size_t size, int owned_copy)
{
	struct elf_symtab *t = calloc(1, sizeof *t);
	if (t) {
		t->map = map;
		t->size = size;
		t->owned_copy = owned_copy;
		t->pending = 1;
		t->s = (struct src){ .fd = -1, .mem = map, .size = size };
	}
	return t;
}

/* Locate the tables as ld.so does; an unreadable file exports nothing. */
/* Returns 0, or COMPAT_ENOMEM: then the table stays pending, to be set up
 * again by the next lookup (a server's index outlives a moment's shortage). */
static int symtab_setup(struct elf_symtab *t)
{
	struct headers hd;
	unsigned char dbuf[DYN_CHUNK * 16];
	int buffered = 0, rc;
	t->pending = 0;
	if (!t->located &&
	    (read_headers(&t->s, "symtab", &hd, NULL) < 0 || read_tables(&t->s, &hd, dbuf, &buffered, &t->tab) < 0))
		return 0;
	const struct dyn_tables *tab = &t->tab;
	const struct src *s = &t->s;
	t->usable = tab->sym.present && tab->strsz;
	if (t->usable && tab->verdef.present && (rc = read_verdef(s, tab, &t->vd, NULL, "symtab", NULL)) < 0) {
		t->usable = 0;
		if (rc == COMPAT_ENOMEM) {
			t->pending = 1;
			return rc;
		}
	}
	if (!t->usable)
		return 0;
	t->nsyms = tab->sym.avail / tab->syment;
	t->syms = src_at(s, tab->sym.off, t->nsyms * tab->syment);
	t->strs = src_at(s, tab->str.off, tab->strsz);
	if (tab->versym.present) {
		t->nversym = tab->versym.avail / 2;
		t->versym = src_at(s, tab->versym.off, t->nversym * 2);
	}
	const unsigned char *p;
	const struct table *g = &tab->gnu_hash;
	size_t word = s->is64 ? 8 : 4;
	if (g->present && g->avail >= 16 && (p = src_at(s, g->off, g->avail))) {
		struct gnu_hash h = { get32(s, p), get32(s, p + 4), get32(s, p + 8), get32(s, p + 12), NULL, NULL, NULL, 0 };
		uint64_t buckets = 16 + (uint64_t)h.bloom_size * word, chains = buckets + (uint64_t)h.nbuckets * 4;
		if (h.nbuckets && h.bloom_size && chains <= g->avail) {
			h.bloom = p + 16;
			h.buckets = p + buckets;
			h.chains = p + chains;
			h.nchains = (g->avail - chains) / 4;
			t->gnu = h;
		}
	}
	const struct table *ht = &tab->hash;
	if (ht->present && ht->avail >= 8 && (p = src_at(s, ht->off, ht->avail))) {
		struct sysv_hash h = { get32(s, p), get32(s, p + 4), p + 8, NULL };
		if (h.nbucket && (uint64_t)h.nbucket + h.nchain <= (ht->avail - 8) / 4) {
			h.chains = p + 8 + (uint64_t)h.nbucket * 4;
			t->sysv = h;
		}
	}
	if (!t->syms || !t->strs)
		t->usable = 0;
	return 0;
}

int elf_read_fd_symtab(int fd, const char *name, unsigned flags, struct elf_info *info,
		       struct elf_symtab **symtab, struct cerr *err)
{
	struct stat st;
	void *map = NULL;
	memset(info, 0, sizeof *info);
	*symtab = NULL;
	int rc = file_check(fd, name, &st, err);
	if (rc == 0)
		rc = file_map(fd, name, (size_t)st.st_size, &map, err);
	if (rc < 0)
		return rc;
	/* The whole file is mapped: the descriptor is the caller's again.
	 * Many libraries are never looked into (check's closure, gen's
	 * loader): the hash tables and versions are read on the first lookup. */
	struct elf_symtab *t = symtab_new(map, (size_t)st.st_size, 0);
	if (!t) {
		munmap(map, (size_t)st.st_size);
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	}
	if (needs_tables(flags)) {
		rc = read_info(&t->s, flags, name, info, &t->tab, err);
	} else {
		/* What ld.so reads first, by pread: no page of the mapping is
		 * touched until a lookup needs it (and the tables it will need
		 * are located already). */
		struct src_cache cache;
		struct src ps = { .fd = fd, .size = (uint64_t)st.st_size, .cache = &cache };
		cache.nhead = cache.nwin = 0;
		cache.win_off = 0;
		rc = read_info(&ps, flags, name, info, &t->tab, err);
		t->s.big = ps.big;
		t->s.is64 = ps.is64;
	}
	if (rc < 0) {
		elf_symtab_close(t);
		return rc;
	}
	t->located = 1;
	info->dev = (uint64_t)st.st_dev;
	info->ino = (uint64_t)st.st_ino;
	*symtab = t;
	return 0;
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
	struct src s = { .fd = -1, .mem = buf, .size = len };
	return read_info(&s, flags, name, info, NULL, err);
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
	for (size_t i = 0; i < info->nundefs; i++)
		free(info->undefs[i].name);
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

int elf_symtab_open_fd(int fd, const char *name, struct elf_symtab **out, struct cerr *err)
{
	struct stat st;
	void *map;
	*out = NULL;
	int rc = file_check(fd, name, &st, err);
	if (rc == 0)
		rc = file_map(fd, name, (size_t)st.st_size, &map, err);
	if (rc < 0)
		return rc;
	if (!(*out = symtab_new(map, (size_t)st.st_size, 0))) {
		munmap(map, (size_t)st.st_size);
		return cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", name);
	}
	return 0;
}

int elf_symtab_open(const char *path, struct elf_symtab **out, struct cerr *err)
{
	*out = NULL;
	int fd = open_path(path, err);
	if (fd < 0)
		return fd;
	int rc = elf_symtab_open_fd(fd, path, out, err);
	close(fd);
	return rc;
}

int elf_symtab_open_mem(const void *buf, size_t len, struct elf_symtab **out, struct cerr *err)
{
	void *copy = malloc(len ? len : 1);
	if (!copy || !(*out = symtab_new(copy, len, 1))) {
		free(copy);
		*out = NULL;
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	memcpy(copy, buf, len);
	return 0;
}

void elf_symtab_close(struct elf_symtab *t)
{
	if (!t)
		return;
	if (t->owned_copy)
		free(t->map);
	else if (t->map)
		munmap(t->map, t->size);
	free(t->vd.names);
	free(t);
}

/* Marks "any version, hidden ones too" for sym_matches. */
static const char any_version[] = "";

/* Does dynamic symbol i match name@version as ld.so's check_match would? */
static int sym_matches(const struct elf_symtab *t, uint64_t i, const char *name, const char *version)
{
	const struct src *s = &t->s;
	if (i >= t->nsyms)
		return 0;
	const unsigned char *e = t->syms + i * t->tab.syment;
	uint32_t sname = get32(s, e);
	uint8_t info = s->is64 ? e[4] : e[12];
	uint16_t shndx = get16(s, e + (s->is64 ? 6 : 14));
	uint64_t value = s->is64 ? get64(s, e + 8) : get32(s, e + 4);
	int type = ELF64_ST_TYPE(info), bind = ELF64_ST_BIND(info);
	if (shndx == SHN_UNDEF || (value == 0 && type != STT_TLS))
		return 0;
	if (bind == STB_LOCAL)
		return 0;
	if (type != STT_NOTYPE && type != STT_OBJECT && type != STT_FUNC && type != STT_COMMON &&
	    type != STT_TLS && type != STT_GNU_IFUNC)
		return 0;
	size_t nl = strlen(name);
	if (sname >= t->tab.strsz || t->tab.strsz - sname <= nl || memcmp(t->strs + sname, name, nl + 1) != 0)
		return 0;
	if (version == any_version || !t->versym || i >= t->nversym)
		return 1;
	uint16_t vs = get16(s, t->versym + i * 2);
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
	const struct src *s = &t->s;
	const struct gnu_hash *g = &t->gnu;
	uint32_t h = 5381;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		h = h * 33 + *c;
	unsigned bits = s->is64 ? 64 : 32;
	size_t bi = (h / bits) % g->bloom_size;
	uint64_t bw = s->is64 ? get64(s, g->bloom + bi * 8) : get32(s, g->bloom + bi * 4);
	uint64_t mask = (1ull << (h % bits)) | (1ull << ((h >> (g->shift % 32)) % bits));
	if ((bw & mask) != mask)
		return 0;
	uint32_t idx = get32(s, g->buckets + (uint64_t)(h % g->nbuckets) * 4);
	if (idx == 0 || idx < g->symoffset)
		return 0;
	for (uint64_t c = idx - g->symoffset; c < g->nchains && idx < t->nsyms; c++, idx++) {
		uint32_t ch = get32(s, g->chains + c * 4);
		if ((ch | 1) == (h | 1) && sym_matches(t, idx, name, version))
			return 1;
		if (ch & 1)
			return 0;
	}
	return 0;
}

static int lookup_sysv(const struct elf_symtab *t, const char *name, const char *version)
{
	const struct src *s = &t->s;
	const struct sysv_hash *ht = &t->sysv;
	uint32_t h = 0, g;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		h = (h << 4) + *c;
		g = h & 0xf0000000u;
		if (g)
			h ^= g >> 24;
		h &= ~g;
	}
	uint32_t idx = get32(s, ht->buckets + (uint64_t)(h % ht->nbucket) * 4);
	for (size_t guard = 0; idx != 0 && idx < ht->nchain && guard < ht->nchain; guard++) {
		if (sym_matches(t, idx, name, version))
			return 1;
		idx = get32(s, ht->chains + (uint64_t)idx * 4);
	}
	return 0;
}

int elf_symtab_defines(const struct elf_symtab *t, const char *name, const char *version)
{
	if (t->pending && symtab_setup((struct elf_symtab *)t) < 0)	/* opaque: set up once */
		return COMPAT_ENOMEM;
	if (!t->usable)
		return 0;
	/* As ld.so: the GNU hash table when there is one, else DT_HASH. A
	 * table that cannot be read finds nothing. */
	if (t->gnu.nbuckets)
		return lookup_gnu(t, name, version);
	return t->sysv.nbucket ? lookup_sysv(t, name, version) : 0;
}

int elf_symtab_exports(const struct elf_symtab *t, const char *name)
{
	return elf_symtab_defines(t, name, any_version);
}

/* ---- the kernel ABI note (through libelf) ---- */

/* NT_GNU_ABI_TAG: "GNU\0", then four 32-bit words: OS, major, minor, patch. */
static int abi_tag(Elf *e, uint64_t size, unsigned version[3])
{
	size_t phnum;
	int found = 0;
	if (elf_kind(e) != ELF_K_ELF || elf_getphdrnum(e, &phnum) != 0)
		return 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_NOTE || !ph.p_filesz ||
		    ph.p_filesz > MAX_NOTE_BYTES || ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(e, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		size_t off = 0, name_off, desc_off, next;
		GElf_Nhdr nh;
		while (d && off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
			if (nh.n_type == NT_GNU_ABI_TAG && nh.n_namesz == 4 && nh.n_descsz >= 16 &&
			    memcmp((const char *)d->d_buf + name_off, "GNU", 4) == 0) {
				uint32_t w[4];
				memcpy(w, (const char *)d->d_buf + desc_off, sizeof w);
				GElf_Ehdr eh;
				/* The words are in the file's byte order. */
				if (gelf_getehdr(e, &eh) && (eh.e_ident[EI_DATA] == ELFDATA2MSB) !=
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

/* libelf over len bytes at buf (a private copy or mapping it may convert in place). */
static int abi_tag_buf(void *buf, size_t len, const char *name, unsigned version[3], struct cerr *err)
{
	static int version_set;
	if (!version_set) {
		elf_version(EV_CURRENT);
		version_set = 1;
	}
	Elf *e = elf_memory(buf, len);
	if (!e)
		return cerr_set(err, COMPAT_EINVAL, "%s: %s", name, elf_errmsg(-1));
	if (elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		return cerr_set(err, COMPAT_EINVAL, "%s: not an ELF file", name);
	}
	int rc = abi_tag(e, len, version);
	elf_end(e);
	return rc;
}

int elf_abi_tag_fd(int fd, const char *name, unsigned version[3], struct cerr *err)
{
	struct stat st;
	int rc = file_check(fd, name, &st, err);
	if (rc < 0)
		return rc;
	/* private and writable: libelf may convert the notes in place */
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return cerr_sys(err, COMPAT_EIO, "%s", name);
	rc = abi_tag_buf(map, (size_t)st.st_size, name, version, err);
	munmap(map, (size_t)st.st_size);
	return rc;
}

int elf_abi_tag_mem(const void *buf, size_t len, const char *name, unsigned version[3], struct cerr *err)
{
	void *copy = malloc(len ? len : 1);
	if (!copy)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	memcpy(copy, buf, len);
	int rc = abi_tag_buf(copy, len, name, version, err);
	free(copy);
	return rc;
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
