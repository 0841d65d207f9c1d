#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu.h"
#include "elf.h"
#include "hostindex.h"
#include "ldcache.h"
#include "strmap.h"

/* One place a name can be found; in lookup order within its list. */
enum cand_origin { FROM_EXTRA, FROM_CACHE, FROM_DEFAULT };

struct cand {
	struct host_lib lib;
	enum cand_origin origin;
	int32_t flags;		/* ld.so.cache flags; -1 for a directory entry */
	const char *hwcaps;	/* glibc-hwcaps subdirectory or NULL */
	int loaded;		/* ELF fields read (directory entries are lazy) */
	int usable;		/* a valid ELF object */
	struct elf_symtab *symtab;	/* opened on first symbol lookup */
	int symtab_tried;
};

struct cand_list {
	struct cand **v;
	size_t n;
};

struct host_index {
	char *root;
	int root_fd;
	struct strmap names;	/* name -> struct cand_list */
	struct stat cache_st;
	int have_cache_st;
	size_t nlibs;
};

static int index_open(const struct host_index *idx, const char *path, int flags)
{
	if (idx->root_fd < 0)
		return open(path, flags | O_CLOEXEC);
	while (*path == '/')
		path++;
	return openat(idx->root_fd, *path ? path : ".", flags | O_CLOEXEC);
}

static void cand_load(const struct host_index *idx, struct cand *c)
{
	if (c->loaded)
		return;
	c->loaded = 1;
	int fd = index_open(idx, c->lib.path, O_RDONLY);
	if (fd < 0)
		return;
	struct elf_info info;
	if (elf_read_fd(fd, c->lib.path, ELF_READ_VERSIONS, &info, NULL) == 0) {
		c->usable = info.type == ET_DYN || info.type == ET_EXEC;
		c->lib.elf_class = info.elf_class;
		c->lib.machine = info.machine;
		c->lib.osabi = info.osabi;
		if (info.soname)
			c->lib.soname = strdup(info.soname);
		c->lib.verdefs = (const char **)info.verdefs;
		c->lib.nverdefs = info.nverdefs;
		info.verdefs = NULL;
		info.nverdefs = 0;
		elf_info_free(&info);
	}
	close(fd);
}

static int cand_add(struct host_index *idx, enum cand_origin origin, const char *name,
		    const char *path, int32_t flags, const char *hwcaps)
{
	struct cand_list *l = strmap_get(&idx->names, name);
	if (!l) {
		if (!(l = calloc(1, sizeof *l)) || strmap_put(&idx->names, name, l) < 0) {
			free(l);
			return COMPAT_ENOMEM;
		}
	}
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->lib.path, path) == 0 && l->v[i]->flags == flags)
			return 0;
	struct cand **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
	struct cand *c = calloc(1, sizeof *c);
	if (!nv || !c) {
		free(c);
		if (nv)
			l->v = nv;
		return COMPAT_ENOMEM;
	}
	l->v = nv;
	c->origin = origin;
	c->flags = flags;
	c->lib.path = strdup(path);
	c->hwcaps = hwcaps ? strdup(hwcaps) : NULL;
	if (!c->lib.path || (hwcaps && !c->hwcaps)) {
		free((char *)c->lib.path);
		free(c);
		return COMPAT_ENOMEM;
	}
	nv[l->n++] = c;
	idx->nlibs++;
	return 0;
}

static void cand_free(struct cand *c)
{
	free((char *)c->lib.path);
	free((char *)c->lib.soname);
	for (size_t i = 0; i < c->lib.nverdefs; i++)
		free((char *)c->lib.verdefs[i]);
	free(c->lib.verdefs);
	free((char *)c->hwcaps);
	elf_symtab_close(c->symtab);
	free(c);
}

static void list_free(void *p)
{
	struct cand_list *l = p;
	for (size_t i = 0; i < l->n; i++)
		cand_free(l->v[i]);
	free(l->v);
	free(l);
}

