/* compat-audit-ABI.so: the LD_AUDIT object of the loader cache (DESIGN §7,
 * docs/trace.md). ld.so loads it before the program's libraries; its
 * la_objsearch answers each search at LA_SER_ORIG (the DT_NEEDED name or
 * dlopen's argument, before DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH,
 * ld.so.cache and the default directories are tried) with the path that
 * compat trace --cache recorded, so that no directory is probed. A name not
 * in the map, or whose file changed since (device, inode, size, mtime), is
 * left to the normal search (a changed file with one line on stderr).
 *
 * It runs inside every process of the cached program, so it is small and
 * cannot take the program down: no libc (linked -nostdlib, raw syscalls, no
 * malloc: the map is read once into static storage), a bounded and fully
 * validated map (core/audit/auditmap.c), and every failure ends in "search
 * as usual" rather than an error. Its constructor finds the map next to
 * itself: the directory of the LD_AUDIT entry named compat-audit-ABI.so
 * (ld.so runs an audit object's constructors with argc, argv and the
 * environment, before la_version).
 *
 * Built once per ABI (x86-64, i386) by the Makefile and embedded into
 * bin/compat, which writes it into the cache directory. */
#include <fcntl.h>
#include <link.h>
#include <linux/stat.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "auditmap.h"

#if defined(__x86_64__)
#define AUDIT_ABI "x86_64"
#define AUDIT_CLASS 2
#define AUDIT_MACHINE 62
static long sys5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}
#define SYS_GETEUID SYS_geteuid
#elif defined(__i386__)
#define AUDIT_ABI "i386"
#define AUDIT_CLASS 1
#define AUDIT_MACHINE 3
static long sys5(long n, long a, long b, long c, long d, long e)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}
#define SYS_GETEUID SYS_geteuid32
#else
#error "compat-audit: no system call shim for this architecture"
#endif

#define SELF_NAME "compat-audit-" AUDIT_ABI ".so"
#define EXPORT __attribute__((visibility("default")))

/* Everything the process needs, read once by the constructor. */
static char map_text[AUDITMAP_MAX_BYTES + 1];
static struct auditmap_entry entries[AUDITMAP_MAX_ENTRIES];
static unsigned char warned[AUDITMAP_MAX_ENTRIES];
static size_t nentries;
static char map_path[AUDITMAP_MAX_PATH + 1];

/* One diagnostic line, assembled from pieces (no stdio here). */
struct line {
	char buf[512];
	size_t len;
};

static void line_str(struct line *l, const char *s)
{
	while (s && *s && l->len < sizeof l->buf - 1)
		l->buf[l->len++] = *s++;
}

static void line_num(struct line *l, unsigned long v)
{
	char tmp[24];
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	while (k && l->len < sizeof l->buf - 1)
		l->buf[l->len++] = tmp[--k];
}

static void line_send(struct line *l)
{
	l->buf[l->len++] = '\n';
	(void)sys5(SYS_write, 2, (long)l->buf, (long)l->len, 0, 0);
}

static void warn_map(const char *what, unsigned long num)
{
	struct line l;
	l.len = 0;
	line_str(&l, "compat-audit: ");
	line_str(&l, map_path[0] ? map_path : SELF_NAME);
	line_str(&l, ": ");
	line_str(&l, what);
	if (num) {
		line_str(&l, " ");
		line_num(&l, num);
	}
	line_str(&l, "; libraries are searched as usual");
	line_send(&l);
}

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* map_path = the directory of our LD_AUDIT entry + "/" AUDITMAP_FILE.
 * 0, or -1 when LD_AUDIT names no SELF_NAME (or the path is too long). */
static int find_map_path(char **envp)
{
	static const char self[] = SELF_NAME, file[] = AUDITMAP_FILE;
	const char *v = 0;
	for (size_t i = 0; envp && envp[i]; i++)
		if (starts_with(envp[i], "LD_AUDIT="))
			v = envp[i] + 9;
	while (v && *v) {
		const char *end = v, *slash = 0;
		while (*end && *end != ':') {
			if (*end == '/')
				slash = end;
			end++;
		}
		if (slash && (size_t)(end - slash - 1) == sizeof self - 1) {
			size_t i = 0;
			while (i < sizeof self - 1 && slash[1 + i] == self[i])
				i++;
			size_t dirlen = (size_t)(slash - v);
			if (i == sizeof self - 1 && dirlen + sizeof file + 1 <= sizeof map_path) {
				for (size_t k = 0; k < dirlen; k++)
					map_path[k] = v[k];
				map_path[dirlen] = '/';
				for (size_t k = 0; k < sizeof file; k++)
					map_path[dirlen + 1 + k] = file[k];
				return 0;
			}
		}
		v = *end ? end + 1 : end;
	}
	return -1;
}

