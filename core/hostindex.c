/* The host index: ldso.h's search, answered per step from tables built
 * once. Directory entries are read lazily (on first lookup of their name);
 * cache entries when the index is built.
 *
 * A lazy index (index_opts.lazy, what one check process needs) builds no
 * tables up front: a name is looked for in a directory when a lookup first
 * reaches that directory (fstatat on a descriptor of the directory, kept),
 * a cache entry or loader is read when first found, and each library is
 * read once, its version definitions and its hash table from one mapping.
 * The answers are the ones the full index gives: the same candidates (a
 * directory entry whose name has ".so" and that is no directory), tried in
 * the same order by the same code.
 *
 * Threads: a full index is shared by the server's loops (index_slot), so
 * what it still reads on first use (a directory candidate's ELF fields, a
 * library's symbol table) is read once under a lock: a candidate's state
 * and its symbol table are published with a release store and read with
 * an acquire load, and the slow path takes one of CAND_LOCKS mutexes
 * picked by the candidate's address, checks again and reads. After the
 * first use a lookup takes no lock. The out-of-memory count is atomic. A
 * lazy index also grows its tables on lookups and stays single-threaded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "hostindex.h"
#include "vec.h"
#include "strmap.h"

enum cand_origin { FROM_EXTRA, FROM_DEFAULT, FROM_CACHE, FROM_LOADER };
enum cand_state { CAND_UNREAD, CAND_OK, CAND_BAD, CAND_GONE };

#define CAND_LOCKS 64

struct cand {
	struct host_lib lib;
	enum cand_origin origin;
	size_t dir;		/* FROM_EXTRA/FROM_DEFAULT: index into idx->dirs */
	const char *sub;	/* subdirectory it was found in ("" for the directory itself) */
	enum cand_state state;
	struct elf_symtab *symtab;	/* opened on first symbol lookup */
	int symtab_tried;	/* under the lock: an open was tried */
	int symtab_ready;	/* atomic: symtab final and set up (a lookup only reads it) */
};

struct cand_list {
	struct cand **v;
	size_t n;
	unsigned char *probed;	/* lazy: per directory and subdirectory, looked there */
};

struct host_index {
	struct ldso_root root;
	struct strmap names;	/* file name -> struct cand_list (directory entries) */
	struct strmap cached;	/* path -> struct cand (ld.so.cache entries, loaders) */
	struct ldcache cache;
	int have_cache;
	struct stat cache_st;
	char **dirs;		/* extra directories [0, nextra), then default ones */
	size_t ndirs, nextra;
	unsigned char *dir_ok;	/* the directory exists */
	const struct ldso_abi **abis;	/* per table row: the row that applies for its ABI here */
	const struct ldso_abi *native;	/* ldso_native_abi, found once (it probes directories) */
	size_t nabis;
	const char **subs;	/* every subdirectory any of those loaders tries, "" last */
	size_t nsubs;
	int cpu;
	size_t nlibs;
	int lazy;
	unsigned long failures;	/* lookups that ran out of memory (index_failures) */
	int *dirfd;		/* lazy: per directory and subdirectory (ndirs x nsubs):
				 * DIRFD_UNOPENED, -1 absent, or an O_PATH descriptor */
	int refs;		/* atomic: index_release frees at zero */
	pthread_mutex_t locks[CAND_LOCKS];	/* first reads of candidates (see the top) */
};

#define DIRFD_UNOPENED (-2)

static void count_failure(const struct host_index *idx)
{
	__atomic_fetch_add(&((struct host_index *)idx)->failures, 1, __ATOMIC_RELAXED);
}

static pthread_mutex_t *cand_lock(const struct host_index *idx, const void *c)
{
	uintptr_t h = (uintptr_t)c / 64;
	return &((struct host_index *)idx)->locks[(h ^ (h >> 7)) % CAND_LOCKS];
}

/* Read the ELF fields of a candidate once (under its lock); the state,
 * published last, says what was found. */
