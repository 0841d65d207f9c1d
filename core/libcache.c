/* Loaded libraries, the artifact merge and the cache directory (see
 * libcache.h). */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "audit/auditmap.h"
#include "audit/embed.h"
#include "command.h"
#include "cpu.h"
#include "elf.h"
#include "fsutil.h"
#include "ldso.h"
#include "libcache.h"
#include "resolve.h"

#define LIBCACHE_MAX_COPY (1ull << 31)	/* largest library copied with --copy */

int libcache_is_library_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (const char *p = strstr(base, ".so"); p; p = strstr(p + 1, ".so")) {
		if (p == base)
			continue;
		if (p[3] == 0 || (p[3] == '.' && isdigit((unsigned char)p[4])))
			return 1;
	}
	return 0;
}

void libcache_seen_init(struct libcache_seen *s, int collect)
{
	memset(s, 0, sizeof *s);
	s->collect = collect;
}

void libcache_seen_free(struct libcache_seen *s)
{
	strmap_free(&s->opened);
	strmap_free(&s->execd);
	free(s->first_exec);
	free(s->main_exec);
	s->first_exec = s->main_exec = NULL;
	for (size_t i = 0; i < s->nexecs; i++)
		free(s->execs[i]);
	s->nexecs = 0;
}

int libcache_note(struct libcache_seen *s, const struct ptrace_event *ev)
{
	if (ev->kind == PTRACE_KIND_OPEN && libcache_is_library_name(ev->path)) {
		if (ev->result >= 0)
			s->stats.lib_ok++;
		else
			s->stats.lib_failed++;
	}
	if (ev->result < 0)
		return 0;
	if (ev->kind == PTRACE_KIND_EXEC && !s->first_exec) {
		if (!(s->first_exec = strdup(ev->path)))
			return COMPAT_ENOMEM;
		s->main_pid = ev->pid;
	}
	if (ev->kind == PTRACE_KIND_EXEC && ev->pid == s->main_pid) {
		char *m = strdup(ev->path);
		if (!m)
			return COMPAT_ENOMEM;
		free(s->main_exec);
		s->main_exec = m;
	}
	if (!s->collect)
		return 0;
	if (ev->kind == PTRACE_KIND_OPEN)
		return strset_add(&s->opened, ev->path);
	if (ev->kind != PTRACE_KIND_EXEC)
		return 0;
	if (!strmap_get(&s->execd, ev->path) && s->nexecs < LIBCACHE_MAX_EXECS &&
	    !(s->execs[s->nexecs++] = strdup(ev->path)))
		return COMPAT_ENOMEM;
	return strset_add(&s->execd, ev->path);
}

void libcache_libs_free(struct libcache_lib *libs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(libs[i].path);
		free(libs[i].opened);
		free(libs[i].name);
		free(libs[i].soname);
	}
	free(libs);
}

static int cmp_lib(const void *a, const void *b)
{
	const struct libcache_lib *x = a, *y = b;
	int c = strcmp(x->soname, y->soname);
	return c ? c : strcmp(x->name, y->name);
}

int libcache_loaded(const struct libcache_seen *s, struct libcache_lib **libs, size_t *n,
		    struct cerr *err)
{
	struct libcache_lib *v = NULL;
	size_t nv = 0;
	int rc = 0;