/* Directory entries: every file whose name looks like a library, looked
 * up by file name as ld.so does in a search directory. */
static int add_dir(struct host_index *idx, enum cand_origin origin, const char *dir)
{
	int fd = index_open(idx, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (!strstr(e->d_name, ".so") || e->d_type == DT_DIR)
			continue;
		char path[4096];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
			continue;
		rc = cand_add(idx, origin, e->d_name, path, -1, NULL);
	}
	closedir(d);
	return rc;
}

/* Default directories of every loader this host may have. */
static const char *const default_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
	"/lib32", "/usr/lib32", "/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib",
};

int index_build(const struct index_opts *o, struct host_index **out, struct cerr *err)
{
	struct host_index *idx = calloc(1, sizeof *idx);
	struct ldcache cache = { 0 };
	int rc = 0;
	if (!idx)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	idx->root_fd = -1;
	if (o->root && strcmp(o->root, "/") != 0) {
		if (!(idx->root = strdup(o->root)))
			goto oom;
		idx->root_fd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (idx->root_fd < 0) {
			rc = cerr_sys(err, COMPAT_EIO, "%s", o->root);
			goto fail;
		}
	}
	for (size_t i = 0; i < o->nextra; i++)
		if ((rc = add_dir(idx, FROM_EXTRA, o->extra_dirs[i])) < 0)
			goto oom;
	if (o->no_system)
		goto done;
	int cfd = index_open(idx, "/etc/ld.so.cache", O_RDONLY);
	if (cfd >= 0) {
		struct stat st;
		if (fstat(cfd, &st) == 0 && st.st_size <= LDCACHE_MAX_BYTES) {
			char *buf = malloc((size_t)st.st_size + 1);
			ssize_t got = buf ? pread(cfd, buf, (size_t)st.st_size, 0) : -1;
			if (got == st.st_size &&
			    ldcache_parse(buf, (size_t)got, "/etc/ld.so.cache", &cache, NULL) == 0) {
				idx->cache_st = st;
				idx->have_cache_st = 1;
			}
			free(buf);
		}
		close(cfd);
	}
	for (size_t i = 0; i < cache.n; i++) {
		const struct ldcache_entry *e = &cache.entries[i];
		if ((rc = cand_add(idx, FROM_CACHE, e->key, e->value, e->flags, e->hwcaps)) < 0)
			goto oom;
	}
	/* Read every cache entry now: the index is parsed once. */
	for (size_t i = 0; i < idx->names.cap; i++) {
		struct cand_list *l = idx->names.slots[i].value;
		for (size_t k = 0; idx->names.slots[i].key && k < l->n; k++)
			if (l->v[k]->origin == FROM_CACHE)
				cand_load(idx, l->v[k]);
	}
	for (size_t i = 0; i < sizeof default_dirs / sizeof default_dirs[0]; i++)
		if ((rc = add_dir(idx, FROM_DEFAULT, default_dirs[i])) < 0)
			goto oom;
done:
	ldcache_free(&cache);
	*out = idx;
	return 0;
oom:
	rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
fail:
	ldcache_free(&cache);
	index_free(idx);
	*out = NULL;
	return rc;
}

/* Cache flags a loader of this class and machine accepts (0 = any). */
static int flags_ok(int32_t flags, int elf_class, int machine)
{
	if (!elf_class && !machine)
		return 1;
	if (elf_class == ELFCLASS64 && machine == EM_X86_64)
		return flags == (LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_X8664_LIB64);
	if (elf_class == ELFCLASS32 && machine == EM_386)
		return flags == LDCACHE_FLAG_ELF || flags == LDCACHE_FLAG_ELF_LIBC6;
	if (elf_class == ELFCLASS32 && machine == EM_X86_64)
		return flags == (LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_X8664_LIBX32);
	if (elf_class == ELFCLASS64 && machine == EM_AARCH64)
		return flags == (LDCACHE_FLAG_ELF_LIBC6 | LDCACHE_FLAG_AARCH64_LIB64);
	return 1;	/* unknown loader: the ELF check below decides */
}

