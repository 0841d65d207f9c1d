#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dirscan.h"

static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	if (n == 1 && prefix[0] == '/')
		return path[0] == '/';
	return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int dirscan_allowed(const char *path, const struct dirscan_limits *lim, struct cerr *err)
{
	if (path[0] != '/')
		return cerr_set(err, COMPAT_EPERM, "%.100s: a library directory must be an absolute path", path);
	if (!lim->nallow)
		return 0;
	/* ".." could climb out of a prefix without leaving it in the text. */
	for (const char *p = path; (p = strstr(p, "/..")) != NULL; p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return cerr_set(err, COMPAT_EPERM, "%.100s: \"..\" is not allowed in a library directory", path);
	for (size_t i = 0; i < lim->nallow; i++)
		if (under(path, lim->allow[i]))
			return 0;
	return cerr_set(err, COMPAT_EPERM, "%.100s is not under an allowed path (compat serve --allow-path)", path);
}

static const char *kind_of(mode_t m)
{
	return S_ISFIFO(m) ? "FIFO" : S_ISSOCK(m) ? "socket" : "device";
}

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
	memset(ns, 0, sizeof *ns);
}

static int names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t ncap = ns->cap ? ns->cap * 2 : 64;
		char **nv = realloc(ns->v, ncap * sizeof *nv);
		if (!nv)
			return COMPAT_ENOMEM;
		ns->v = nv;
		ns->cap = ncap;
	}
	if (!(ns->v[ns->n] = strdup(name)))
		return COMPAT_ENOMEM;
	ns->n++;
	return 0;
}

static int stopped(const int *cancelled, int64_t deadline, const struct dirscan_limits *lim, struct cerr *err)
{
	if (cancelled && __atomic_load_n(cancelled, __ATOMIC_RELAXED))
		return cerr_set(err, COMPAT_ELIMIT, "cancelled");
	if (clock_now_ms() > deadline)
		return cerr_set(err, COMPAT_ELIMIT, "library directories not read within %d ms", lim->timeout_ms);
	return 0;
}

/* Read one resolved directory: count its entries, note its library
 * names, refuse what must never be opened. 0 when it is not a directory. */
static int read_dir(const char *dir, const struct dirscan_limits *lim, const int *cancelled, int64_t deadline,
		    struct names *ns, struct cerr *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* as ld.so: a directory it cannot open is skipped */
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	size_t entries = 0;
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (++entries > lim->max_entries) {
			rc = cerr_set(err, COMPAT_ELIMIT, "%.100s: more than %zu entries (compat serve --max-dir-entries)",
				      dir, lim->max_entries);
			break;
		}
		if ((entries & 255) == 0 && (rc = stopped(cancelled, deadline, lim, err)) < 0)
			break;
		/* The names hostindex takes from a directory. */
		if (!strstr(e->d_name, ".so") || e->d_type == DT_DIR)
			continue;
		struct stat st;
		if (fstatat(fd, e->d_name, &st, 0) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
			rc = cerr_set(err, COMPAT_EINVAL, "%.100s/%.60s is a %s, not a library: refused", dir, e->d_name,
				      kind_of(st.st_mode));
			break;
		}
		if (ns->n >= lim->max_libs) {
			rc = cerr_set(err, COMPAT_ELIMIT, "more than %zu libraries in the library directories of one request",
				      lim->max_libs);
			break;
		}
		if (names_add(ns, e->d_name) < 0)
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	closedir(d);
	return rc;
}

int dirscan_build(const char *const *dirs, size_t n, const struct dirscan_limits *lim, const int *cancelled,
		  struct host_index **out, struct cerr *err)
{
	int64_t deadline = clock_now_ms() + lim->timeout_ms;
	struct names ns = { 0 };
	char **real = NULL;
	size_t nreal = 0;
	struct host_index *idx = NULL;
	int rc = 0;
	*out = NULL;
	if (n > lim->max_dirs)
		return cerr_set(err, COMPAT_ELIMIT, "%zu library directories named; at most %zu are read", n,
				lim->max_dirs);
	if (n && !(real = calloc(n, sizeof *real)))
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((rc = stopped(cancelled, deadline, lim, err)) < 0 || (rc = dirscan_allowed(dirs[i], lim, err)) < 0)
			break;
		char *rp = realpath(dirs[i], NULL);
		if (!rp) {
			if (errno == ENOMEM)
				rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
			continue;	/* absent: ld.so skips it too */
		}
		real[nreal++] = rp;
		/* A symlink may lead out of the allowed prefixes. */
		if (lim->nallow && dirscan_allowed(rp, lim, NULL) < 0) {
			rc = cerr_set(err, COMPAT_EPERM, "%.100s leads to %.100s, not under an allowed path "
				      "(compat serve --allow-path)", dirs[i], rp);
			break;
		}
		rc = read_dir(rp, lim, cancelled, deadline, &ns, err);
	}
	if (rc < 0)
		goto out;
	struct index_opts io = { .extra_dirs = (const char *const *)real, .nextra = nreal, .no_system = 1 };
	if ((rc = index_build(&io, &idx, err)) < 0)
		goto out;
	/* Read every library now, here: a lookup with an ABI nothing has
	 * loads each candidate of the name and matches none. */
	for (size_t i = 0; i < ns.n; i++) {
		if ((i & 63) == 0 && (rc = stopped(cancelled, deadline, lim, err)) < 0)
			goto out;
		index_lookup_soname(idx, ns.v[i], -1, -1);
	}
	*out = idx;
	idx = NULL;