	*libs = NULL;
	*n = 0;
	if (!s->opened.n)
		return 0;
	if (!(v = calloc(s->opened.n, sizeof *v)))
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	for (size_t i = 0; i < s->opened.cap; i++) {
		const char *p = s->opened.slots[i].key;
		char real[PATH_MAX];
		uint8_t cls, osabi;
		uint16_t mach, type;
		struct elf_info info;
		if (!p || strmap_get(&s->execd, p) || !realpath(p, real))
			continue;
		if (elf_peek(real, &cls, &mach, &type, &osabi, NULL) < 0 || type != ET_DYN)
			continue;
		if (elf_read(real, 0, &info, NULL) < 0)
			continue;
		/* A PIE program is ET_DYN too: a shared object has no PT_INTERP
		 * (libc.so.6 has one but also a soname). */
		if (info.interp && !info.soname) {
			elf_info_free(&info);
			continue;
		}
		const char *base = strrchr(p, '/');
		base = base ? base + 1 : p;
		v[nv].path = strdup(real);
		v[nv].opened = p[0] == '/' ? strdup(p) : NULL;
		v[nv].name = strdup(base);
		v[nv].soname = strdup(info.soname ? info.soname : base);
		v[nv].elf_class = cls;
		v[nv].machine = mach;
		elf_info_free(&info);
		if (!v[nv].path || !v[nv].name || !v[nv].soname || (p[0] == '/' && !v[nv].opened)) {
			nv++;
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
			goto out;
		}
		nv++;
	}
	if (nv)
		qsort(v, nv, sizeof *v, cmp_lib);
	/* The same file opened under two names: keep one per (soname, name). */
	size_t w = 0;
	for (size_t i = 0; i < nv; i++) {
		if (w && !strcmp(v[w - 1].soname, v[i].soname) && !strcmp(v[w - 1].name, v[i].name)) {
			free(v[i].path);
			free(v[i].opened);
			free(v[i].name);
			free(v[i].soname);
			continue;
		}
		v[w++] = v[i];
	}
	nv = w;
out:
	if (rc < 0) {
		libcache_libs_free(v, nv);
		return rc;
	}
	*libs = v;
	*n = nv;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int libcache_mark_own(const char *program, const char *library_path, const struct libcache_lib *libs, size_t n,
		      unsigned char *own, struct cerr *err)
{
	struct rs_opts ro = { .library_path = library_path };
	struct resolver *rv;
	int rc = resolver_new(&ro, &rv, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		char *found = NULL, real[PATH_MAX];
		int via_origin = 0;
		own[i] = 1;
		/* the name it was opened by, then its soname */
		for (int k = 0; k < 2 && own[i] && rc >= 0; k++) {
			const char *name = k ? libs[i].soname : libs[i].name;
			if (k && !strcmp(libs[i].soname, libs[i].name))
				break;
			rc = resolver_find(rv, program, name, &found, &via_origin, err);
			if (rc == 1 && !via_origin && realpath(found, real) && !strcmp(real, libs[i].path))
				own[i] = 0;
			free(found);
			found = NULL;
		}
	}
	resolver_free(rv);
	return rc < 0 ? rc : 0;
}

int libcache_merge_artifact(struct artifact *a, const struct libcache_lib *libs, size_t n,
			    const unsigned char *own)
{
	static const char prefix[] = ARTIFACT_NS "library-name.";
	struct strmap names = { 0 };
	char **v = NULL, key[600];
	size_t nv = 0;
	int rc = COMPAT_ENOMEM;

	if (!a->version && !(a->version = strdup(ARTIFACT_VERSION)))
		return COMPAT_ENOMEM;
	for (size_t i = 0; i < a->nattrs; i++)
		if (!strncmp(a->attrs[i].key, prefix, sizeof prefix - 1) &&
		    strset_add(&names, a->attrs[i].value) < 0)
			goto out;
	for (size_t i = 0; i < n; i++) {
		if (strset_add(&names, libs[i].soname) < 0)
			goto out;
		if (strlen(libs[i].soname) > 400 || (own && own[i]))
			continue;
		snprintf(key, sizeof key, ARTIFACT_NS "needed.%s", libs[i].soname);
		if (!artifact_get(a, key) && artifact_set(a, key, "") < 0)
			goto out;
	}
	if (!(v = malloc((names.n ? names.n : 1) * sizeof *v)))
		goto out;
	for (size_t i = 0; i < names.cap; i++)
		if (names.slots[i].key)
			v[nv++] = names.slots[i].key;
	if (nv)
		qsort(v, nv, sizeof *v, cmp_str);
	/* At least as many names as before: every old key is overwritten. */
	for (size_t i = 0; i < nv; i++) {
		snprintf(key, sizeof key, "%s%zu", prefix, i);
		if (artifact_set(a, key, v[i]) < 0)
			goto out;
	}
	rc = 0;
out:
	free(v);
	strmap_free(&names);
	return rc;
}

const char *libcache_lib_dir(const char *dir, char *buf, size_t len)
{
	return ldso_first_dir(NULL, dir, buf, len);
}

/* mkdir -p path (the user's own path: symlinks among its parents are
 * followed, as any tool does). */
static int mkdir_p(const char *path, struct cerr *err)
{
	char p[PATH_MAX];
	size_t len = strlen(path);
	if (len >= sizeof p)
		return cerr_set(err, COMPAT_EIO, "%s: path too long", path);
	memcpy(p, path, len + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return cerr_sys(err, COMPAT_EIO, "%s", p);
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return cerr_sys(err, COMPAT_EIO, "%s", p);
	return 0;
}

/* Open the directory name under dirfd, creating it when missing; refuses
 * a symlink (O_NOFOLLOW) and a directory that is not the caller's. shown
 * names it in messages. Returns the fd, COMPAT_EIO or COMPAT_EPERM. */
static int dir_open_own(int dirfd, const char *name, const char *shown, struct cerr *err)
{
	struct stat st;
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return cerr_sys(err, COMPAT_EIO, "%s", shown);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return cerr_set(err, COMPAT_EPERM, "%s: is a symlink or not a directory: refusing to write a cache there",
				shown);
	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", shown);
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid()) {
		close(fd);
		return cerr_set(err, COMPAT_EPERM, "%s: owned by uid %u, not by this user: refusing to write a cache there",
				shown, (unsigned)st.st_uid);
	}
	return fd;
}

/* dirfd/name -> target, replacing what is there: a symlink made under a
 * temp name, renamed over name (rename replaces a symlink, never follows it). */
static int link_replace_at(int dirfd, const char *shown, const char *name, const char *target,
			   struct cerr *err)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".compat-link-%d.tmp", (int)getpid());
	unlinkat(dirfd, tmp, 0);
	if (symlinkat(target, dirfd, tmp) < 0)
		return cerr_sys(err, COMPAT_EIO, "%s/%s", shown, name);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		errno = e;
		return cerr_sys(err, COMPAT_EIO, "%s/%s", shown, name);
	}
	return 0;
}

