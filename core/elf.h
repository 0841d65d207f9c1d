/* ELF reading: what the loader and the verdict need to know of a program
 * or library, read as glibc's ld.so reads it. Never executes or maps the
 * file for execution; files are read with pread, or mapped PROT_READ.
 *
 * Everything comes from the program headers and the dynamic section:
 * PT_INTERP, PT_DYNAMIC and the tables it points to (DT_STRTAB, DT_SYMTAB,
 * DT_GNU_HASH/DT_HASH, DT_VERSYM, DT_VERNEED, DT_VERDEF), located through
 * the PT_LOAD segments; the ISA property from PT_GNU_PROPERTY (or the
 * PT_NOTE segments). A file stripped of its section headers (sstrip) is
 * read like any other; they are looked at only to count the undefined
 * symbols of a program exactly (the hash tables need not cover them).
 * libelf reads the notes of elf_abi_tag_*. */
#ifndef COMPAT_ELF_H
#define COMPAT_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ELF_MAX_FILE_BYTES (1ull << 32)	/* larger files are refused */

/* x86 ISA levels as recorded in GNU_PROPERTY_X86_ISA_1_NEEDED. */
enum elf_isa_bit {
	ELF_ISA_BASELINE = 1u << 0,
	ELF_ISA_V2 = 1u << 1,
	ELF_ISA_V3 = 1u << 2,
	ELF_ISA_V4 = 1u << 3,
};

struct elf_vneed {
	char *file;		/* vn_file: the soname the versions come from */
	char **versions;	/* vna_name, in file order */
	uint8_t *weak;		/* VER_FLG_WEAK per version */
	size_t nversions;
};

struct elf_undef {
	char *name;
	const char *version;	/* NULL when unversioned; borrowed from vneeds */
	const char *vfile;	/* soname the version is needed from, or NULL; borrowed from vneeds */
	int weak;		/* STB_WEAK reference */
};

struct elf_info {
	uint8_t elf_class;	/* ELFCLASS32 / ELFCLASS64 */
	uint8_t osabi;
	uint16_t machine;	/* EM_* */
	uint16_t type;		/* ET_* */
	int dynamic;		/* has PT_DYNAMIC */
	char *interp;		/* PT_INTERP or NULL */
	char *soname;		/* DT_SONAME or NULL */
	char *rpath;		/* DT_RPATH or NULL */
	char *runpath;		/* DT_RUNPATH or NULL */
	uint64_t flags_1;	/* DT_FLAGS_1 */
	char **needed;		/* DT_NEEDED in order */
	size_t nneeded;
	struct elf_vneed *vneeds;	/* with ELF_READ_VERSIONS or ELF_READ_UNDEFS */
	size_t nvneeds;
	char **verdefs;		/* with ELF_READ_VERSIONS: defined version names, except the base entry */
	size_t nverdefs;
	uint32_t isa_needed;	/* elf_isa_bit set, 0 when there is no such note */
	struct elf_undef *undefs; /* only with ELF_READ_UNDEFS */
	size_t nundefs;
	uint64_t dev, ino;	/* file identity (elf_read_fd_symtab) */
};

enum elf_read_flags {
	ELF_READ_UNDEFS = 1,	/* undefined dynamic symbols (and version needs) */
	ELF_READ_VERSIONS = 2,	/* version needs (vneeds) and definitions (verdefs) */
};

/* Read path into *info (zeroed first; elf_info_free releases it).
 * Returns 0; COMPAT_EIO (cannot open/read: sys_errno set); COMPAT_EINVAL
 * (not ELF, truncated or inconsistent); COMPAT_ENOMEM. */
int elf_read(const char *path, unsigned flags, struct elf_info *info, struct cerr *err);

/* As elf_read, from an open file descriptor (not closed). */
int elf_read_fd(int fd, const char *name, unsigned flags, struct elf_info *info, struct cerr *err);

struct elf_symtab;