out:
	index_free(idx);
	names_free(&ns);
	for (size_t i = 0; i < nreal; i++)
		free(real[i]);
	free(real);
	return rc;
}

/* ---- the cache ---- */

struct dircache_entry {
	char *key;		/* the directories, each followed by a NUL */
	size_t keylen;
	struct host_index *idx;
	size_t nlibs;
	int64_t born, used;
};

struct dircache {
	struct dircache_entry *v;
	size_t n, max_lists, max_libs, libs;
	int64_t ttl_ms;
};

static char *make_key(const char *const *dirs, size_t n, size_t *len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += strlen(dirs[i]) + 1;
	char *k = malloc(total ? total : 1), *p = k;
	if (!k)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(dirs[i]) + 1;
		memcpy(p, dirs[i], l);
		p += l;
	}
	*len = total;
	return k;
}

int64_t dircache_ttl(const struct dircache *c)
{
	return c->ttl_ms;
}

int dircache_new(struct dircache **out, size_t max_lists, size_t max_libs, int64_t ttl_ms)
{
	struct dircache *c = calloc(1, sizeof *c);
	*out = c;
	if (!c)
		return COMPAT_ENOMEM;
	c->max_lists = max_lists;
	c->max_libs = max_libs;
	c->ttl_ms = ttl_ms;
	return 0;
}

static void drop(struct dircache *c, size_t i)
{
	free(c->v[i].key);
	index_free(c->v[i].idx);
	c->libs -= c->v[i].nlibs;
	c->v[i] = c->v[--c->n];
}

struct host_index *dircache_get(struct dircache *c, const char *const *dirs, size_t n, int64_t now)
{
	return dircache_lookup(c, dirs, n, now, NULL);
}

struct host_index *dircache_lookup(struct dircache *c, const char *const *dirs, size_t n, int64_t now,
				   int64_t *until)
{
	size_t len;
	char *k = make_key(dirs, n, &len);
	struct host_index *found = NULL;
	for (size_t i = 0; k && i < c->n; i++) {
		struct dircache_entry *e = &c->v[i];
		if (e->keylen != len || memcmp(e->key, k, len) != 0)
			continue;
		if (now - e->born > c->ttl_ms) {
			drop(c, i);
			break;
		}
		e->used = now;
		found = e->idx;
		if (until)
			*until = e->born + c->ttl_ms;
		break;
	}
	free(k);
	return found;
}

int dircache_put(struct dircache *c, const char *const *dirs, size_t n, struct host_index *idx, int64_t now)
{
	size_t nlibs = index_count(idx), len;
	if (!c->max_lists || nlibs > c->max_libs) {
		index_free(idx);	/* too large to keep: used once */
		return 0;
	}
	char *k = make_key(dirs, n, &len);
	if (!k) {
		index_free(idx);
		return COMPAT_ENOMEM;
	}
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].keylen == len && memcmp(c->v[i].key, k, len) == 0) {
			drop(c, i);
			break;
		}
	while (c->n && (c->n >= c->max_lists || c->libs + nlibs > c->max_libs)) {
		size_t lru = 0;
		for (size_t i = 1; i < c->n; i++)
			if (c->v[i].used < c->v[lru].used)
				lru = i;
		drop(c, lru);
	}
	if (!c->v && !(c->v = calloc(c->max_lists, sizeof *c->v))) {
		free(k);
		index_free(idx);
		return COMPAT_ENOMEM;
	}
	c->v[c->n++] = (struct dircache_entry){ .key = k, .keylen = len, .idx = idx, .nlibs = nlibs,
						 .born = now, .used = now };
	c->libs += nlibs;
	return 0;
}

void dircache_expire(struct dircache *c, int64_t now)
{
	for (size_t i = c->n; i-- > 0;)
		if (now - c->v[i].born > c->ttl_ms)
			drop(c, i);
}

void dircache_clear(struct dircache *c)
{
	while (c->n)
		drop(c, c->n - 1);
}

size_t dircache_count(const struct dircache *c)
{
	return c->n;
}

void dircache_free(struct dircache *c)
{
	if (!c)
		return;
	dircache_clear(c);
	free(c->v);
	free(c);
}
