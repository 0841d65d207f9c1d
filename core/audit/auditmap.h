/* The loader cache map: which file ld.so should load for a library name,
 * written by compat trace --cache DIR (DIR/compat-audit.map) and read by
 * the LD_AUDIT object (core/audit/compat-audit.c), whose la_objsearch
 * answers each search with the recorded path.
 *
 * This module is freestanding: it calls no libc function, so the audit
 * object (linked with -nostdlib, loaded into every process of a cached
 * program) and bin/compat share one parser and one writer.
 *
 * Format (text, one entry per line, every line ends with '\n'):
 *
 *   compat-audit-map 1
 *   CLASS MACHINE DEVMAJOR DEVMINOR INODE SIZE MTIME_SEC MTIME_NSEC NAME PATH
 *
 * CLASS and MACHINE are the ELF class (1, 2) and e_machine (62 x86-64,
 * 3 i386) of the library, so that each ABI's audit object uses its own
 * entries only (libc.so.6 of i386 and of x86-64 share a name). NAME is the
 * name ld.so searches (DT_NEEDED or dlopen's argument: a file name, no '/'),
 * PATH the absolute path of the file, the rest of the line (it may hold
 * spaces, never '\n' or '$': ld.so would expand the latter). DEVMAJOR..
 * MTIME_NSEC identify the file when the map was written (stat of PATH, as
 * statx reports them); a file that no longer matches is not used. Lines
 * are sorted by (CLASS, MACHINE, NAME) bytewise, without duplicates, so that
 * a lookup is a binary search. Lines starting with '#' are comments. */
#ifndef COMPAT_AUDITMAP_H
#define COMPAT_AUDITMAP_H

#include <stddef.h>
#include <stdint.h>

#define AUDITMAP_FILE "compat-audit.map"
#define AUDITMAP_MAGIC "compat-audit-map 1"
#define AUDITMAP_MAX_BYTES (1u << 20)	/* larger maps are refused */
#define AUDITMAP_MAX_ENTRIES 4096	/* entries kept for one ABI */
#define AUDITMAP_MAX_NAME 255
#define AUDITMAP_MAX_PATH 4095
#define AUDITMAP_LINE_MAX (AUDITMAP_MAX_NAME + AUDITMAP_MAX_PATH + 200)

/* Parse results (negative, as COMPAT_E* codes are). */
enum {
	AUDITMAP_EINVAL = -1,	/* malformed; *bad_line says where */
	AUDITMAP_ELIMIT = -6,	/* too large, or too many entries of one ABI */
};

struct auditmap_entry {
	const char *name;	/* NUL-terminated, points into the parsed text */
	const char *path;
	uint64_t ino, size;
	int64_t mtime_sec;
	uint32_t mtime_nsec, dev_major, dev_minor;
	uint16_t machine;
	uint8_t elf_class;
};

/* Parse the map in text[0..len) in place (field separators and line ends
 * become NULs; entries point into text, which must outlive them). Keeps in
 * v[0..*n) the entries of (elf_class, machine), in file order (sorted),
 * at most cap of them. The whole text is validated, every ABI's lines.
 * Returns 0; AUDITMAP_EINVAL (malformed: bad magic, field, order, a line
 * without its '\n'; *bad_line is its 1-based number); AUDITMAP_ELIMIT
 * (len > AUDITMAP_MAX_BYTES, or more than cap entries of this ABI). */
int auditmap_parse(char *text, size_t len, uint8_t elf_class, uint16_t machine,
		   struct auditmap_entry *v, size_t cap, size_t *n, size_t *bad_line);

/* The entry for name in v[0..n) (sorted by name, as auditmap_parse gives
 * them for one ABI), or NULL. */
const struct auditmap_entry *auditmap_find(const struct auditmap_entry *v, size_t n, const char *name);

/* Bytewise order of two entries' (class, machine, name): <0, 0, >0. */
int auditmap_cmp(const struct auditmap_entry *a, const struct auditmap_entry *b);

/* Format one entry's line (with its '\n') into buf. Returns its length, or
 * 0 when it does not fit in cap or the entry cannot be written (a name
 * with '/', ' ' or control characters or longer than AUDITMAP_MAX_NAME, a
 * path that is not absolute, holds '\n' or '$' or is longer than
 * AUDITMAP_MAX_PATH). The buffer is not NUL-terminated. */
size_t auditmap_format(char *buf, size_t cap, const struct auditmap_entry *e);

#endif
