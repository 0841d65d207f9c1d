/* The ld.so search on the file system: the model (table, order, open in
 * root, cache) is ldso.c's; this file walks it for each DT_NEEDED name. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ldso.h"
#include "pathlist.h"
#include "resolve.h"
#include "vec.h"
#include "strmap.h"

#define MAX_OBJECTS 4096	/* a closure larger than this is refused */

/* An ELF file read once per resolver. */
struct cached_obj {
	struct elf_info info;
	struct elf_symtab *symtab;
	dev_t dev;
	ino_t ino;
};

struct resolver {
	struct ldso_root root;
	char *root_given;	/* the root as given, made absolute (NULL for "/") */
	char *library_path;
	unsigned elf_flags;
	int no_symtabs;
	struct ldcache cache;
	int cache_state;	/* 0 not loaded, 1 loaded, -1 unreadable */
	struct strmap objects;	/* loader-visible path -> struct cached_obj */
	struct strmap dirs;	/* directory -> (void *)1 exists, (void *)2 not */
	struct strmap subdirs;	/* ABI + search directory -> struct subdir_list */
	struct strmap found;	/* ABI + DF_1_NODEFLIB + name -> struct memo: what a search
				 * without DT_RPATH/DT_RUNPATH found (see search) */
};

/* Where a search that depends only on the ABI and the name found it. */
struct memo {
	char *path;
	enum rs_how how;
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
	const struct ldso_abi *abi;
	char *main_origin;	/* the program's $ORIGIN (program_origin), or NULL */
	int prog_fd;		/* the program, open until the run ends */
	const char *prog_path;
	struct strmap names;	/* requested name or soname -> index + 1 */
};

static enum rs_how how_of(enum ldso_how h)
{
	return (enum rs_how)(RS_RPATH + (int)h);
}

const char *rs_how_name(enum rs_how how)
{
	static const char *const names[] = {
		[RS_MAIN] = "[program]", [RS_INTERP] = "[interpreter]", [RS_PATH] = "[direct]",
		[RS_NOTFOUND] = "not found",
	};
	if (how >= RS_RPATH && how <= RS_DEFAULT)
		return ldso_how_name((enum ldso_how)(how - RS_RPATH));
	return how <= RS_NOTFOUND ? names[how] : "?";
}

int resolver_open(const struct resolver *rv, const char *path)
{
	return ldso_open(&rv->root, path, O_RDONLY);
}

static int dir_exists(struct resolver *rv, const char *dir)
{
	void *v = strmap_get(&rv->dirs, dir);
	if (v)
		return v == (void *)1;
	int exists = ldso_is_dir(&rv->root, dir);
	strmap_put(&rv->dirs, dir, exists ? (void *)1 : (void *)2);
	return exists;
}

static char *absolute(const char *path)
{
	char cwd[PATH_MAX], *p = NULL;
	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof cwd) || asprintf(&p, "%s/%s", cwd, path) < 0)
		return NULL;
	return p;
}