static int hwcaps_rank(const char *h)
{
	int level = cpu_x86_isa_level();
	for (int l = 4; l >= 2; l--) {
		char name[16];
		snprintf(name, sizeof name, "x86-64-v%d", l);
		if (strcmp(h, name) == 0)
			return level >= l ? 4 - l : -1;
	}
	return -1;
}

static int cand_matches(const struct host_index *idx, struct cand *c, int elf_class, int machine)
{
	cand_load(idx, c);
	if (!c->usable)
		return 0;	/* a linker script or other non-ELF file provides nothing */
	return (!elf_class || c->lib.elf_class == elf_class) && (!machine || c->lib.machine == machine);
}

const struct host_lib *index_lookup_soname(const struct host_index *idx, const char *soname,
					   int elf_class, int machine)
{
	struct cand_list *l = strmap_get(&idx->names, soname);
	if (!l)
		return NULL;
	/* As ld.so: the extra directories (LD_LIBRARY_PATH) in order, then
	 * the cache (the best glibc-hwcaps entry over a plain one), then the
	 * default directories in order. */
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->origin == FROM_EXTRA && cand_matches(idx, l->v[i], elf_class, machine))
			return &l->v[i]->lib;
	struct cand *best = NULL;
	int best_rank = 99;
	for (size_t i = 0; i < l->n; i++) {
		struct cand *c = l->v[i];
		if (c->origin != FROM_CACHE || !flags_ok(c->flags, elf_class, machine) ||
		    !cand_matches(idx, c, elf_class, machine))
			continue;
		int rank = c->hwcaps ? hwcaps_rank(c->hwcaps) : 10;
		if (rank >= 0 && rank < best_rank) {
			best = c;
			best_rank = rank;
		}
	}
	if (best)
		return &best->lib;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->origin == FROM_DEFAULT && cand_matches(idx, l->v[i], elf_class, machine))
			return &l->v[i]->lib;
	return NULL;
}

int index_lib_exports(const struct host_index *idx, const struct host_lib *lib, const char *symbol)
{
	struct cand *c = (struct cand *)((char *)lib - offsetof(struct cand, lib));
	if (!c->symtab_tried) {
		c->symtab_tried = 1;
		int fd = index_open(idx, lib->path, O_RDONLY);
		if (fd >= 0) {
			char p[64];
			snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
			if (elf_symtab_open(p, &c->symtab, NULL) < 0)
				c->symtab = NULL;
			close(fd);
		}
	}
	if (!c->symtab)
		return -1;
	return elf_symtab_exports(c->symtab, symbol);
}

const char *const *index_search_dirs(size_t *n)
{
	*n = sizeof default_dirs / sizeof default_dirs[0];
	return default_dirs;
}

size_t index_count(const struct host_index *idx)
{
	return idx->nlibs;
}

int index_is_stale(const struct host_index *idx)
{
	struct stat st;
	int fd = index_open(idx, "/etc/ld.so.cache", O_RDONLY);
	if (fd < 0)
		return idx->have_cache_st;
	int r = fstat(fd, &st) == 0 &&
		(!idx->have_cache_st || st.st_ino != idx->cache_st.st_ino ||
		 st.st_dev != idx->cache_st.st_dev || st.st_size != idx->cache_st.st_size ||
		 st.st_mtim.tv_sec != idx->cache_st.st_mtim.tv_sec ||
		 st.st_mtim.tv_nsec != idx->cache_st.st_mtim.tv_nsec);
	close(fd);
	return r;
}

int index_path_exists(const struct host_index *idx, const char *path)
{
	int fd = index_open(idx, path, O_PATH);
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
	if (idx->root_fd >= 0)
		close(idx->root_fd);
	free(idx->root);
	free(idx);
}