static int copy_replace_at(int dirfd, const char *shown, const char *name, const char *src, struct cerr *err)
{
	char *data = NULL;
	size_t len = 0;
	int rc = fs_read_file(src, LIBCACHE_MAX_COPY, &data, &len, err);
	if (rc == 0)
		rc = fs_write_atomic_at(dirfd, shown, name, data, len, err);
	free(data);
	return rc;
}

/* The audit objects this build carries (core/audit/embed.S). */
static const struct audit_abi {
	const char *name;
	uint8_t elf_class;
	uint16_t machine;
	const unsigned char *start, *end;
} audit_abis[] = {
	{ "x86_64", ELFCLASS64, EM_X86_64, compat_audit_x86_64, compat_audit_x86_64_end },
	{ "i386", ELFCLASS32, EM_386, compat_audit_i386, compat_audit_i386_end },
};
#define NAUDIT_ABIS (sizeof audit_abis / sizeof audit_abis[0])

static const struct audit_abi *audit_abi_of(uint8_t elf_class, uint16_t machine)
{
	for (size_t i = 0; i < NAUDIT_ABIS; i++)
		if (audit_abis[i].elf_class == elf_class && audit_abis[i].machine == machine)
			return &audit_abis[i];
	return NULL;
}

const unsigned char *libcache_audit_object(const char *abi, size_t *len)
{
	*len = 0;
	for (size_t i = 0; i < NAUDIT_ABIS; i++)
		if (!strcmp(audit_abis[i].name, abi) && audit_abis[i].end > audit_abis[i].start) {
			*len = (size_t)(audit_abis[i].end - audit_abis[i].start);
			return audit_abis[i].start;
		}
	return NULL;
}

/* A map entry being built: the entry points at the owned strings. */
struct map_item {
	struct auditmap_entry e;
	char *path;
	int drop;
};

static int cmp_item(const void *a, const void *b)
{
	const struct map_item *x = a, *y = b;
	int c = auditmap_cmp(&x->e, &y->e);
	return c ? c : strcmp(x->e.path, y->e.path);
}

/* Add (name -> path) with path's identity; silently skipped when the file
 * cannot be stat'ed or the map cannot hold the name or path. */
static int map_add(struct map_item *v, size_t *n, const struct libcache_lib *lib, const char *name,
		   const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	struct map_item it = { .e = {
		.name = name, .path = path, .ino = (uint64_t)st.st_ino, .size = (uint64_t)st.st_size,
		.mtime_sec = (int64_t)st.st_mtim.tv_sec, .mtime_nsec = (uint32_t)st.st_mtim.tv_nsec,
		.dev_major = major(st.st_dev), .dev_minor = minor(st.st_dev),
		.machine = lib->machine, .elf_class = lib->elf_class } };
	char line[AUDITMAP_LINE_MAX + 2];
	if (!auditmap_format(line, sizeof line, &it.e))
		return 0;
	if (!(it.path = strdup(path)))
		return COMPAT_ENOMEM;
	it.e.path = it.path;
	v[(*n)++] = it;
	return 0;
}