static int stat_path(int dirfd, const char *path, int flags, struct statx *st)
{
	return (int)sys5(SYS_statx, dirfd, (long)path, flags, STATX_BASIC_STATS, (long)st);
}

/* Read and parse the map; on any problem, one line and no entries. */
static void load_map(void)
{
	struct statx st;
	size_t len = 0, bad = 0;
	long fd = sys5(SYS_openat, AT_FDCWD, (long)map_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0, 0);
	if (fd < 0) {
		warn_map(fd == -2 ? "missing" : "cannot be opened, errno", fd == -2 ? 0 : (unsigned long)-fd);
		return;
	}
	long euid = sys5(SYS_GETEUID, 0, 0, 0, 0, 0);
	if (stat_path((int)fd, "", AT_EMPTY_PATH, &st) < 0 || (st.stx_mode & S_IFMT) != S_IFREG) {
		warn_map("not a regular file", 0);
		goto out;
	}
	/* The launcher checks this too; children exec'd later are not. */
	if ((st.stx_mode & 022) || (st.stx_uid != 0 && (long)st.stx_uid != euid)) {
		warn_map("writable by others (group or other write bit, or another user's file)", 0);
		goto out;
	}
	for (;;) {
		long n = sys5(SYS_read, fd, (long)(map_text + len), (long)(sizeof map_text - len), 0, 0);
		if (n == -4)	/* EINTR */
			continue;
		if (n < 0) {
			warn_map("read error, errno", (unsigned long)-n);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof map_text) {
			warn_map("larger than the limit of bytes", AUDITMAP_MAX_BYTES);
			goto out;
		}
	}
	int rc = auditmap_parse(map_text, len, AUDIT_CLASS, AUDIT_MACHINE, entries,
				AUDITMAP_MAX_ENTRIES, &nentries, &bad);
	if (rc == AUDITMAP_ELIMIT)
		warn_map("more entries than the limit", AUDITMAP_MAX_ENTRIES);
	else if (rc < 0)
		warn_map("malformed at line", bad);
	if (rc < 0)
		nentries = 0;
out:
	(void)sys5(SYS_close, fd, 0, 0, 0, 0);
}

__attribute__((constructor)) static void audit_init(int argc, char **argv, char **envp)
{
	(void)argc;
	(void)argv;
	if (find_map_path(envp) < 0) {
		warn_map("LD_AUDIT does not name it, so its map cannot be found", 0);
		return;
	}
	load_map();
}

EXPORT unsigned int la_version(unsigned int version)
{
	return version < LAV_CURRENT ? version : LAV_CURRENT;
}

/* What differs between the file at e->path and the recorded one, or NULL. */
static const char *entry_changed(const struct auditmap_entry *e, long *err)
{
	struct statx st;
	*err = stat_path(AT_FDCWD, e->path, 0, &st);
	if (*err < 0)
		return "cannot be read, errno";
	if ((st.stx_mode & S_IFMT) != S_IFREG)
		return "is no longer a regular file";
	if (st.stx_dev_major != e->dev_major || st.stx_dev_minor != e->dev_minor || st.stx_ino != e->ino)
		return "is another file (device or inode)";
	if (st.stx_size != e->size)
		return "changed size";
	if (st.stx_mtime.tv_sec != e->mtime_sec || st.stx_mtime.tv_nsec != e->mtime_nsec)
		return "was modified (mtime)";
	return 0;
}

EXPORT char *la_objsearch(const char *name, uintptr_t *cookie, unsigned int flag)
{
	(void)cookie;
	if (flag != LA_SER_ORIG || !nentries || !name)
		return (char *)name;
	for (const char *p = name; *p; p++)
		if (*p == '/')
			return (char *)name;	/* a path: opened as given */
	const struct auditmap_entry *e = auditmap_find(entries, nentries, name);
	if (!e)
		return (char *)name;
	size_t i = (size_t)(e - entries);
	if (warned[i])
		return (char *)name;
	long err = 0;
	const char *why = entry_changed(e, &err);
	if (!why)
		return (char *)e->path;
	warned[i] = 1;
	struct line l;
	l.len = 0;
	line_str(&l, "compat-audit: ");
	line_str(&l, e->path);
	line_str(&l, " ");
	line_str(&l, why);
	if (err < 0) {
		line_str(&l, " ");
		line_num(&l, (unsigned long)-err);
	}
	line_str(&l, " since the cache was made; ");
	line_str(&l, name);
	line_str(&l, " is searched as usual");
	line_send(&l);
	return (char *)name;
}