int resolver_new(const struct rs_opts *o, struct resolver **out, struct cerr *err)
{
	struct resolver *rv = calloc(1, sizeof *rv);
	int rc;
	if (!rv)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	rv->elf_flags = o->elf_flags;
	rv->no_symtabs = o->no_symtabs;
	if ((rc = ldso_root_open(o->root, &rv->root, err)) < 0) {
		free(rv);
		return rc;
	}
	if ((rv->root.fd >= 0 && !(rv->root_given = absolute(o->root))) ||
	    (o->library_path && !(rv->library_path = strdup(o->library_path)))) {
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

static void memo_free(void *p)
{
	struct memo *m = p;
	free(m->path);
	free(m);
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
	strmap_each(&rv->found, memo_free);
	strmap_free(&rv->found);
	ldcache_free(&rv->cache);
	ldso_root_close(&rv->root);
	free(rv->root_given);
	free(rv->library_path);
	free(rv);
}

static const struct ldcache *cache_get(struct resolver *rv)
{
	if (rv->cache_state == 0)
		rv->cache_state = ldso_cache_load(&rv->root, &rv->cache, NULL, NULL) == 0 ? 1 : -1;
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
	int rc;
	if (rv->no_symtabs) {
		struct stat st;
		rc = fstat(fd, &st) < 0 ? cerr_sys(err, COMPAT_EIO, "%s", path) : elf_read_fd(fd, path, flags, &c->info, err);
		if (rc == 0) {
			c->info.dev = (uint64_t)st.st_dev;
			c->info.ino = (uint64_t)st.st_ino;
		}
	} else {
		rc = elf_read_fd_symtab(fd, path, flags, &c->info, &c->symtab, err);
	}
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

enum try_result { TRY_NOFILE, TRY_WRONG, TRY_BAD, TRY_SPECIAL, TRY_FOUND };

/* A candidate as ld.so's open_verify sees it: absent (search on), of
 * another class or machine (search on), not ELF (the search stops: ld.so
 * fails with "invalid ELF header" or "file too short"), or a FIFO, socket
 * or device -- never opened for reading here; ld.so would block on a FIFO
 * or fail on the rest, so the search stops there too. */
static enum try_result try_candidate(struct run *st, const char *path, int elf_class,
				     int machine, int *fd_out)
{
	int fd = resolver_open(st->rv, path);
	if (fd < 0)
		return errno == ENXIO ? TRY_SPECIAL : TRY_NOFILE;
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
	if (VEC_GROW(o->searched, o->nsearched) < 0 || !(o->searched[o->nsearched].dir = strdup(dir)))
		return COMPAT_ENOMEM;
	o->searched[o->nsearched++].why = why;
	return 0;
}

/* The existing subdirectories of dir for this run's ABI, computed once
 * per resolver. NULL when out of memory. */
static const struct subdir_list *subdirs_of(struct run *st, const char *dir)
{
	char *key = NULL;
	if (asprintf(&key, "%s\n%s", st->abi->name, dir) < 0)
		return NULL;
	struct subdir_list *l = strmap_get(&st->rv->subdirs, key);
	if (l) {
		free(key);
		return l;
	}
	const char *subs[LDSO_MAX_SUBDIRS];
	size_t nsubs = ldso_subdirs(st->abi, subs);
	if (!(l = calloc(1, sizeof *l)) || !(l->prefix = calloc(nsubs, sizeof *l->prefix))) {
		free(l);
		free(key);
		return NULL;
	}
	if (dir_exists(st->rv, dir)) {
		for (size_t s = 0; s < nsubs; s++) {
			char *sd = join(dir, subs[s], "");
			if (!sd) {
				subdir_list_free(l);
				free(key);
				return NULL;
			}
			if (!*subs[s] || dir_exists(st->rv, sd))
				l->prefix[l->n++] = sd;
			else
				free(sd);
		}
	}
	int rc = strmap_put(&st->rv->subdirs, key, l);
	free(key);
	if (rc < 0) {
		subdir_list_free(l);
		return NULL;
	}
	return l;
}

/* Where a search found its file. */
struct hit {
	char *path;
	int fd;
	int via_origin;
};

/* Search name in one list of directories (one step of the order).
 * Returns 1 found (*h set), 0 not found, 2 stop (a file that is not ELF:
 * o->problem set), COMPAT_ENOMEM. */
static int search_list(struct run *st, struct rs_obj *o, const char *name, const struct ldso_step *step,
		       int elf_class, int machine, struct hit *h)
{
	struct pathlist pl;
	enum rs_how why = how_of(step->how);
	int res = 0;
	if (pathlist_split(step->list, ldso_list_seps(step->how), PATHLIST_KEEP_EMPTY, &pl) < 0)
		return COMPAT_ENOMEM;
	for (size_t i = 0; i < pl.n && res == 0; i++) {
		int uses_origin = 0;
		/* an empty entry is the current directory, as in ld.so */
		char *dir = ldso_expand(st->abi, *pl.v[i] ? pl.v[i] : ".", step->origin, &uses_origin);
		const struct subdir_list *sl = dir ? subdirs_of(st, dir) : NULL;
		if (!dir || !sl || add_searched(o, dir, why) < 0) {
			free(dir);
			res = COMPAT_ENOMEM;
			break;
		}
		for (size_t k = 0; k < sl->n && res == 0; k++) {
			char *cand;
			if (asprintf(&cand, "%s%s", sl->prefix[k], name) < 0) {
				res = COMPAT_ENOMEM;
				break;
			}
			enum try_result t = try_candidate(st, cand, elf_class, machine, &h->fd);
			switch (t) {
			case TRY_FOUND:
				h->path = cand;
				h->via_origin = uses_origin;
				res = 1;
				continue;
			case TRY_BAD:
			case TRY_SPECIAL:
				free(o->problem);
				if (asprintf(&o->problem, "%s: %s", cand,
					     t == TRY_BAD ? "invalid ELF header" : "not a regular file") < 0)
					o->problem = NULL;
				res = 2;
				break;
			default:
				break;
			}
			free(cand);
		}
		free(dir);
	}
	pathlist_free(&pl);
	return res;
}

/* The cache step. Returns 1 found, 0 not, COMPAT_ENOMEM. */
static int search_cache(struct run *st, struct rs_obj *o, const char *name, const struct ldso_step *step,
			int elf_class, int machine, struct hit *h)
{
	if (!st->abi->ncache_flags)
		return 0;	/* a loader we do not know reads no cache */
	if (add_searched(o, "/etc/ld.so.cache", RS_LDCACHE) < 0)
		return COMPAT_ENOMEM;
	struct ldcache_entry e;
	if (!ldso_cache_lookup(cache_get(st->rv), st->abi, name, &e) ||
	    (step->nodeflib && ldso_in_default_dir(st->abi, e.value)))
		return 0;
	if (try_candidate(st, e.value, elf_class, machine, &h->fd) != TRY_FOUND)
		return 0;
	if (!(h->path = strdup(e.value))) {
		close(h->fd);
		return COMPAT_ENOMEM;
	}
	return 1;
}

/* The default directories step. */
static int search_default(struct run *st, struct rs_obj *o, const char *name, int elf_class, int machine,
			  struct hit *h)
{
	int res = 0;
	for (size_t i = 0; i < st->abi->ndirs && res == 0; i++) {
		struct ldso_step one = { LDSO_DEFAULT, st->abi->dirs[i], NULL, 0 };
		res = search_list(st, o, name, &one, elf_class, machine, h);
	}
	return res;
}

/* A DT_NEEDED name with '/': a path, after token expansion. */
static int search_path(struct run *st, const char *name, const char *origin, struct rs_obj *o, int *fd)
{
	const struct elf_info *mi = st->r->objs[0].info;
	int via = 0;
	char *p = ldso_expand(st->abi, name, origin, &via);
	if (!p)
		return COMPAT_ENOMEM;
	enum try_result t = try_candidate(st, p, mi->elf_class, mi->machine, fd);
	if (t == TRY_FOUND) {
		o->path = p;
		o->how = RS_PATH;
		o->via_origin = via;
		return 0;
	}
	if ((t == TRY_BAD || t == TRY_SPECIAL) &&
	    asprintf(&o->problem, "%s: %s", p, t == TRY_BAD ? "invalid ELF header" : "not a regular file") < 0)
		o->problem = NULL;
	int rc = add_searched(o, p, RS_PATH);
	free(p);
	return rc;
}

/* Find name for requester req; fills o (path, how, searched). Returns 0
 * or COMPAT_ENOMEM; the fd of a found file is returned in *fd. */
static const char *program_origin(struct run *st);

static int search(struct run *st, int req, const char *name, struct rs_obj *o, int *fd)
{
	struct resolution *r = st->r;
	const struct elf_info *mi = r->objs[0].info;
	struct ldso_object chain[LDSO_MAX_CHAIN];
	char *origins[LDSO_MAX_CHAIN] = { NULL };
	size_t nchain = 0;
	int rc = 0;

	/* $ORIGIN is needed only where a list or the name may hold it: a
	 * DT_RPATH or DT_RUNPATH in the loading chain, LD_LIBRARY_PATH, a
	 * name with '/'. */
	int need_origin = strchr(name, '/') || st->rv->library_path;
	for (int l = req; l >= 0 && !need_origin; l = l ? r->objs[l].loader : -1)
		need_origin = r->objs[l].info->rpath || r->objs[l].info->runpath;
	if (need_origin && !program_origin(st)) {
		rc = COMPAT_ENOMEM;
		goto out;
	}
	/* The loading chain: the requester, its loader, ... the program. */
	for (int l = req; l >= 0 && nchain < LDSO_MAX_CHAIN; l = r->objs[l].loader) {
		const struct elf_info *li = r->objs[l].info;
		if (l > 0 && need_origin && !(origins[nchain] = dirname_of(r->objs[l].path))) {
			rc = COMPAT_ENOMEM;
			goto out;
		}
		chain[nchain] = (struct ldso_object){ .rpath = li->rpath, .runpath = li->runpath,
			.origin = l == 0 ? st->main_origin : origins[nchain],
			.nodeflib = (li->flags_1 & DF_1_NODEFLIB) != 0 };
		nchain++;
		if (l == 0)
			break;
	}
	if (strchr(name, '/')) {
		rc = search_path(st, name, chain[0].origin, o, fd);
		goto out;
	}
	struct ldso_step steps[LDSO_MAX_CHAIN + 4];
	size_t nsteps = ldso_search_order(chain, nchain, st->rv->library_path, steps);
	struct hit h = { NULL, -1, 0 };
	int found = 0;
	/* Without DT_RPATH or DT_RUNPATH in the way (and no $ORIGIN in
	 * LD_LIBRARY_PATH), what a search finds depends on the ABI and the
	 * name only: a resolver that reads many programs (gen over a
	 * directory, a batch) searches each name once. */
	int plain = !st->rv->library_path || !strchr(st->rv->library_path, '$');
	for (size_t s = 0; s < nsteps; s++)
		plain &= steps[s].how == LDSO_LD_LIBRARY_PATH || steps[s].how == LDSO_CACHE || steps[s].how == LDSO_DEFAULT;
	char key[600];
	if (plain && (size_t)snprintf(key, sizeof key, "%s\n%d\n%s", st->abi->name, chain[0].nodeflib, name) >= sizeof key)
		plain = 0;
	const struct memo *m = plain ? strmap_get(&st->rv->found, key) : NULL;
	if (m) {
		if (!(o->path = strdup(m->path)))
			rc = COMPAT_ENOMEM;
		o->how = m->how;
		*fd = -1;	/* the file is the resolver's already */
		goto out;
	}
	for (size_t s = 0; s < nsteps && found == 0; s++) {
		switch (steps[s].how) {
		case LDSO_CACHE:
			found = search_cache(st, o, name, &steps[s], mi->elf_class, mi->machine, &h);
			break;
		case LDSO_DEFAULT:
			found = search_default(st, o, name, mi->elf_class, mi->machine, &h);
			break;
		default:
			found = search_list(st, o, name, &steps[s], mi->elf_class, mi->machine, &h);
			break;
		}
		if (found == 1)
			o->how = how_of(steps[s].how);
	}
	if (found == 1 && plain) {
		struct memo *nm = calloc(1, sizeof *nm);
		if (!nm || !(nm->path = strdup(h.path)) || strmap_put(&st->rv->found, key, nm) < 0) {
			if (nm)
				free(nm->path);
			free(nm);
			found = COMPAT_ENOMEM;
			free(h.path);
			close(h.fd);
		} else {
			nm->how = o->how;
		}
	}
	if (found < 0) {
		rc = found;
	} else if (found == 1) {
		o->path = h.path;
		o->via_origin = h.via_origin;
		*fd = h.fd;
	}
out:
	for (size_t i = 0; i < nchain; i++)
		free(origins[i]);
	return rc;
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
	/* doubling when n is 0 or a power of two: a closure of n objects is
	 * log n reallocations, not n copies of the array */
	if (VEC_GROW(r->objs, r->n) < 0)
		return COMPAT_ENOMEM;
	r->objs[r->n++] = *o;
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

/* Load the loader named by PT_INTERP (or the ABI's) up front, as the
 * kernel and ld.so do: it answers to its path and its soname. */
static int load_interp(struct run *st, const char *interp)
{
	if (!interp)
		return 0;	/* a loader we do not know, and no PT_INTERP */
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

/* path as seen inside the root when it lies there (lexically, under the
 * root as given or as real path), else NULL. Borrowed from path. */
static const char *inside_root(const struct resolver *rv, const char *abs)
{
	const char *roots[2] = { rv->root.path, rv->root_given };
	for (int i = 0; i < 2 && rv->root.fd >= 0; i++) {
		if (!roots[i])
			continue;
		size_t rl = strlen(roots[i]);
		while (rl > 1 && roots[i][rl - 1] == '/')
			rl--;
		if (strncmp(abs, roots[i], rl) == 0 && abs[rl] == '/')
			return abs + rl;
	}
	return NULL;
}

/* Open the program (kept open in st->prog_fd until the run ends). A path
 * inside the root is opened inside it (its symlinks mean what they mean
 * there). Returns the fd or a negative code. */
static int open_program(struct run *st, const char *path, struct cerr *err)
{
	struct resolver *rv = st->rv;
	char *abs = absolute(path);
	if (!abs)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	const char *in = inside_root(rv, abs);
	int fd = in ? ldso_open(&rv->root, in, O_RDONLY) : ldso_open(NULL, path, O_RDONLY);
	if (fd < 0)
		fd = errno == ENXIO ? cerr_set(err, COMPAT_EINVAL, "%s: not a regular file", path)
				    : cerr_sys(err, COMPAT_EIO, "%s", path);
	free(abs);
	st->prog_fd = fd < 0 ? -1 : fd;
	st->prog_path = path;
	return fd;
}

/* Open the program and read it as the first object (cached under a key
 * no loader path can have). 0 or an error. */
static int main_object(struct run *st, const char *path, struct cached_obj **mainc, struct cerr *err)
{
	int fd = open_program(st, path, err);
	if (fd < 0)
		return fd;
	char key[PATH_MAX + 8];
	snprintf(key, sizeof key, "\001%s", path);
	return object_get(st->rv, key, fd, st->rv->elf_flags, mainc, err);
}

/* The ABI of the program's loader, from its class and machine. */
static void main_abi(struct run *st, const struct cached_obj *mainc)
{
	st->abi = ldso_abi_for(&st->rv->root, mainc->info.elf_class, mainc->info.machine);
	if (!st->abi)
		st->abi = ldso_generic_abi();
}

/* The program's $ORIGIN, computed on first use: the directory of the
 * file's real path as the loader sees it (the kernel gives ld.so the
 * resolved /proc/self/exe), inside the root when there is one. NULL when
 * out of memory. */
static const char *program_origin(struct run *st)
{
	if (st->main_origin)
		return st->main_origin;
	struct resolver *rv = st->rv;
	const char *path = st->prog_path;
	char *abs = absolute(path), real[PATH_MAX], link[64];
	if (!abs)
		return NULL;
	const char *in = inside_root(rv, abs);
	snprintf(link, sizeof link, "/proc/self/fd/%d", st->prog_fd);
	ssize_t n = st->prog_fd >= 0 ? readlink(link, real, sizeof real - 1) : -1;
	if (n > 0) {
		real[n] = '\0';
	} else if (!realpath(path, real)) {
		snprintf(real, sizeof real, "%s", abs);
	}
	const char *p = real;
	if (rv->root.fd >= 0) {
		const char *r2 = inside_root(rv, real);
		p = r2 ? r2 : in ? in : real;
	}
	st->main_origin = dirname_of(p);
	free(abs);
	return st->main_origin;
}

/* Resolve every DT_NEEDED of object q, breadth-first. */
static int resolve_needs(struct run *st, size_t q, struct cerr *err)
{
	struct resolution *r = st->r;
	const struct elf_info *qi = r->objs[q].info;
	int *needs = calloc(qi->nneeded ? qi->nneeded : 1, sizeof *needs);
	if (!needs)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	r->objs[q].needs = needs;
	for (size_t k = 0; k < qi->nneeded; k++) {
		const char *name = qi->needed[k];
		void *hit = strmap_get(&st->names, name);
		if (hit) {
			needs[k] = (int)(intptr_t)hit - 1;
			continue;
		}
		struct rs_obj o = { .loader = (int)q, .how = RS_NOTFOUND };
		int ofd = -1;
		if (!(o.name = strdup(name)) || search(st, (int)q, name, &o, &ofd) < 0) {
			obj_free(&o);
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		}
		int idx = -1;
		if (o.path && ofd < 0 && !strmap_get(&st->rv->objects, o.path) &&
		    (ofd = resolver_open(st->rv, o.path)) < 0) {
			/* found by an earlier search, but not readable then */
			free(o.path);
			o.path = NULL;
			o.how = RS_NOTFOUND;
		}
		if (o.path) {
			struct cached_obj *c;
			struct cerr e2;
			int orc = object_get(st->rv, o.path, ofd, 0, &c, &e2);
			if (orc == COMPAT_ENOMEM) {
				/* out of memory is not "not found": say so */
				if (ofd >= 0)
					close(ofd);
				obj_free(&o);
				*err = e2;
				return orc;
			}
			if (orc < 0) {
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
					if (r->objs[i].info && r->objs[i].dev == c->dev && r->objs[i].ino == c->ino)
						idx = (int)i;
			}
			if (ofd >= 0)
				close(ofd);
		}
		if (idx >= 0) {
			obj_free(&o);
		} else {
			int rc = obj_append(r, &o);
			if (rc < 0) {
				obj_free(&o);
				return rc == COMPAT_ELIMIT
					       ? cerr_set(err, rc, "more than %d objects in the closure", MAX_OBJECTS)
					       : cerr_set(err, rc, "out of memory");
			}
			idx = (int)r->n - 1;
			const struct rs_obj *no = &r->objs[idx];
			if (no->info && no->info->soname && name_add(st, no->info->soname, idx) < 0)
				return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		}
		needs = r->objs[q].needs;	/* objs may have moved */
		qi = r->objs[q].info;
		needs[k] = idx;
		if (name_add(st, name, idx) < 0)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	return 0;
}

int resolver_run(struct resolver *rv, const char *path, struct resolution *r, struct cerr *err)
{
	struct run st = { .rv = rv, .r = r, .prog_fd = -1 };
	struct cached_obj *mainc = NULL;
	int rc = 0;

	memset(r, 0, sizeof *r);
	r->interp = -1;
	if ((rc = main_object(&st, path, &mainc, err)) < 0)
		goto out;
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
	main_abi(&st, mainc);
	if ((rc = load_interp(&st, mainc->info.interp ? mainc->info.interp : st.abi->interp)) < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	for (size_t q = 0; q < r->n; q++) {
		if ((int)q == r->interp || !r->objs[q].info)
			continue;
		if ((rc = resolve_needs(&st, q, err)) < 0)
			goto out;
	}
out:
	strmap_free(&st.names);
	free(st.main_origin);
	if (st.prog_fd >= 0)
		close(st.prog_fd);
	if (rc < 0)
		resolution_free(r);
	return rc;
}

int resolver_find(struct resolver *rv, const char *program, const char *name, char **path, int *via_origin,
		  struct cerr *err)
{
	struct resolution r = { .interp = -1 };
	struct run st = { .rv = rv, .r = &r, .prog_fd = -1 };
	struct cached_obj *mainc = NULL;
	int rc;

	*path = NULL;
	*via_origin = 0;
	if ((rc = main_object(&st, program, &mainc, err)) < 0)
		goto out;
	struct rs_obj m = { .loader = -1, .how = RS_MAIN, .info = &mainc->info, .symtab = mainc->symtab };
	struct rs_obj o = { .loader = 0, .how = RS_NOTFOUND };
	if (!(m.name = strdup(program)) || !(m.path = strdup(program)) || obj_append(&r, &m) < 0) {
		obj_free(&m);
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	main_abi(&st, mainc);
	int ofd = -1;
	if (search(&st, 0, name, &o, &ofd) < 0) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	} else if (o.path) {
		if (ofd >= 0)
			close(ofd);
		*path = o.path;
		*via_origin = o.via_origin;
		o.path = NULL;
		rc = 1;
	}
	obj_free(&o);
out:
	resolution_free(&r);
	free(st.main_origin);
	if (st.prog_fd >= 0)
		close(st.prog_fd);
	return rc;
}
