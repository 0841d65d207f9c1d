#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu.h"
#include "ldcache.h"
#include "resolve.h"
#include "strmap.h"

#define MAX_SUBDIRS 16
#define MAX_OBJECTS 4096	/* a closure larger than this is refused */

/* What one loader (chosen by PT_INTERP / class / machine) does. */
struct ldso_conf {
	const char *interp;		/* default PT_INTERP */
	int32_t flags[2];		/* ld.so.cache entry flags it accepts */
	size_t nflags;
	const char *dirs[4];		/* default directories */
	size_t ndirs;
	const char *lib;		/* $LIB */
	const char *platform;		/* $PLATFORM */
	const char *subdirs[MAX_SUBDIRS]; /* tried in each directory, "" last */
	size_t nsubdirs;
	const char *hwcaps[3];		/* glibc-hwcaps names, best first */
	size_t nhwcaps;
	int known;
};

/* An ELF file read once per resolver. */
struct cached_obj {
	struct elf_info info;
	struct elf_symtab *symtab;
	dev_t dev;
	ino_t ino;
};

struct resolver {
	char *root;		/* NULL for "/" */
	int root_fd;
	char *library_path;
	unsigned elf_flags;
	struct ldcache cache;
	int cache_state;	/* 0 not loaded, 1 loaded, -1 unreadable */
	struct strmap objects;	/* loader-visible path -> struct cached_obj */
	struct strmap dirs;	/* directory -> (void *)1 exists, (void *)2 not */
	struct strmap subdirs;	/* search directory -> struct subdir_list of the existing ones */
};

/* The subdirectories (hwcaps, legacy, "") of one search directory that
 * exist, in search order, as "dir/sub/" prefixes. */
struct subdir_list {
	char **prefix;
	size_t n;
};

/* State of one resolution. */
struct run {
	struct resolver *rv;
	struct resolution *r;
	struct ldso_conf conf;
	char *main_origin;
	struct strmap names;	/* requested name or soname -> index + 1 */
};

const char *rs_how_name(enum rs_how how)
{
	static const char *const names[] = {
		[RS_MAIN] = "[program]", [RS_INTERP] = "[interpreter]", [RS_PATH] = "[direct]",
		[RS_RPATH] = "[rpath]", [RS_LD_LIBRARY_PATH] = "[LD_LIBRARY_PATH]",
		[RS_RUNPATH] = "[runpath]", [RS_LDCACHE] = "[ld.so.cache]",
		[RS_DEFAULT] = "[default path]", [RS_NOTFOUND] = "not found",
	};
	return how <= RS_NOTFOUND ? names[how] : "?";
}