/* As elf_read_fd, and also return the file's symbol table from the same
 * mapping (*symtab, owned by the caller: elf_symtab_close); the fd is not
 * needed by it afterwards. One open and one mapping per library. */
int elf_read_fd_symtab(int fd, const char *name, unsigned flags, struct elf_info *info,
		       struct elf_symtab **symtab, struct cerr *err);

/* As elf_read, from memory (fuzzing, tests). name is for messages. */
int elf_read_mem(const void *buf, size_t len, const char *name, unsigned flags,
		 struct elf_info *info, struct cerr *err);

void elf_info_free(struct elf_info *info);

/* Header fields of an open file (pread, no parsing beyond the first 20
 * bytes). Returns 0, COMPAT_EIO, COMPAT_EINVAL (not ELF). */
int elf_peek_fd(int fd, const char *name, uint8_t *elf_class, uint16_t *machine, uint16_t *type,
		uint8_t *osabi, struct cerr *err);

/* Cheap header check: class, machine, type, OS ABI of a file without
 * parsing the rest. Returns 0, COMPAT_EIO, COMPAT_EINVAL (not ELF). */
int elf_peek(const char *path, uint8_t *elf_class, uint16_t *machine, uint16_t *type,
	     uint8_t *osabi, struct cerr *err);

/* A library's dynamic symbol table, for "does it export NAME@VERSION",
 * looked up through its own .gnu.hash (or .hash) as ld.so does. */
struct elf_symtab;

/* Open path read-only for lookups. Returns 0, COMPAT_EIO, COMPAT_EINVAL. */
int elf_symtab_open(const char *path, struct elf_symtab **out, struct cerr *err);
/* As elf_symtab_open, from an open descriptor (not closed, not needed afterwards). */
int elf_symtab_open_fd(int fd, const char *name, struct elf_symtab **out, struct cerr *err);
int elf_symtab_open_mem(const void *buf, size_t len, struct elf_symtab **out, struct cerr *err);

/* 1 when the library defines name (with version, or any non-hidden
 * definition when version is NULL), 0 when not, COMPAT_ENOMEM when its
 * tables could not be set up (tried again on the next call). */
int elf_symtab_defines(const struct elf_symtab *t, const char *name, const char *version);

/* 1 when the library has any definition of name, whatever its version,
 * hidden ones included (a program may have been bound to an old one). */
int elf_symtab_exports(const struct elf_symtab *t, const char *name);

void elf_symtab_close(struct elf_symtab *t);

/* The kernel ABI a file declares in its NT_GNU_ABI_TAG note
 * (.note.ABI-tag, found through PT_NOTE; glibc's libc.so.6 and every
 * program linked with its crt1.o carry one): for a Linux note (OS 0) the
 * oldest kernel it was built to run on, major.minor.patch, into
 * version[3]. The highest note wins when a file has several.
 * Returns 1 when there is such a note, 0 when not; COMPAT_EIO,
 * COMPAT_EINVAL (not ELF). The fd is not closed. */
int elf_abi_tag_fd(int fd, const char *name, unsigned version[3], struct cerr *err);
int elf_abi_tag_mem(const void *buf, size_t len, const char *name, unsigned version[3], struct cerr *err);

/* Names for the artifact: "ELF64", "x86_64", "SYSV", "x86-64-v3". The
 * returned strings are static, or written into buf for unknown values. */
const char *elf_class_name(int elf_class);
const char *elf_machine_name(int machine, char *buf, size_t len);
const char *elf_osabi_name(int osabi, char *buf, size_t len);
int elf_machine_from_name(const char *name);	/* -1 when unknown */
int elf_class_from_name(const char *name);	/* -1 when unknown */
int elf_osabi_from_name(const char *name);	/* -1 when unknown */

/* Highest x86-64 level in isa bits: 1..4 (1 = baseline or no note). */
int elf_isa_level(uint32_t isa_needed);

#endif