/* The map's text for the libraries (paths: the originals, or the copies
 * under copydir). Returns 0 or COMPAT_ENOMEM; *text malloc'd. */
static int map_build(const struct libcache_lib *libs, size_t n, const char *copydir, char **text,
		     size_t *len, int abis[NAUDIT_ABIS])
{
	struct map_item *v = calloc(2 * n + 1, sizeof *v);
	size_t nv = 0, cap = 64, used = 0;
	char *out = malloc(cap);
	int rc = COMPAT_ENOMEM;
	if (!v || !out)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *names[2] = { libs[i].name, libs[i].soname };
		const char *opened = libs[i].opened ? libs[i].opened : libs[i].path;
		/* A glibc-hwcaps/x86-64-vN variant suits this CPU only. */
		if (strstr(opened, "/glibc-hwcaps/"))
			continue;
		for (int k = 0; k < 2; k++) {
			char copy[PATH_MAX];
			const char *path = opened;
			if (k == 1 && !strcmp(names[0], names[1]))
				break;
			if (strchr(names[k], '/') || names[k][0] == '.')
				continue;
			if (copydir) {
				if (snprintf(copy, sizeof copy, "%s/%s", copydir, names[k]) >= (int)sizeof copy)
					continue;
				path = copy;
			}
			if (map_add(v, &nv, &libs[i], names[k], path) < 0)
				goto out;
		}
	}
	if (nv)
		qsort(v, nv, sizeof *v, cmp_item);
	/* One file per name and ABI: the same one twice is kept once; a name
	 * recorded with two different files is left to the normal search.
	 * [i, j) is a run of one name (sorted by path within it). */
	for (size_t i = 0, j; i < nv; i = j) {
		int differ = 0;
		for (j = i + 1; j < nv && !auditmap_cmp(&v[i].e, &v[j].e); j++)
			differ |= strcmp(v[i].e.path, v[j].e.path) != 0;
		for (size_t k = differ ? i : i + 1; k < j; k++)
			v[k].drop = 1;
	}
	/* Within the audit object's limits (what does not fit is searched
	 * as usual); ABIs this build has no audit object for are useless. */
	size_t per_abi[NAUDIT_ABIS] = { 0 };
	used = (size_t)snprintf(out, cap, "%s\n", AUDITMAP_MAGIC);
	for (size_t i = 0; i < nv; i++) {
		const struct audit_abi *a = audit_abi_of(v[i].e.elf_class, v[i].e.machine);
		if (v[i].drop || !a || per_abi[a - audit_abis] == AUDITMAP_MAX_ENTRIES ||
		    used + AUDITMAP_LINE_MAX + 2 > AUDITMAP_MAX_BYTES)
			continue;
		if (used + AUDITMAP_LINE_MAX + 2 > cap) {
			size_t ncap = cap * 2 + AUDITMAP_LINE_MAX + 2;
			char *o = realloc(out, ncap);
			if (!o)
				goto out;
			out = o;
			cap = ncap;
		}
		used += auditmap_format(out + used, cap - used, &v[i].e);
		per_abi[a - audit_abis]++;
		abis[a - audit_abis] = 1;
	}
	rc = 0;
	*text = out;
	*len = used;
	out = NULL;
out:
	for (size_t i = 0; v && i < nv; i++)
		free(v[i].path);
	free(v);
	free(out);
	return rc;
}

static int stats_format(const struct libcache_stats *st, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "compat-trace-stats 1\nlibrary-opens-ok %lu\nlibrary-opens-failed %lu\n",
			 st->lib_ok, st->lib_failed);
	if (st->entry_ns)
		n += snprintf(buf + n, cap - (size_t)n, "start-entry-ns %llu\n", (unsigned long long)st->entry_ns);
	if (st->exit_ns)
		n += snprintf(buf + n, cap - (size_t)n, "start-exit-ns %llu\n", (unsigned long long)st->exit_ns);
	return n;
}

/* dir without trailing slashes, into buf (at least "/"). */
static const char *trim_dir(const char *dir, char *buf, size_t cap)
{
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (!len || len >= cap)
		return NULL;
	memcpy(buf, dir, len);
	buf[len] = 0;
	return buf;
}

