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
#include <unistd.h>

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

static int set_add(struct strmap *m, const char *k)
{
	return strmap_get(m, k) || strmap_put(m, k, (void *)1) == 0 ? 0 : COMPAT_ENOMEM;
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
		return set_add(&s->opened, ev->path);
	if (ev->kind != PTRACE_KIND_EXEC)
		return 0;
	if (!strmap_get(&s->execd, ev->path) && s->nexecs < LIBCACHE_MAX_EXECS &&
	    !(s->execs[s->nexecs++] = strdup(ev->path)))
		return COMPAT_ENOMEM;
	return set_add(&s->execd, ev->path);
}

void libcache_libs_free(struct libcache_lib *libs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(libs[i].path);
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
		v[nv].name = strdup(base);
		v[nv].soname = strdup(info.soname ? info.soname : base);
		elf_info_free(&info);
		if (!v[nv].path || !v[nv].name || !v[nv].soname) {
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
		    set_add(&names, a->attrs[i].value) < 0)
			goto out;
	for (size_t i = 0; i < n; i++) {
		if (set_add(&names, libs[i].soname) < 0)
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

/* dir/name -> target, replacing what is there (symlink to a temp, rename). */
static int link_replace(const char *dir, const char *name, const char *target, struct cerr *err)
{
	char p[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p ||
	    snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", dir, name, (int)getpid()) >= (int)sizeof tmp)
		return cerr_set(err, COMPAT_EIO, "%s/%s: path too long", dir, name);
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", tmp);
	if (rename(tmp, p) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return cerr_sys(err, COMPAT_EIO, "%s", p);
	}
	return 0;
}

static int copy_replace(const char *dir, const char *name, const char *src, struct cerr *err)
{
	char p[PATH_MAX], *data = NULL;
	size_t len = 0;
	if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p)
		return cerr_set(err, COMPAT_EIO, "%s/%s: path too long", dir, name);
	int rc = fs_read_file(src, LIBCACHE_MAX_COPY, &data, &len, err);
	if (rc == 0)
		rc = fs_write_atomic(p, data, len, err);
	free(data);
	return rc;
}

int libcache_write(const char *dir, const struct libcache_lib *libs, size_t n, int copy,
		   const struct libcache_stats *st, struct cerr *err)
{
	char sub[PATH_MAX], p[PATH_MAX + 32], text[128];
	int rc;
	if (!libcache_lib_dir(dir, sub, sizeof sub))
		return cerr_set(err, COMPAT_EIO, "%s: path too long", dir);
	if ((rc = mkdir_p(sub, err)) < 0)
		return rc;
	/* Also in DIR itself: on a CPU of a lower level ld.so skips the
	 * subdirectory (after one failed open) and finds them there. */
	const char *dirs[2] = { sub, strcmp(sub, dir) ? dir : NULL };
	for (size_t i = 0; i < n; i++) {
		const char *names[2] = { libs[i].name, libs[i].soname };
		for (int k = 0; k < 2; k++) {
			if (k == 1 && !strcmp(names[0], names[1]))
				break;
			if (strchr(names[k], '/') || names[k][0] == '.')
				continue;
			for (int d = 0; d < 2 && dirs[d]; d++) {
				rc = copy ? copy_replace(dirs[d], names[k], libs[i].path, err)
					  : link_replace(dirs[d], names[k], libs[i].path, err);
				if (rc < 0)
					return rc;
			}
		}
	}
	int len = snprintf(text, sizeof text, "compat-trace-stats 1\nlibrary-opens-ok %lu\nlibrary-opens-failed %lu\n",
			   st->lib_ok, st->lib_failed);
	snprintf(p, sizeof p, "%s/" LIBCACHE_STATS_FILE, dir);
	return fs_write_atomic(p, text, (size_t)len, err);
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