int resolver_open(const struct resolver *rv, const char *path)
{
	if (rv->root_fd < 0)
		return open(path, O_RDONLY | O_CLOEXEC);
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	int fd = (int)syscall(SYS_openat2, rv->root_fd, path, &how, sizeof how);
	if (fd < 0 && errno == ENOSYS) {
		while (*path == '/')
			path++;
		fd = openat(rv->root_fd, *path ? path : ".", O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

static int dir_exists(struct resolver *rv, const char *dir)
{
	void *v = strmap_get(&rv->dirs, dir);
	if (v)
		return v == (void *)1;
	int exists;
	if (rv->root_fd < 0) {
		struct stat st;
		exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	} else {
		int fd = resolver_open(rv, dir);
		struct stat st;
		exists = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
		if (fd >= 0)
			close(fd);
	}
	strmap_put(&rv->dirs, dir, exists ? (void *)1 : (void *)2);
	return exists;
}

static void add_subdir(struct ldso_conf *c, const char *s)
{
	for (size_t i = 0; i < c->nsubdirs; i++)
		if (strcmp(c->subdirs[i], s) == 0)
			return;
	if (c->nsubdirs < MAX_SUBDIRS)
		c->subdirs[c->nsubdirs++] = s;
}

/* The loader's configuration for a program of this class and machine.
 * Debian's multiarch loader uses lib/<triplet> directories; elsewhere
 * (and in a --root without them) lib64. */
static void conf_for(struct resolver *rv, int elf_class, int machine, struct ldso_conf *c)
{
	memset(c, 0, sizeof *c);
	c->known = 1;
	if (elf_class == ELFCLASS64 && machine == EM_X86_64) {
		int multiarch = dir_exists(rv, "/usr/lib/x86_64-linux-gnu") ||
				dir_exists(rv, "/lib/x86_64-linux-gnu");
		c->interp = "/lib64/ld-linux-x86-64.so.2";
		c->flags[0] = LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_X8664_LIB64;
		c->nflags = 1;
		if (multiarch) {
			c->dirs[0] = "/lib/x86_64-linux-gnu";
			c->dirs[1] = "/usr/lib/x86_64-linux-gnu";
			c->dirs[2] = "/lib";
			c->dirs[3] = "/usr/lib";
			c->ndirs = 4;
			c->lib = "lib/x86_64-linux-gnu";
		} else {
			c->dirs[0] = "/lib64";
			c->dirs[1] = "/usr/lib64";
			c->ndirs = 2;
			c->lib = "lib64";
		}
		c->platform = "x86_64";
		int level = cpu_x86_isa_level();
		static const char *const hw[] = { "glibc-hwcaps/x86-64-v4", "glibc-hwcaps/x86-64-v3",
						  "glibc-hwcaps/x86-64-v2" };
		static const char *const hwn[] = { "x86-64-v4", "x86-64-v3", "x86-64-v2" };
		for (int l = 4; l >= 2; l--)
			if (level >= l) {
				add_subdir(c, hw[4 - l]);
				c->hwcaps[c->nhwcaps++] = hwn[4 - l];
			}
		/* Legacy subdirectories, as ld.so --help lists them for
		 * platform x86_64 and hwcap x86_64. */
		add_subdir(c, "tls/x86_64/x86_64");
		add_subdir(c, "tls/x86_64");
		add_subdir(c, "tls");
		add_subdir(c, "x86_64/x86_64");
		add_subdir(c, "x86_64");
	} else if (elf_class == ELFCLASS32 && machine == EM_386) {
		int multiarch = dir_exists(rv, "/usr/lib/i386-linux-gnu");
		c->interp = "/lib/ld-linux.so.2";
		c->flags[0] = LDCACHE_FLAG_ELF;
		c->flags[1] = LDCACHE_FLAG_ELF_LIBC6;
		c->nflags = 2;
		c->dirs[0] = multiarch ? "/lib/i386-linux-gnu" : "/lib32";
		c->dirs[1] = multiarch ? "/usr/lib/i386-linux-gnu" : "/usr/lib32";
		c->dirs[2] = "/lib";
		c->dirs[3] = "/usr/lib";
		c->ndirs = 4;
		c->lib = multiarch ? "lib/i386-linux-gnu" : "lib32";
		c->platform = "i686";
		add_subdir(c, "tls/i686/sse2");
		add_subdir(c, "tls/i686");
		add_subdir(c, "tls/sse2");
		add_subdir(c, "tls");
		add_subdir(c, "i686/sse2");
		add_subdir(c, "i686");
		add_subdir(c, "sse2");
	} else if (elf_class == ELFCLASS64 && machine == EM_AARCH64) {
		c->interp = "/lib/ld-linux-aarch64.so.1";
		c->flags[0] = LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_AARCH64_LIB64;
		c->nflags = 1;
		c->dirs[0] = "/lib/aarch64-linux-gnu";
		c->dirs[1] = "/usr/lib/aarch64-linux-gnu";
		c->dirs[2] = "/lib";
		c->dirs[3] = "/usr/lib";
		c->ndirs = 4;
		c->lib = "lib/aarch64-linux-gnu";
		c->platform = "aarch64";
	} else {
		/* Unknown loader: default directories only, no cache. */
		c->known = 0;
		c->dirs[0] = "/lib";
		c->dirs[1] = "/usr/lib";
		c->ndirs = 2;
		c->lib = "lib";
		c->platform = "";
	}
	add_subdir(c, "");
}

int resolver_new(const struct rs_opts *o, struct resolver **out, struct cerr *err)
{
	struct resolver *rv = calloc(1, sizeof *rv);
	if (!rv)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	rv->root_fd = -1;
	rv->elf_flags = o->elf_flags;
	if (o->root && strcmp(o->root, "/") != 0) {
		rv->root = strdup(o->root);
		rv->root_fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rv->root_fd < 0) {
			int rc = cerr_sys(err, COMPAT_EIO, "%s", o->root);
			resolver_free(rv);
			return rc;
		}
	}
	if (o->library_path && !(rv->library_path = strdup(o->library_path))) {
		resolver_free(rv);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	*out = rv;
	return 0;
}

static void cached_free(void *p)
{
	struct cached_obj *c = p;
	if (c) {
		elf_info_free(&c->info);
		elf_symtab_close(c->symtab);
		free(c);
	}
}

static void subdir_list_free(void *p)
{
	struct subdir_list *l = p;
	for (size_t i = 0; i < l->n; i++)
		free(l->prefix[i]);
	free(l->prefix);
	free(l);
}

void resolver_free(struct resolver *rv)
{
	if (!rv)
		return;
	strmap_each(&rv->objects, cached_free);
	strmap_free(&rv->objects);
	strmap_free(&rv->dirs);
	strmap_each(&rv->subdirs, subdir_list_free);
	strmap_free(&rv->subdirs);
	ldcache_free(&rv->cache);
	if (rv->root_fd >= 0)
		close(rv->root_fd);
	free(rv->root);
	free(rv->library_path);
	free(rv);
}

static const struct ldcache *cache_get(struct resolver *rv)
{
	if (rv->cache_state == 0) {
		int fd = resolver_open(rv, "/etc/ld.so.cache");
		rv->cache_state = -1;
		if (fd >= 0) {
			struct stat st;
			if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= LDCACHE_MAX_BYTES) {
				char *buf = malloc((size_t)st.st_size);
				if (buf && pread(fd, buf, (size_t)st.st_size, 0) == st.st_size &&
				    ldcache_parse(buf, (size_t)st.st_size, "/etc/ld.so.cache", &rv->cache,
						  NULL) == 0)
					rv->cache_state = 1;
				free(buf);
			}
			close(fd);
		}
	}
	return rv->cache_state == 1 ? &rv->cache : NULL;
}

/* Read (or reuse) the ELF file at loader-visible path, from fd. */
static int object_get(struct resolver *rv, const char *path, int fd, unsigned flags,
		      struct cached_obj **out, struct cerr *err)
{
	struct cached_obj *c = strmap_get(&rv->objects, path);
	if (c) {
		*out = c;
		return 0;
	}
	if (!(c = calloc(1, sizeof *c)))
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	int rc = elf_read_fd_symtab(fd, path, flags, &c->info, &c->symtab, err);
	c->dev = (dev_t)c->info.dev;
	c->ino = (ino_t)c->info.ino;
	if (rc < 0 || strmap_put(&rv->objects, path, c) < 0) {
		if (rc == 0)
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		cached_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---- dynamic string tokens and path lists ---- */

/* Expand $ORIGIN, $LIB, $PLATFORM (and ${...}) in s. Unknown tokens stay
 * as written, as in ld.so. Returns a malloc'd string or NULL. */
static char *expand(const char *s, const char *origin, const struct ldso_conf *c, int *used_origin)
{
	size_t cap = strlen(s) + 1 + 64, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (*s) {
		const char *val = NULL;
		size_t skip = 0;
		if (*s == '$') {
			static const struct { const char *name; int which; } toks[] = {
				{ "ORIGIN", 0 }, { "LIB", 1 }, { "PLATFORM", 2 } };
			for (size_t i = 0; i < 3 && !val; i++) {
				size_t len = strlen(toks[i].name);
				int braced = s[1] == '{';
				const char *p = s + 1 + braced;
				if (strncmp(p, toks[i].name, len) != 0)
					continue;
				if (braced ? p[len] != '}' : (p[len] == '_' || (p[len] >= 'A' && p[len] <= 'Z') ||
							     (p[len] >= 'a' && p[len] <= 'z') ||
							     (p[len] >= '0' && p[len] <= '9')))
					continue;
				skip = 1 + braced + len + braced;
				val = toks[i].which == 0 ? (origin ? origin : ".")
				    : toks[i].which == 1 ? c->lib : c->platform;
				if (toks[i].which == 0 && used_origin)
					*used_origin = 1;
			}
		}
		size_t add = val ? strlen(val) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			char *nb = realloc(out, cap);
			if (!nb) {
				free(out);
				return NULL;
			}
			out = nb;
		}
		if (val) {
			memcpy(out + n, val, add);
			n += add;
			s += skip;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	return out;
}

static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static char *join(const char *dir, const char *sub, const char *name)
{
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	char *p = NULL;
	if (asprintf(&p, "%.*s%s%s%s%s", (int)dl, dir, dl && dir[dl - 1] == '/' ? "" : "/",
		     sub, *sub ? "/" : "", name) < 0)
		return NULL;
	return p;
}

/* ---- the search ---- */

enum try_result { TRY_NOFILE, TRY_WRONG, TRY_BAD, TRY_FOUND };

static enum try_result try_candidate(struct run *st, const char *path, int elf_class,
				     int machine, int *fd_out)
{
	int fd = resolver_open(st->rv, path);
	if (fd < 0)
		return TRY_NOFILE;
	uint8_t cls, osabi;
	uint16_t mach, type;
	int rc = elf_peek_fd(fd, path, &cls, &mach, &type, &osabi, NULL);
	if (rc == COMPAT_EINVAL) {
		close(fd);
		return TRY_BAD;
	}
	if (rc < 0 || cls != elf_class || mach != machine || (type != ET_DYN && type != ET_EXEC)) {
		close(fd);
		return rc < 0 ? TRY_NOFILE : TRY_WRONG;
	}
	*fd_out = fd;
	return TRY_FOUND;
}

static int add_searched(struct rs_obj *o, const char *dir, enum rs_how why)
{
	for (size_t i = 0; i < o->nsearched; i++)
		if (o->searched[i].why == why && strcmp(o->searched[i].dir, dir) == 0)
			return 0;
	struct rs_searched *ns = realloc(o->searched, (o->nsearched + 1) * sizeof *ns);
	if (!ns)
		return COMPAT_ENOMEM;
	o->searched = ns;
	if (!(ns[o->nsearched].dir = strdup(dir)))
		return COMPAT_ENOMEM;
	ns[o->nsearched++].why = why;
	return 0;
}

/* The existing subdirectories of dir, computed once per resolver (the
 * configuration is per machine, which is fixed for a resolver's programs
 * in practice; the key includes it to be safe). */
static const struct subdir_list *subdirs_of(struct run *st, const char *dir)
{
	char key[4200];
	snprintf(key, sizeof key, "%s\n%s", st->conf.platform, dir);
	struct subdir_list *l = strmap_get(&st->rv->subdirs, key);
	if (l)
		return l;
	if (!(l = calloc(1, sizeof *l)) || !(l->prefix = calloc(st->conf.nsubdirs, sizeof *l->prefix))) {
		free(l);
		return NULL;
	}
	if (dir_exists(st->rv, dir)) {
		for (size_t s = 0; s < st->conf.nsubdirs; s++) {
			char *sd = join(dir, st->conf.subdirs[s], "");
			if (sd && (!*st->conf.subdirs[s] || dir_exists(st->rv, sd)))
				l->prefix[l->n++] = sd;
			else
				free(sd);
		}
	}
	if (strmap_put(&st->rv->subdirs, key, l) < 0) {
		subdir_list_free(l);
		return NULL;
	}
	return l;
}

/* Search name in a ':'-separated list of directories. Returns 1 found
 * (path/fd set), 0 not found, -1 stop (bad file: o->problem set). */
static int search_list(struct run *st, struct rs_obj *o, const char *name, const char *list,
		       const char *origin, enum rs_how why, int elf_class, int machine,
		       char **path_out, int *fd_out, int *via_origin)
{
	const char *p = list;
	while (p) {
		const char *sep = strpbrk(p, why == RS_LD_LIBRARY_PATH ? ":;" : ":");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		char *raw = len ? strndup(p, len) : strdup(".");
		p = sep ? sep + 1 : NULL;
		if (!raw)
			return -1;
		int uses_origin = 0;
		char *dir = expand(raw, origin, &st->conf, &uses_origin);
		free(raw);
		if (!dir)
			return -1;
		add_searched(o, dir, why);
		int res = 0;
		const struct subdir_list *sl = subdirs_of(st, dir);
		for (size_t k = 0; sl && k < sl->n && res == 0; k++) {
			char *cand;
			if (asprintf(&cand, "%s%s", sl->prefix[k], name) < 0) {
				res = -1;
				break;
			}
			switch (try_candidate(st, cand, elf_class, machine, fd_out)) {
			case TRY_FOUND:
				*path_out = cand;
				*via_origin = uses_origin;
				res = 1;
				continue;
			case TRY_BAD:
				if (asprintf(&o->problem, "%s: invalid ELF header", cand) < 0)
					o->problem = NULL;
				res = -1;
				break;
			default:
				break;
			}
			free(cand);
		}
		free(dir);
		if (res)
			return res;
	}
	return 0;
}

static int in_system_dir(const struct ldso_conf *c, const char *path)
{
	for (size_t i = 0; i < c->ndirs; i++) {
		size_t l = strlen(c->dirs[i]);
		if (strncmp(path, c->dirs[i], l) == 0 && path[l] == '/')
			return 1;
	}
	return 0;
}

/* Find name for requester req; fills o (path, how, searched). Returns 0
 * or COMPAT_ENOMEM; the fd of a found file is returned in *fd. */
static int search(struct run *st, int req, const char *name, struct rs_obj *o, int *fd)
{
	struct resolution *r = st->r;
	const struct elf_info *ri = r->objs[req].info;
	const struct elf_info *mi = r->objs[0].info;
	int cls = mi->elf_class, mach = mi->machine, found = 0, via = 0;
	char *path = NULL, *origin_req = req == 0 ? NULL : dirname_of(r->objs[req].path);
	const char *oreq = req == 0 ? st->main_origin : origin_req;

	if (strchr(name, '/')) {
		char *p = expand(name, oreq, &st->conf, &via);
		if (!p) {
			free(origin_req);
			return COMPAT_ENOMEM;
		}
		enum try_result t = try_candidate(st, p, cls, mach, fd);
		if (t == TRY_FOUND) {
			o->path = p;
			o->how = RS_PATH;
			o->via_origin = via;
		} else {
			if (t == TRY_BAD && asprintf(&o->problem, "%s: invalid ELF header", p) < 0)
				o->problem = NULL;
			add_searched(o, p, RS_PATH);
			free(p);
		}
		free(origin_req);
		return 0;
	}

	if (!ri->runpath) {
		int did_main = 0;
		for (int l = req; l >= 0 && !found; l = r->objs[l].loader) {
			if (!r->objs[l].info->rpath)
				continue;
			char *lo = l == 0 ? NULL : dirname_of(r->objs[l].path);
			found = search_list(st, o, name, r->objs[l].info->rpath, l == 0 ? st->main_origin : lo,
					    RS_RPATH, cls, mach, &path, fd, &via);
			free(lo);
			did_main |= l == 0;
		}
		if (!found && !did_main && mi->rpath)
			found = search_list(st, o, name, mi->rpath, st->main_origin, RS_RPATH, cls, mach,
					    &path, fd, &via);
		if (found == 1)
			o->how = RS_RPATH;
	}
	if (!found && st->rv->library_path) {
		found = search_list(st, o, name, st->rv->library_path, st->main_origin,
				    RS_LD_LIBRARY_PATH, cls, mach, &path, fd, &via);
		if (found == 1)
			o->how = RS_LD_LIBRARY_PATH;
	}
	if (!found && ri->runpath) {
		found = search_list(st, o, name, ri->runpath, oreq, RS_RUNPATH, cls, mach, &path, fd,
				    &via);
		if (found == 1)
			o->how = RS_RUNPATH;
	}
	int nodeflib = (ri->flags_1 & DF_1_NODEFLIB) != 0;
	if (!found && st->conf.known) {
		const struct ldcache *c = cache_get(st->rv);
		const struct ldcache_entry *e = c ? ldcache_lookup(c, name, st->conf.flags, st->conf.nflags,
								   st->conf.hwcaps, st->conf.nhwcaps)
						  : NULL;
		add_searched(o, "/etc/ld.so.cache", RS_LDCACHE);
		if (e && !(nodeflib && in_system_dir(&st->conf, e->value))) {
			enum try_result t = try_candidate(st, e->value, cls, mach, fd);
			if (t == TRY_FOUND) {
				found = 1;
				o->how = RS_LDCACHE;
				path = strdup(e->value);
			}
		}
	}
	if (!found && !nodeflib) {
		for (size_t i = 0; i < st->conf.ndirs && !found; i++)
			found = search_list(st, o, name, st->conf.dirs[i], NULL, RS_DEFAULT, cls, mach,
					    &path, fd, &via);
		if (found == 1)
			o->how = RS_DEFAULT;
	}
	if (found == 1) {
		o->path = path;
		o->via_origin = via;
	}
	free(origin_req);
	return 0;
}

static int name_add(struct run *st, const char *name, int idx)
{
	if (strmap_get(&st->names, name))
		return 0;
	return strmap_put(&st->names, name, (void *)(intptr_t)(idx + 1)) < 0 ? COMPAT_ENOMEM : 0;
}

static int obj_append(struct resolution *r, struct rs_obj *o)
{
	if (r->n >= MAX_OBJECTS)
		return COMPAT_ELIMIT;
	struct rs_obj *n = realloc(r->objs, (r->n + 1) * sizeof *n);
	if (!n)
		return COMPAT_ENOMEM;
	r->objs = n;
	n[r->n++] = *o;
	return 0;
}

static void obj_free(struct rs_obj *o)
{
	free(o->name);
	free(o->path);
	free(o->problem);
	for (size_t i = 0; i < o->nsearched; i++)
		free(o->searched[i].dir);
	free(o->searched);
	free(o->needs);
}

void resolution_free(struct resolution *r)
{
	for (size_t i = 0; i < r->n; i++)
		obj_free(&r->objs[i]);
	free(r->objs);
	memset(r, 0, sizeof *r);
	r->interp = -1;
}

/* Load the loader named by PT_INTERP (or the default one) up front, as
 * the kernel and ld.so do: it answers to its path and its soname. */
static int load_interp(struct run *st, const char *interp)
{
	int fd = resolver_open(st->rv, interp);
	if (fd < 0)
		return 0;	/* absent: the verdict reports it */
	struct cached_obj *c;
	int rc = object_get(st->rv, interp, fd, 0, &c, NULL);
	close(fd);
	if (rc < 0)
		return rc == COMPAT_ENOMEM ? rc : 0;
	struct rs_obj o = { .loader = 0, .how = RS_INTERP, .info = &c->info, .symtab = c->symtab,
			    .dev = c->dev, .ino = c->ino };
	o.name = strdup(interp);
	o.path = strdup(interp);
	if (!o.name || !o.path || obj_append(st->r, &o) < 0) {
		obj_free(&o);
		return COMPAT_ENOMEM;
	}
	st->r->interp = (int)st->r->n - 1;
	if (name_add(st, interp, st->r->interp) < 0 ||
	    (c->info.soname && name_add(st, c->info.soname, st->r->interp) < 0))
		return COMPAT_ENOMEM;
	return 0;
}

static int main_origin(struct run *st, const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		snprintf(real, sizeof real, "%s", path);
	const char *p = real;
	const char *root = st->rv->root;
	if (root) {
		size_t rl = strlen(root);
		while (rl > 1 && root[rl - 1] == '/')
			rl--;
		if (strncmp(real, root, rl) == 0 && real[rl] == '/')
			p = real + rl;
	}
	st->main_origin = dirname_of(p);
	return st->main_origin ? 0 : COMPAT_ENOMEM;
}

int resolver_run(struct resolver *rv, const char *path, struct resolution *r, struct cerr *err)
{
	struct run st = { .rv = rv, .r = r };
	struct cached_obj *mainc = NULL;
	int rc = 0;

	memset(r, 0, sizeof *r);
	r->interp = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", path);
	/* The program is cached under a key no loader path can have. */
	char key[PATH_MAX + 8];
	snprintf(key, sizeof key, "\001%s", path);
	rc = object_get(rv, key, fd, rv->elf_flags, &mainc, err);
	close(fd);
	if (rc < 0)
		return rc;
	if (mainc->info.type != ET_EXEC && mainc->info.type != ET_DYN) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: not an executable or shared object", path);
		goto out;
	}
	struct rs_obj m = { .loader = -1, .how = RS_MAIN, .info = &mainc->info, .symtab = mainc->symtab,
			    .dev = mainc->dev, .ino = mainc->ino };
	m.name = strdup(path);
	m.path = strdup(path);
	if (!m.name || !m.path || obj_append(r, &m) < 0) {
		obj_free(&m);
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	if (!mainc->info.dynamic || !mainc->info.nneeded)
		goto out;
	conf_for(rv, mainc->info.elf_class, mainc->info.machine, &st.conf);
	if ((rc = main_origin(&st, path)) < 0 ||
	    (rc = load_interp(&st, mainc->info.interp ? mainc->info.interp : st.conf.interp)) < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}

	for (size_t q = 0; q < r->n; q++) {
		if ((int)q == r->interp || !r->objs[q].info)
			continue;
		const struct elf_info *qi = r->objs[q].info;
		int *needs = calloc(qi->nneeded ? qi->nneeded : 1, sizeof *needs);
		if (!needs) {
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
			goto out;
		}
		r->objs[q].needs = needs;
		for (size_t k = 0; k < qi->nneeded; k++) {
			const char *name = qi->needed[k];
			void *hit = strmap_get(&st.names, name);
			if (hit) {
				needs[k] = (int)(intptr_t)hit - 1;
				continue;
			}
			struct rs_obj o = { .loader = (int)q, .how = RS_NOTFOUND };
			int ofd = -1;
			if (!(o.name = strdup(name)) || search(&st, (int)q, name, &o, &ofd) < 0) {
				obj_free(&o);
				rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
				goto out;
			}
			int idx = -1;
			if (o.path) {
				struct cached_obj *c;
				struct cerr e2;
				if (object_get(rv, o.path, ofd, 0, &c, &e2) < 0) {
					free(o.problem);
					o.problem = strdup(e2.msg);
					free(o.path);
					o.path = NULL;
					o.how = RS_NOTFOUND;
				} else {
					o.info = &c->info;
					o.symtab = c->symtab;
					o.dev = c->dev;
					o.ino = c->ino;
					/* The same file under another name is the same object. */
					for (size_t i = 0; i < r->n; i++)
						if (r->objs[i].info && r->objs[i].dev == c->dev &&
						    r->objs[i].ino == c->ino)
							idx = (int)i;
				}
				close(ofd);
			}
			if (idx >= 0) {
				obj_free(&o);
			} else {
				if (obj_append(r, &o) < 0) {
					obj_free(&o);
					rc = cerr_set(err, COMPAT_ELIMIT, "%s: more than %d objects", path,
						      MAX_OBJECTS);
					goto out;
				}
				idx = (int)r->n - 1;
				const struct rs_obj *no = &r->objs[idx];
				if (no->info && no->info->soname && name_add(&st, no->info->soname, idx) < 0) {
					rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
					goto out;
				}
			}
			needs = r->objs[q].needs;	/* objs may have moved */
			qi = r->objs[q].info;
			needs[k] = idx;
			if (name_add(&st, name, idx) < 0) {
				rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
out:
	strmap_free(&st.names);
	free(st.main_origin);
	if (rc < 0)
		resolution_free(r);
	return rc;
}