int libcache_write(const char *dir_arg, const struct libcache_lib *libs, size_t n, int copy,
		   const struct libcache_stats *st, struct cerr *err)
{
	char dir[PATH_MAX], sub[PATH_MAX + 64], real[PATH_MAX], copydir[PATH_MAX + 64], text[256];
	int dfd = -1, hfd = -1, lfd = -1, rc;
	int abis[NAUDIT_ABIS] = { 0 };
	char *map = NULL;
	size_t maplen = 0;

	if (!trim_dir(dir_arg, dir, sizeof dir) || !libcache_lib_dir(dir, sub, sizeof sub))
		return cerr_set(err, COMPAT_EIO, "%s: path too long", dir_arg);
	/* The parents are the user's path; DIR itself and everything in it
	 * are opened without following symlinks. */
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		rc = mkdir_p(dir, err);
		*slash = '/';
		if (rc < 0)
			return rc;
	}
	if ((rc = dfd = dir_open_own(AT_FDCWD, dir, dir, err)) < 0)
		return rc;
	lfd = dfd;
	if (strcmp(sub, dir)) {
		char hw[PATH_MAX + 16];
		snprintf(hw, sizeof hw, "%s/glibc-hwcaps", dir);
		if ((rc = hfd = dir_open_own(dfd, "glibc-hwcaps", hw, err)) < 0)
			goto out;
		if ((rc = lfd = dir_open_own(hfd, strrchr(sub, '/') + 1, sub, err)) < 0)
			goto out;
	}
	/* Also in DIR itself: on a CPU of a lower level ld.so skips the
	 * subdirectory (after one failed open) and finds them there. */
	const int fds[2] = { lfd, lfd != dfd ? dfd : -1 };
	const char *shown[2] = { sub, dir };
	for (size_t i = 0; i < n; i++) {
		const char *names[2] = { libs[i].name, libs[i].soname };
		for (int k = 0; k < 2; k++) {
			if (k == 1 && !strcmp(names[0], names[1]))
				break;
			if (strchr(names[k], '/') || names[k][0] == '.')
				continue;
			for (int d = 0; d < 2 && fds[d] >= 0; d++) {
				rc = copy ? copy_replace_at(fds[d], shown[d], names[k], libs[i].path, err)
					  : link_replace_at(fds[d], shown[d], names[k], libs[i].path, err);
				if (rc < 0)
					goto out;
			}
		}
	}
	/* The map names absolute paths: the copies under DIR's real path. */
	if (copy) {
		if (!realpath(dir, real)) {
			rc = cerr_sys(err, COMPAT_EIO, "%s", dir);
			goto out;
		}
		snprintf(copydir, sizeof copydir, "%s%s", real, sub + strlen(dir));
	}
	if ((rc = map_build(libs, n, copy ? copydir : NULL, &map, &maplen, abis)) < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	if ((rc = fs_write_atomic_at(dfd, dir, AUDITMAP_FILE, map, maplen, err)) < 0)
		goto out;
	for (size_t i = 0; i < NAUDIT_ABIS; i++) {
		size_t len;
		const unsigned char *obj = libcache_audit_object(audit_abis[i].name, &len);
		char name[64];
		if (!abis[i] || !obj)
			continue;
		snprintf(name, sizeof name, "compat-audit-%s.so", audit_abis[i].name);
		if ((rc = fs_write_atomic_at(dfd, dir, name, obj, len, err)) < 0)
			goto out;
	}
	int len = stats_format(st, text, sizeof text);
	rc = fs_write_atomic_at(dfd, dir, LIBCACHE_STATS_FILE, text, (size_t)len, err);
out:
	free(map);
	if (lfd >= 0 && lfd != dfd)
		close(lfd);
	if (hfd >= 0)
		close(hfd);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

/* Not writable by anyone but its owner, who is the caller or root. */
static int check_owner(const struct stat *st, const char *shown, struct cerr *err)
{
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return cerr_set(err, COMPAT_EPERM, "%s: writable by group or others (mode %03o): refusing to use it",
				shown, (unsigned)(st->st_mode & 0777));
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return cerr_set(err, COMPAT_EPERM, "%s: owned by uid %u (not this user or root): refusing to use it",
				shown, (unsigned)st->st_uid);
	return 0;
}

/* A file in the cache: regular (not a symlink), safe as check_owner. */
static int check_file_at(int dfd, const char *dir, const char *name, struct cerr *err)
{
	struct stat st;
	char shown[PATH_MAX + 64];
	snprintf(shown, sizeof shown, "%s/%s", dir, name);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? cerr_set(err, COMPAT_ENOTFOUND, "%s: missing", shown)
				       : cerr_sys(err, COMPAT_EIO, "%s", shown);
	if (!S_ISREG(st.st_mode))
		return cerr_set(err, COMPAT_EPERM, "%s: not a regular file: refusing to use it", shown);
	return check_owner(&st, shown, err);
}

/* The ABI program runs as: its ELF header's, or for a script that of the
 * ELF file its #! line leads to (core/command.h); else NULL. */
static const struct audit_abi *program_abi(const char *path)
{
	uint8_t cls, osabi;
	uint16_t mach, type;
	char *prog = NULL;
	const struct audit_abi *abi = NULL;
	if (command_program(path, getenv("PATH"), &prog, NULL, NULL) == 0 &&
	    elf_peek(prog, &cls, &mach, &type, &osabi, NULL) == 0)
		abi = audit_abi_of(cls, mach);
	free(prog);
	return abi;
}

int libcache_audit_prepare(const char *dir_arg, const char *program, struct libcache_audit *a,
			   struct cerr *err)
{
	char dir[PATH_MAX], real[PATH_MAX], name[64];
	char *map = NULL;
	size_t maplen = 0;
	struct stat st;
	int dfd = -1, rc;

	memset(a, 0, sizeof *a);
	if (!trim_dir(dir_arg, dir, sizeof dir))
		return cerr_set(err, COMPAT_EIO, "%s: path too long", dir_arg);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(dfd, &st) < 0 ||
	    !realpath(dir, real)) {
		rc = cerr_sys(err, COMPAT_EIO, "%s: not a cache directory", dir);
		goto out;
	}
	if ((rc = check_owner(&st, dir, err)) < 0)
		goto out;
	if (strchr(real, ':')) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: a ':' in its path cannot go into LD_AUDIT (a list)", real);
		goto out;
	}
	/* The program's ABI picks the audit object: ld.so refuses (with an
	 * error line) an LD_AUDIT object of another class. */
	const struct audit_abi *abi = NULL;
	char *prog = NULL;
	if (command_find(program, getenv("PATH"), &prog, NULL) == 0) {
		abi = program_abi(prog);
		a->setid = stat(prog, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID));
	}
	free(prog);
	if (!abi)
		abi = audit_abi_of(sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32,
				   sizeof(void *) == 8 ? EM_X86_64 : EM_386);
	if (!abi) {
		rc = cerr_set(err, COMPAT_ENOTFOUND, "%s: no audit object for this machine", program);
		goto out;
	}
	a->abi = abi->name;
	if ((rc = check_file_at(dfd, dir, AUDITMAP_FILE, err)) < 0) {
		if (rc == COMPAT_ENOTFOUND)
			rc = cerr_set(err, COMPAT_EIO, "%s/%s: missing (make the cache with compat trace --cache)",
				      dir, AUDITMAP_FILE);
		goto out;
	}
	snprintf(name, sizeof name, "compat-audit-%s.so", abi->name);
	if ((rc = check_file_at(dfd, dir, name, err)) < 0) {
		if (rc == COMPAT_ENOTFOUND)
			cerr_set(err, COMPAT_ENOTFOUND, "%s: no %s libraries were cached (%s/%s is missing)",
				 program, abi->name, dir, name);
		goto out;
	}
	/* The same parser as the audit object: a map it would reject is
	 * refused here, with its line. */
	char shown[PATH_MAX + 64];
	snprintf(shown, sizeof shown, "%s/%s", real, AUDITMAP_FILE);
	if ((rc = fs_read_file(shown, AUDITMAP_MAX_BYTES, &map, &maplen, err)) < 0)
		goto out;
	struct auditmap_entry *v = malloc(AUDITMAP_MAX_ENTRIES * sizeof *v);
	size_t bad = 0;
	if (!v) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	rc = auditmap_parse(map, maplen, abi->elf_class, abi->machine, v, AUDITMAP_MAX_ENTRIES, &a->nentries, &bad);
	free(v);
	if (rc == AUDITMAP_ELIMIT) {
		rc = cerr_set(err, COMPAT_ELIMIT, "%s: more than %d entries for %s", shown, AUDITMAP_MAX_ENTRIES,
			      abi->name);
		goto out;
	}
	if (rc < 0) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s:%zu: malformed cache map", shown, bad);
		goto out;
	}
	const char *old = getenv("LD_AUDIT");
	if (snprintf(a->ld_audit, sizeof a->ld_audit, "%s/%s%s%s", real, name, old && *old ? ":" : "",
		     old && *old ? old : "") >= (int)sizeof a->ld_audit) {
		rc = cerr_set(err, COMPAT_EIO, "%s: path too long", real);
		goto out;
	}
	rc = 0;