static enum cand_state cand_read(const struct host_index *idx, struct cand *c)
{
	int fd = ldso_open(&idx->root, c->lib.path, O_RDONLY);
	if (fd < 0)	/* present but not a regular file: ld.so would fail there too */
		return errno == ENXIO ? CAND_BAD : CAND_GONE;
	struct elf_info info;
	struct stat st;
	enum cand_state state = CAND_BAD;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);	/* a directory named like a library: passed over */
		return CAND_GONE;
	}
	/* A lazy index keeps the mapping for symbol lookups (one open and
	 * one mapping per library); a full one would hold hundreds. */
	int rc = idx->lazy ? elf_read_fd_symtab(fd, c->lib.path, ELF_READ_VERSIONS, &info, &c->symtab, NULL)
			   : elf_read_fd(fd, c->lib.path, ELF_READ_VERSIONS, &info, NULL);
	c->symtab_tried = idx->lazy;
	if (rc == COMPAT_ENOMEM || (rc == 0 && info.soname && !(c->lib.soname = strdup(info.soname)))) {
		/* not "not loadable": read it again next time, and let the
		 * lookup's caller know its answer may be wrong */
		if (rc == 0)
			elf_info_free(&info);
		elf_symtab_close(c->symtab);
		c->symtab = NULL;
		c->symtab_tried = 0;
		count_failure(idx);
		close(fd);
		return CAND_UNREAD;
	}
	if (rc == 0) {
		if (info.type == ET_DYN || info.type == ET_EXEC)
			state = CAND_OK;
		c->lib.elf_class = info.elf_class;
		c->lib.machine = info.machine;
		c->lib.osabi = info.osabi;
		c->lib.verdefs = (const char **)info.verdefs;
		c->lib.nverdefs = info.nverdefs;
		c->lib.needed = (const char **)info.needed;
		c->lib.nneeded = info.nneeded;
		info.verdefs = NULL;
		info.nverdefs = 0;
		info.needed = NULL;
		info.nneeded = 0;
		elf_info_free(&info);
	}
	close(fd);
	return state;
}