out:
	free(map);
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int libcache_stats_parse(const char *text, size_t len, struct libcache_stats *st)
{
	int have_magic = 0, have_ok = 0, have_failed = 0;
	const char *p = text, *end = text + len;
	memset(st, 0, sizeof *st);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char line[128];
		if (l >= sizeof line)
			return COMPAT_EINVAL;
		memcpy(line, p, l);
		line[l] = 0;
		p += l + (nl ? 1 : 0);
		if (!l)
			continue;
		/* "KEY DIGITS", nothing else */
		char *sp = strchr(line, ' ');
		if (!sp || sp == line || !sp[1] || strlen(sp + 1) > 18 ||
		    strspn(sp + 1, "0123456789") != strlen(sp + 1) || memchr(line, 0, l))
			return COMPAT_EINVAL;
		*sp = 0;
		const char *key = line;
		unsigned long v = strtoul(sp + 1, NULL, 10);
		if (!strcmp(key, "compat-trace-stats"))
			have_magic = v == 1;
		else if (!strcmp(key, "library-opens-ok"))
			have_ok = 1, st->lib_ok = v;
		else if (!strcmp(key, "library-opens-failed"))
			have_failed = 1, st->lib_failed = v;
		else if (!strcmp(key, "start-entry-ns"))
			st->entry_ns = strtoull(sp + 1, NULL, 10);
		else if (!strcmp(key, "start-exit-ns"))
			st->exit_ns = strtoull(sp + 1, NULL, 10);
		/* unknown keys: kept for later versions, ignored */
	}
	return have_magic && have_ok && have_failed ? 0 : COMPAT_EINVAL;
}

int libcache_stats_read(const char *dir, struct libcache_stats *st, struct cerr *err)
{
	char p[PATH_MAX], *text = NULL;
	size_t len = 0;
	if (snprintf(p, sizeof p, "%s/" LIBCACHE_STATS_FILE, dir) >= (int)sizeof p)
		return cerr_set(err, COMPAT_EIO, "%s: path too long", dir);
	int rc = fs_read_file(p, LIBCACHE_STATS_MAX, &text, &len, err);
	if (rc < 0)
		return rc;
	if (libcache_stats_parse(text, len, st) < 0)
		rc = cerr_set(err, COMPAT_EINVAL, "%s: not a compat trace stats file", p);
	free(text);
	return rc;
}

/* Is the entry's file the one recorded (device, inode, size, mtime)? */
static int entry_unchanged(const struct auditmap_entry *e)
{
	struct stat st;
	return stat(e->path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_ino == e->ino &&
	       major(st.st_dev) == e->dev_major && minor(st.st_dev) == e->dev_minor &&
	       (uint64_t)st.st_size == e->size && st.st_mtim.tv_sec == e->mtime_sec &&
	       (uint32_t)st.st_mtim.tv_nsec == e->mtime_nsec;
}

/* Does one of the loaded objects (infos[0..n), with their map names)
 * define the versions obj needs? The first unmet one into why. */
static int versions_met(const struct elf_info *obj, const char *obj_name, const struct elf_info *infos,
			const char *const *names, size_t n, char *why, size_t cap)
{
	for (size_t i = 0; i < obj->nvneeds; i++) {
		const struct elf_vneed *vn = &obj->vneeds[i];
		const struct elf_info *lib = NULL;
		for (size_t k = 0; k < n && !lib; k++)
			if (strcmp(names[k], vn->file) == 0 || (infos[k].soname && strcmp(infos[k].soname, vn->file) == 0))
				lib = &infos[k];
		if (!lib)
			continue;	/* the loader's (not read here) */
		for (size_t j = 0; j < vn->nversions; j++) {
			int has = vn->weak[j];
			for (size_t d = 0; d < lib->nverdefs && !has; d++)
				has = strcmp(lib->verdefs[d], vn->versions[j]) == 0;
			if (!has) {
				snprintf(why, cap, "%s needs %s from %s, which the cached file lacks", obj_name,
					 vn->versions[j], vn->file);
				return 0;
			}
		}
	}
	return 1;
}

int libcache_audit_covers(const char *dir_arg, const char *program, char *why, size_t cap, struct cerr *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	char *map = NULL, *prog = NULL;
	size_t maplen = 0, n = 0, bad = 0;
	struct auditmap_entry *v = NULL;
	struct strmap loaded = { 0 };
	struct elf_info info, *libs = NULL;
	const char **queue = NULL, **libnames = NULL;
	size_t nqueue = 0, head = 0, nlibs = 0, qcap = AUDITMAP_MAX_ENTRIES * 4;
	int rc = 0, have_info = 0;

	*why = '\0';
	if (!trim_dir(dir_arg, dir, sizeof dir))
		return cerr_set(err, COMPAT_EIO, "%s: path too long", dir_arg);
	const struct audit_abi *abi = NULL;
	if ((rc = command_program(program, getenv("PATH"), &prog, NULL, err)) < 0)
		goto out;
	if ((rc = elf_read(prog, ELF_READ_VERSIONS, &info, err)) < 0)
		goto out;
	have_info = 1;
	if (!(abi = audit_abi_of(info.elf_class, info.machine))) {
		snprintf(why, cap, "%s: no audit object for its machine", prog);
		goto out;
	}
	snprintf(path, sizeof path, "%s/%s", dir, AUDITMAP_FILE);
	if ((rc = fs_read_file(path, AUDITMAP_MAX_BYTES, &map, &maplen, err)) < 0)
		goto out;
	if (!(v = malloc(AUDITMAP_MAX_ENTRIES * sizeof *v)) || !(queue = malloc(qcap * sizeof *queue)) ||
	    !(libs = calloc(AUDITMAP_MAX_ENTRIES, sizeof *libs)) || !(libnames = calloc(AUDITMAP_MAX_ENTRIES, sizeof *libnames)))
		goto oom;
	if (auditmap_parse(map, maplen, abi->elf_class, abi->machine, v, AUDITMAP_MAX_ENTRIES, &n, &bad) < 0) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s:%zu: malformed cache map", path, bad);
		goto out;
	}
	if (info.interp && access(info.interp, F_OK) != 0) {
		snprintf(why, cap, "its loader %s is missing", info.interp);
		goto out;
	}
	/* The loader is loaded already: a need of its name (libc's) is met. */
	if (info.interp && strset_add(&loaded, strrchr(info.interp, '/') ? strrchr(info.interp, '/') + 1 : info.interp) < 0)
		goto oom;
	/* Breadth first, as ld.so loads: every name must be an unchanged
	 * recorded file, whose own needs are then followed. */
	for (size_t k = 0; k < info.nneeded && nqueue < qcap; k++)
		queue[nqueue++] = info.needed[k];
	while (head < nqueue && !*why) {
		const char *name = queue[head++];
		if (strmap_get(&loaded, name))
			continue;
		const struct auditmap_entry *e = strchr(name, '/') ? NULL : auditmap_find(v, n, name);
		if (!e) {
			snprintf(why, cap, "%s is not in the cache", name);
			break;
		}
		if (!entry_unchanged(e)) {
			snprintf(why, cap, "%s changed since the cache was made", e->path);
			break;
		}
		if (nlibs == AUDITMAP_MAX_ENTRIES) {
			snprintf(why, cap, "more than %d libraries", AUDITMAP_MAX_ENTRIES);
			break;
		}
		struct elf_info *li = &libs[nlibs];
		if ((rc = elf_read(e->path, ELF_READ_VERSIONS, li, err)) < 0)
			goto out;
		libnames[nlibs++] = e->name;
		if (strset_add(&loaded, name) < 0 || (li->soname && strset_add(&loaded, li->soname) < 0))
			goto oom;
		/* its needs, as the map's own strings (li's stay until the end) */
		for (size_t k = 0; k < li->nneeded && nqueue < qcap; k++)
			if (!strmap_get(&loaded, li->needed[k]))
				queue[nqueue++] = li->needed[k];
	}
	if (!*why && versions_met(&info, prog, libs, libnames, nlibs, why, cap)) {
		size_t k = 0;
		while (k < nlibs && versions_met(&libs[k], libnames[k], libs, libnames, nlibs, why, cap))
			k++;
		if (k == nlibs)
			rc = 1;
	}
	goto out;
oom:
	rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
out:
	if (have_info)
		elf_info_free(&info);
	for (size_t k = 0; libs && k < nlibs; k++)
		elf_info_free(&libs[k]);
	strmap_free(&loaded);
	free(libs);
	free(libnames);
	free(queue);
	free(v);
	free(map);
	free(prog);
	return rc;
}