/* The candidate's state, read first if it was not. */
static enum cand_state cand_load(const struct host_index *idx, struct cand *c)
{
	enum cand_state st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
	if (st != CAND_UNREAD)
		return st;
	pthread_mutex_t *mu = cand_lock(idx, c);
	pthread_mutex_lock(mu);
	if ((st = c->state) == CAND_UNREAD) {
		st = cand_read(idx, c);
		__atomic_store_n(&c->state, st, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(mu);
	return st;
}

static struct cand *cand_new(struct host_index *idx, enum cand_origin origin, const char *path)
{
	struct cand *c = calloc(1, sizeof *c);
	if (!c || !(c->lib.path = strdup(path))) {
		free(c);
		return NULL;
	}
	c->origin = origin;
	c->sub = "";
	idx->nlibs++;
	return c;
}

static void cand_free(struct cand *c)
{
	free((char *)c->lib.path);
	free((char *)c->lib.soname);
	for (size_t i = 0; i < c->lib.nverdefs; i++)
		free((char *)c->lib.verdefs[i]);
	free(c->lib.verdefs);
	for (size_t i = 0; i < c->lib.nneeded; i++)
		free((char *)c->lib.needed[i]);
	free(c->lib.needed);
	elf_symtab_close(c->symtab);
	free(c);
}

static void list_free(void *p)
{
	struct cand_list *l = p;
	for (size_t i = 0; i < l->n; i++)
		cand_free(l->v[i]);
	free(l->v);
	free(l->probed);
	free(l);
}

static void cached_free(void *p)
{
	cand_free(p);
}

/* The candidates for name, created empty when absent; NULL when out of memory. */
static struct cand_list *list_get(struct host_index *idx, const char *name)
{
	struct cand_list *l = strmap_get(&idx->names, name);
	if (!l) {
		if (!(l = calloc(1, sizeof *l)) || strmap_put(&idx->names, name, l) < 0) {
			free(l);
			return NULL;
		}
	}
	return l;
}

static int list_add(struct host_index *idx, struct cand_list *l, enum cand_origin origin, size_t dir,
		    const char *sub, const char *path)
{
	if (VEC_GROW(l->v, l->n) < 0)
		return COMPAT_ENOMEM;
	struct cand *c = cand_new(idx, origin, path);
	if (!c)
		return COMPAT_ENOMEM;
	c->dir = dir;
	c->sub = sub;
	l->v[l->n++] = c;
	return 0;
}

static int dir_add(struct host_index *idx, enum cand_origin origin, size_t dir, const char *sub,
		   const char *name, const char *path)
{
	struct cand_list *l = list_get(idx, name);
	return l ? list_add(idx, l, origin, dir, sub, path) : COMPAT_ENOMEM;
}

/* What scan_dir would list: a name with ".so" in it. */
static int library_like(const char *name)
{
	return strstr(name, ".so") != NULL;
}

/* "dir/sub" (or dir) into buf; 0, or -1 when it does not fit. */
static int subdir_path(char *buf, size_t len, const char *dir, const char *sub)
{
	return (size_t)snprintf(buf, len, "%s%s%s", dir, *sub ? "/" : "", sub) >= len ? -1 : 0;
}

/* Lazy index: the descriptor of directory d's subdirectory s, opened on
 * first use; -1 when there is no such directory. */
static int dir_fd(struct host_index *idx, size_t d, size_t s)
{
	int *fd = &idx->dirfd[d * idx->nsubs + s];
	if (*fd == DIRFD_UNOPENED) {
		char sd[4096];
		*fd = subdir_path(sd, sizeof sd, idx->dirs[d], idx->subs[s]) < 0
			      ? -1 : ldso_open(&idx->root, sd, O_PATH | O_DIRECTORY);
	}
	return *fd;
}

static size_t sub_index(const struct host_index *idx, const char *sub)
{
	for (size_t s = 0; s < idx->nsubs; s++)
		if (strcmp(idx->subs[s], sub) == 0)
			return s;
	return idx->nsubs;
}

/* Lazy index: add name's candidate in directory d, subdirectory sub (as
 * scan_dir would have found it there), the first time it is asked for.
 * The name has no '/' (it is a DT_NEEDED name without one, or a soname),
 * so fstatat on the directory's descriptor stays inside a root. Returns 0
 * or COMPAT_ENOMEM. */
static int probe(struct host_index *idx, struct cand_list *l, const char *name, size_t d, const char *sub)
{
	size_t s = sub_index(idx, sub);
	if (s == idx->nsubs || strchr(name, '/') || !library_like(name))
		return 0;
	if (!l->probed && !(l->probed = calloc(idx->ndirs * idx->nsubs, 1)))
		return COMPAT_ENOMEM;
	unsigned char *done = &l->probed[d * idx->nsubs + s];
	if (*done)
		return 0;
	*done = 1;
	int fd = dir_fd(idx, d, s);
	struct stat st;
	char path[4200];
	if (fd < 0 || fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) ||
	    (size_t)snprintf(path, sizeof path, "%s%s%s/%s", idx->dirs[d], *sub ? "/" : "", sub, name) >= sizeof path)
		return 0;
	return list_add(idx, l, d < idx->nextra ? FROM_EXTRA : FROM_DEFAULT, d, idx->subs[s], path);
}

/* Every file of dir (and of the subdirectories a loader tries in it) whose
 * name looks like a library: looked up by file name, as ld.so does. */
static int scan_dir(struct host_index *idx, enum cand_origin origin, size_t d)
{
	const char *dir = idx->dirs[d];
	int rc = 0;
	for (size_t s = 0; s < idx->nsubs && rc == 0; s++) {
		char sd[4096];
		if (subdir_path(sd, sizeof sd, dir, idx->subs[s]) < 0)
			continue;
		int fd = ldso_open(&idx->root, sd, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			continue;
		if (!*idx->subs[s])
			idx->dir_ok[d] = 1;
		DIR *dh = fdopendir(fd);
		if (!dh) {
			close(fd);
			continue;
		}
		struct dirent *e;
		while (rc == 0 && (e = readdir(dh)) != NULL) {
			char path[4200];
			if (!library_like(e->d_name) || e->d_type == DT_DIR ||
			    (size_t)snprintf(path, sizeof path, "%s/%s", sd, e->d_name) >= sizeof path)
				continue;
			rc = dir_add(idx, origin, d, idx->subs[s], e->d_name, path);
		}
		closedir(dh);
	}
	return rc;
}

static int push_dir(struct host_index *idx, const char *dir)
{
	if (VEC_GROW(idx->dirs, idx->ndirs) < 0 || VEC_GROW(idx->dir_ok, idx->ndirs) < 0)
		return COMPAT_ENOMEM;
	idx->dir_ok[idx->ndirs] = 0;
	if (!(idx->dirs[idx->ndirs] = strdup(dir)))
		return COMPAT_ENOMEM;
	idx->ndirs++;
	return 0;
}

/* The rows that apply in this root, the subdirectories their loaders try,
 * and the CPU the root is for. */
static int model_root(struct host_index *idx)
{
	size_t n;
	const struct ldso_abi *t = ldso_table(&n);
	if (!(idx->abis = calloc(n, sizeof *idx->abis)) ||
	    !(idx->subs = calloc(n * LDSO_MAX_SUBDIRS + 1, sizeof *idx->subs)))
		return COMPAT_ENOMEM;
	idx->nabis = n;
	for (size_t i = 0; i < n; i++) {
		const struct ldso_abi *a = idx->abis[i] = ldso_abi_for(&idx->root, t[i].elf_class, t[i].machine);
		const char *sub[LDSO_MAX_SUBDIRS];
		size_t ns = a ? ldso_subdirs(a, sub) : 0;
		for (size_t k = 0; k < ns; k++) {
			int seen = !*sub[k];	/* "" goes last */
			for (size_t j = 0; j < idx->nsubs && !seen; j++)
				seen = strcmp(idx->subs[j], sub[k]) == 0;
			if (!seen)
				idx->subs[idx->nsubs++] = sub[k];
		}
	}
	idx->subs[idx->nsubs++] = "";
	idx->cpu = ldso_native_cpu();
	idx->native = ldso_native_abi(&idx->root);
	if (idx->root.fd < 0)
		return 0;
	/* A tree's CPU is the one its loaders are built for, in table
	 * order (x86_64 before i386, aarch64 before armhf). */
	for (size_t i = 0; i < n; i++) {
		int fd = ldso_open(&idx->root, t[i].interp, O_RDONLY);
		if (fd < 0)
			continue;
		uint8_t cls, osabi;
		uint16_t mach, type;
		int ok = elf_peek_fd(fd, t[i].interp, &cls, &mach, &type, &osabi, NULL) == 0 &&
			 cls == t[i].elf_class && mach == t[i].machine;
		close(fd);
		if (ok) {
			idx->cpu = t[i].cpu;
			break;
		}
	}
	return 0;
}

/* A candidate known by its path (a cache entry, a loader), added to
 * idx->cached. NULL when out of memory. */
static struct cand *cached_add(struct host_index *idx, enum cand_origin origin, const char *path)
{
	struct cand *c = cand_new(idx, origin, path);
	if (c && strmap_put(&idx->cached, path, c) < 0) {
		cand_free(c);
		c = NULL;
	}
	return c;
}

static int add_cache(struct host_index *idx)
{
	if (ldso_cache_load(&idx->root, &idx->cache, &idx->cache_st, NULL) < 0)
		return 0;	/* no cache, or not one: ld.so goes on without it */
	idx->have_cache = 1;
	if (!idx->lazy && ldcache_entries(&idx->cache) < 0)
		return COMPAT_ENOMEM;
	for (size_t i = 0; i < idx->cache.n && !idx->lazy; i++) {
		const char *path = idx->cache.entries[i].value;
		if (strmap_get(&idx->cached, path))
			continue;
		struct cand *c = cached_add(idx, FROM_CACHE, path);
		if (!c)
			return COMPAT_ENOMEM;
		cand_load(idx, c);	/* the index is parsed once */
	}
	return 0;
}

/* The loader of each ABI, read now: it is loaded before anything else and
 * answers to its soname (libc.so.6 needs ld-linux-x86-64.so.2). A lazy
 * index adds it when index_lookup_path first asks. */
static int add_loaders(struct host_index *idx)
{
	for (size_t i = 0; i < idx->nabis && !idx->lazy; i++) {
		const struct ldso_abi *a = idx->abis[i];
		if (!a || !a->interp || strmap_get(&idx->cached, a->interp))
			continue;
		int fd = ldso_open(&idx->root, a->interp, O_RDONLY);
		if (fd < 0)
			continue;
		close(fd);
		struct cand *c = cached_add(idx, FROM_LOADER, a->interp);
		if (!c)
			return COMPAT_ENOMEM;
		cand_load(idx, c);
	}
	return 0;
}

int index_build(const struct index_opts *o, struct host_index **out, struct cerr *err)
{
	struct host_index *idx = calloc(1, sizeof *idx);
	int rc = 0;
	*out = NULL;
	if (!idx)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	if ((rc = ldso_root_open(o->root, &idx->root, err)) < 0) {
		free(idx);
		return rc;
	}
	idx->lazy = o->lazy;
	idx->refs = 1;
	for (int i = 0; i < CAND_LOCKS; i++)
		pthread_mutex_init(&idx->locks[i], NULL);
	if ((rc = model_root(idx)) < 0)
		goto fail;
	for (size_t i = 0; i < o->nextra; i++)
		if ((rc = push_dir(idx, o->extra_dirs[i])) < 0 ||
		    (!idx->lazy && (rc = scan_dir(idx, FROM_EXTRA, i)) < 0))
			goto fail;
	idx->nextra = o->nextra;
	if (o->no_system)
		goto done;
	if ((rc = add_cache(idx)) < 0 || (rc = add_loaders(idx)) < 0)
		goto fail;
	/* The default directories of every loader this root has a row for. */
	for (size_t i = 0; i < idx->nabis; i++) {
		const struct ldso_abi *a = idx->abis[i];
		for (size_t k = 0; a && k < a->ndirs; k++) {
			int seen = 0;
			for (size_t j = idx->nextra; j < idx->ndirs && !seen; j++)
				seen = strcmp(idx->dirs[j], a->dirs[k]) == 0;
			if (seen)
				continue;
			if ((rc = push_dir(idx, a->dirs[k])) < 0 ||
			    (!idx->lazy && (rc = scan_dir(idx, FROM_DEFAULT, idx->ndirs - 1)) < 0))
				goto fail;
		}
	}
done:
	if (idx->lazy) {
		if (!(idx->dirfd = malloc((idx->ndirs * idx->nsubs + 1) * sizeof *idx->dirfd))) {
			rc = COMPAT_ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < idx->ndirs * idx->nsubs; i++)
			idx->dirfd[i] = DIRFD_UNOPENED;
	}
	*out = idx;
	return 0;
fail:
	index_free(idx);
	return cerr_set(err, rc, "out of memory");
}

/* The row for this class and machine here, or NULL. */
static const struct ldso_abi *abi_of(const struct host_index *idx, int elf_class, int machine)
{
	size_t n;
	const struct ldso_abi *t = ldso_table(&n);
	for (size_t i = 0; i < n && i < idx->nabis; i++)
		if (t[i].elf_class == elf_class && t[i].machine == machine)
			return idx->abis[i];
	return NULL;
}

/* 1: c is the library (right ABI); 0: passed over; -1: stops the search. */
static int cand_take(const struct host_index *idx, struct cand *c, int elf_class, int machine)
{
	enum cand_state st = cand_load(idx, c);
	if (st == CAND_GONE || st == CAND_UNREAD)
		return 0;
	if (st == CAND_BAD)
		return -1;
	return (!elf_class || c->lib.elf_class == elf_class) && (!machine || c->lib.machine == machine);
}

/* Directories [from, to) in order (through map when given: indexes into
 * idx->dirs), each with the subdirectories subs first. */
static const struct host_lib *lookup_dirs(const struct host_index *cidx, struct cand_list *l,
					  const char *name, enum cand_origin origin, const size_t *map, size_t from,
					  size_t to, const char *const *subs, size_t nsubs, int elf_class, int machine,
					  const char **bad)
{
	struct host_index *idx = (struct host_index *)cidx;	/* a lazy index fills itself */
	for (size_t d = from; d < to; d++)
		for (size_t s = 0; s < nsubs; s++) {
			size_t dir = map ? map[d] : d;
			if (idx->lazy && probe(idx, l, name, dir, subs[s]) < 0)
				count_failure(idx);
			for (size_t i = 0; i < l->n; i++) {
				struct cand *c = l->v[i];
				if (c->origin != origin || c->dir != dir || strcmp(c->sub, subs[s]) != 0)
					continue;
				int t = cand_take(idx, c, elf_class, machine);
				if (t > 0)
					return &c->lib;
				if (t < 0) {
					if (bad)
						*bad = c->lib.path;
					return NULL;
				}
			}
		}
	return NULL;
}

static const struct host_lib *lookup_cache(const struct host_index *idx, const struct ldso_abi *abi,
					   const char *soname, int elf_class, int machine, const char **bad)
{
	struct ldcache_entry e;
	int in_cache = idx->have_cache && ldso_cache_lookup(&idx->cache, abi, soname, &e);
	struct cand *c = in_cache ? strmap_get(&idx->cached, e.value) : NULL;
	if (!c && in_cache && idx->lazy && !(c = cached_add((struct host_index *)idx, FROM_CACHE, e.value)))
		count_failure(idx);
	if (!c)
		return NULL;
	int t = cand_take(idx, c, elf_class, machine);
	if (t < 0 && bad)
		*bad = c->lib.path;
	return t > 0 ? &c->lib : NULL;
}

static const struct host_lib *lookup_abi(const struct host_index *idx, const struct ldso_abi *abi,
					 const char *soname, int elf_class, int machine, enum ldso_how how,
					 const char **bad)
{
	if (how == LDSO_CACHE)
		return abi && abi->ncache_flags ? lookup_cache(idx, abi, soname, elf_class, machine, bad) : NULL;
	struct cand_list *l = strmap_get(&idx->names, soname);
	if (!l && idx->lazy && !(l = list_get((struct host_index *)idx, soname)))
		count_failure(idx);
	if (!l)
		return NULL;
	const char *subs[LDSO_MAX_SUBDIRS];
	size_t nsubs = ldso_subdirs(abi, subs);
	if (how != LDSO_DEFAULT)	/* RPATH, LD_LIBRARY_PATH, RUNPATH: the extra directories */
		return lookup_dirs(idx, l, soname, FROM_EXTRA, NULL, 0, idx->nextra, subs, nsubs, elf_class, machine,
				   bad);
	size_t map[LDSO_MAX_DIRS], nd = 0;
	for (size_t k = 0; k < abi->ndirs; k++)
		for (size_t j = idx->nextra; j < idx->ndirs; j++)
			if (strcmp(idx->dirs[j], abi->dirs[k]) == 0)
				map[nd++] = j;
	return lookup_dirs(idx, l, soname, FROM_DEFAULT, map, 0, nd, subs, nsubs, elf_class, machine, bad);
}

const struct host_lib *index_lookup_step(const struct host_index *idx, const char *soname, int elf_class,
					 int machine, enum ldso_how how, const char **bad)
{
	if (bad)
		*bad = NULL;
	if (elf_class || machine) {
		const struct ldso_abi *abi = abi_of(idx, elf_class, machine);
		if (!abi)
			abi = ldso_generic_abi();	/* no cache flags: no cache entries */
		return lookup_abi(idx, abi, soname, elf_class, machine, how, bad);
	}
	/* No ABI named (the prototype's artifacts): this host's own loader
	 * first, then every other one it has. */
	const struct ldso_abi *native = idx->native;
	const struct host_lib *hit = native ? lookup_abi(idx, native, soname, native->elf_class, native->machine,
							 how, bad) : NULL;
	for (size_t i = 0; !hit && i < idx->nabis; i++)
		if (idx->abis[i] && idx->abis[i] != native)
			hit = lookup_abi(idx, idx->abis[i], soname, idx->abis[i]->elf_class, idx->abis[i]->machine,
					 how, NULL);
	return hit;
}

const struct host_lib *index_lookup_soname(const struct host_index *idx, const char *soname,
					   int elf_class, int machine)
{
	static const enum ldso_how order[] = { LDSO_LD_LIBRARY_PATH, LDSO_CACHE, LDSO_DEFAULT };
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *bad = NULL;
		const struct host_lib *l = index_lookup_step(idx, soname, elf_class, machine, order[i], &bad);
		if (l || bad)
			return l;
	}
	return NULL;
}

/* Lazy index: is path a cache entry's or a loader's (what a full index
 * reads up front)? FROM_CACHE, FROM_LOADER, or -1. */
static int known_path(const struct host_index *idx, const char *path)
{
	for (size_t i = 0; i < idx->nabis; i++)
		if (idx->abis[i] && idx->abis[i]->interp && strcmp(idx->abis[i]->interp, path) == 0)
			return FROM_LOADER;
	if (idx->have_cache && ldcache_entries((struct ldcache *)&idx->cache) < 0)
		count_failure(idx);
	for (size_t i = 0; idx->have_cache && i < idx->cache.n; i++)
		if (strcmp(idx->cache.entries[i].value, path) == 0)
			return FROM_CACHE;
	return -1;
}

const struct host_lib *index_lookup_path(const struct host_index *idx, const char *path)
{
	struct cand *c = strmap_get(&idx->cached, path);
	int origin = !c && idx->lazy ? known_path(idx, path) : -1;
	if (origin >= 0 && !(c = cached_add((struct host_index *)idx, (enum cand_origin)origin, path)))
		count_failure(idx);
	if (!c)
		return NULL;
	return cand_load(idx, c) == CAND_OK ? &c->lib : NULL;
}

static struct cand *cand_of(const struct host_lib *lib)
{
	return (struct cand *)((char *)lib - offsetof(struct cand, lib));
}

/* The library's symbol table, opened and set up on first use (under the
 * candidate's lock) and kept: into *out (NULL when it cannot be read).
 * Returns 0, or COMPAT_ENOMEM, after which the next call tries again. */
static int symtab_of(const struct host_index *idx, const struct host_lib *lib, const struct elf_symtab **out)
{
	struct cand *c = cand_of(lib);
	int rc = 0;
	if (__atomic_load_n(&c->symtab_ready, __ATOMIC_ACQUIRE)) {
		*out = c->symtab;
		return 0;
	}
	pthread_mutex_t *mu = cand_lock(idx, c);
	pthread_mutex_lock(mu);
	if (!c->symtab_tried) {
		c->symtab_tried = 1;
		int fd = ldso_open(&idx->root, lib->path, O_RDONLY);
		if (fd >= 0) {
			if ((rc = elf_symtab_open_fd(fd, lib->path, &c->symtab, NULL)) < 0) {
				c->symtab = NULL;
				if (rc == COMPAT_ENOMEM)
					c->symtab_tried = 0;
				else
					rc = 0;
			}
			close(fd);
		}
	}
	/* The table sets itself up on its first lookup: make that one here,
	 * so that lookups from several threads only read it. */
	if (rc == 0 && c->symtab && elf_symtab_defines(c->symtab, "", NULL) == COMPAT_ENOMEM)
		rc = COMPAT_ENOMEM;
	if (rc == 0)
		__atomic_store_n(&c->symtab_ready, 1, __ATOMIC_RELEASE);
	*out = c->symtab;
	pthread_mutex_unlock(mu);
	return rc;
}

int index_lib_exports(const struct host_index *idx, const struct host_lib *lib, const char *symbol)
{
	const struct elf_symtab *t;
	int rc = symtab_of(idx, lib, &t);
	return rc < 0 ? rc : t ? elf_symtab_exports(t, symbol) : -1;
}

int index_lib_defines(const struct host_index *idx, const struct host_lib *lib, const char *name,
		      const char *version)
{
	const struct elf_symtab *t;
	int rc = symtab_of(idx, lib, &t);
	return rc < 0 ? rc : t ? elf_symtab_defines(t, name, version) : -1;
}

size_t index_default_dirs(const struct host_index *idx, int elf_class, int machine, const char **dirs)
{
	const struct ldso_abi *abi = abi_of(idx, elf_class, machine);
	if (!abi && !elf_class && !machine)
		abi = idx->native;
	if (!abi)
		abi = ldso_generic_abi();
	size_t n = 0;
	for (size_t k = 0; k < abi->ndirs; k++)
		for (size_t j = idx->nextra; j < idx->ndirs; j++)
			if (strcmp(idx->dirs[j], abi->dirs[k]) == 0 &&
			    (idx->lazy ? dir_fd((struct host_index *)idx, j, sub_index(idx, "")) >= 0 : idx->dir_ok[j]))
				dirs[n++] = abi->dirs[k];
	return n;
}

const char *index_root(const struct host_index *idx)
{
	return idx->root.path;
}

const char *const *index_extra_dirs(const struct host_index *idx, size_t *n)
{
	*n = idx->nextra;
	return (const char *const *)idx->dirs;
}

int index_runs(const struct host_index *idx, int elf_class, int machine)
{
	return ldso_cpu_runs(idx->cpu, elf_class, machine);
}

int index_cpu(const struct host_index *idx)
{
	return idx->cpu;
}

int index_lazy(const struct host_index *idx)
{
	return idx->lazy;
}

unsigned long index_failures(const struct host_index *idx)
{
	return __atomic_load_n(&idx->failures, __ATOMIC_RELAXED);
}

size_t index_count(const struct host_index *idx)
{
	return idx->nlibs;
}

int index_is_stale(const struct host_index *idx)
{
	struct stat st;
	int fd = ldso_open(&idx->root, "/etc/ld.so.cache", O_RDONLY);
	if (fd < 0)
		return idx->have_cache;
	const struct stat *o = &idx->cache_st;
	int r = fstat(fd, &st) == 0 &&
		(!idx->have_cache || st.st_ino != o->st_ino || st.st_dev != o->st_dev || st.st_size != o->st_size ||
		 st.st_mtim.tv_sec != o->st_mtim.tv_sec || st.st_mtim.tv_nsec != o->st_mtim.tv_nsec);
	close(fd);
	return r;
}

int index_path_exists(const struct host_index *idx, const char *path)
{
	int fd = ldso_open(&idx->root, path, O_RDONLY);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

void index_free(struct host_index *idx)
{
	if (!idx)
		return;
	strmap_each(&idx->names, list_free);
	strmap_free(&idx->names);
	strmap_each(&idx->cached, cached_free);
	strmap_free(&idx->cached);
	ldcache_free(&idx->cache);
	for (size_t i = 0; i < idx->ndirs; i++)
		free(idx->dirs[i]);
	free(idx->dirs);
	free(idx->dir_ok);
	for (size_t i = 0; idx->dirfd && i < idx->ndirs * idx->nsubs; i++)
		if (idx->dirfd[i] >= 0)
			close(idx->dirfd[i]);
	free(idx->dirfd);
	free(idx->abis);
	free(idx->subs);
	ldso_root_close(&idx->root);
	for (int i = 0; i < CAND_LOCKS; i++)
		pthread_mutex_destroy(&idx->locks[i]);
	free(idx);
}

void index_release(struct host_index *idx)
{
	if (idx && __atomic_sub_fetch(&idx->refs, 1, __ATOMIC_ACQ_REL) == 0)
		index_free(idx);
}

/* ---- one index shared by threads ---- */

struct index_slot {
	pthread_mutex_t mu;
	struct host_index *idx;		/* the current one; the slot holds a reference */
	unsigned long gen;		/* atomic: bumped by each publish */
};

int index_slot_new(struct index_slot **out, struct host_index *idx)
{
	struct index_slot *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s)
		return COMPAT_ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	s->idx = idx;
	s->gen = 1;
	*out = s;
	return 0;
}

struct host_index *index_slot_acquire(struct index_slot *s, unsigned long *gen)
{
	pthread_mutex_lock(&s->mu);
	struct host_index *idx = s->idx;
	__atomic_add_fetch(&idx->refs, 1, __ATOMIC_RELAXED);
	if (gen)
		*gen = s->gen;
	pthread_mutex_unlock(&s->mu);
	return idx;
}

unsigned long index_slot_generation(const struct index_slot *s)
{
	return __atomic_load_n(&s->gen, __ATOMIC_ACQUIRE);
}

void index_slot_publish(struct index_slot *s, struct host_index *idx)
{
	pthread_mutex_lock(&s->mu);
	struct host_index *old = s->idx;
	s->idx = idx;
	__atomic_store_n(&s->gen, s->gen + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->mu);
	index_release(old);
}

void index_slot_free(struct index_slot *s)
{
	if (!s)
		return;
	index_release(s->idx);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
