/* From resolved programs to the artifact of DESIGN §2.
 *
 * "Ours" are the programs described and the libraries that travel with
 * them: found through a $ORIGIN-relative path or a DT_NEEDED path (a name
 * with '/'), or lying inside a scanned directory. Everything else the
 * closure pulls in is the host's. The artifact records, per host soname
 * that one of ours needs: the symbol versions required (needed.SONAME;
 * weak ones also in weak.SONAME) and the undefined symbols that bind to
 * it (symbols.SONAME, NAME@VERSION when the reference is versioned), found
 * by walking the global scope in load order (program, breadth-first
 * dependencies, loader last) with each library's own hash table, as ld.so
 * does. A strong reference nothing binds goes to unbound (a program's) or
 * plugin-imports (a shared object's: its loader must provide it); weak
 * references are not needs. Files of different machines or classes are
 * never merged. */
#include <dirent.h>
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "describe.h"
#include "vec.h"
#include "elf.h"
#include "pathlist.h"
#include "resolve.h"
#include "strmap.h"

#define MAX_FILES 100000	/* ELF files described in one artifact */
#define MAX_DEPTH 64		/* directory nesting followed */

struct need {
	struct strmap versions, weak, symbols;	/* used as sets */
};

/* A ':'-list of directories, without duplicates, in first-seen order. */
struct dir_list {
	struct strmap seen;
	char *list;
};

struct describer {
	const struct describe_opts *o;
	struct resolver *rv;
	struct strmap closure;		/* every name loaded: set */
	struct strmap needs;		/* host soname -> struct need */
	struct dir_list rpath, runpath;	/* absolute DT_RPATH / DT_RUNPATH directories of ours */
	struct strmap unbound;		/* set: NAME[@VERSION] a program of ours needs, bound to nothing */
	struct strmap plugin;		/* set: the same for a shared object (its loader provides them) */
	const struct elf_symtab **programs;	/* of the programs described (owned by the resolver) */
	size_t nprograms;
	char **roots;			/* realpaths of scanned directories */
	size_t nroots;
	int have_arch;
	uint32_t isa;
	struct artifact *a;
	describe_warn_fn warn;
	void *ctx;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The set's members, sorted, space-separated; caller frees. */
static char *set_join(const struct strmap *m)
{
	const char **v = malloc((m->n ? m->n : 1) * sizeof *v);
	size_t n = 0, len = 1;
	if (!v)
		return NULL;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key) {
			v[n++] = m->slots[i].key;
			len += strlen(m->slots[i].key) + 1;
		}
	qsort(v, n, sizeof *v, cmp_str);
	char *out = malloc(len), *p = out;
	for (size_t i = 0; out && i < n; i++) {
		size_t l = strlen(v[i]);
		if (i)
			*p++ = ' ';
		memcpy(p, v[i], l);
		p += l;
	}
	if (out)
		*p = '\0';
	free(v);
	return out;
}

static struct need *need_get(struct describer *d, const char *soname)
{
	struct need *n = strmap_get(&d->needs, soname);
	if (!n && (n = calloc(1, sizeof *n)) && strmap_put(&d->needs, soname, n) < 0) {
		free(n);
		n = NULL;
	}
	return n;
}

static void need_free(void *p)
{
	struct need *n = p;
	strmap_free(&n->versions);
	strmap_free(&n->weak);
	strmap_free(&n->symbols);
	free(n);
}

/* Does the object the loader opens at path (inside --root, if any) lie in
 * a scanned directory? Compared by the real path of the opened file. */
static int inside_roots(const struct describer *d, const char *path)
{
	char real[PATH_MAX], link[64];
	if (!d->nroots)
		return 0;
	int fd = resolver_open(d->rv, path);
	if (fd < 0)
		return 0;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof real - 1);
	close(fd);
	if (n <= 0) {
		if (!realpath(path, real))	/* no /proc: as the host sees the path */
			return 0;
	} else {
		real[n] = '\0';
	}
	for (size_t i = 0; i < d->nroots; i++) {
		size_t l = strlen(d->roots[i]);
		if (strncmp(real, d->roots[i], l) == 0 && (real[l] == '/' || real[l] == '\0'))
			return 1;
	}
	return 0;
}

/* Name a host object is needed as: its requested name (the loader by soname). */
static const char *host_name(const struct resolution *r, int idx)
{
	const struct rs_obj *o = &r->objs[idx];
	if (idx == r->interp && o->info && o->info->soname)
		return o->info->soname;
	return o->name;
}

/* Absolute RPATH/RUNPATH directories travel with the program: the target
 * host's loader will search them too. $ORIGIN ones are the app's own;
 * entries with other tokens are left out (they depend on the loader). */
static int add_dirs(struct dir_list *dl, const char *list)
{
	struct pathlist pl;
	if (pathlist_split(list, ":", 0, &pl) < 0)
		return COMPAT_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < pl.n && rc == 0; i++) {
		const char *dir = pl.v[i];
		char *np = NULL;
		if (dir[0] != '/' || strchr(dir, '$') || strmap_get(&dl->seen, dir))
			continue;
		if (strset_add(&dl->seen, dir) < 0 ||
		    asprintf(&np, "%s%s%s", dl->list ? dl->list : "", dl->list ? ":" : "", dir) < 0) {
			rc = COMPAT_ENOMEM;
			break;
		}
		free(dl->list);
		dl->list = np;
	}
	pathlist_free(&pl);
	return rc;
}

/* Is the described file a program (its unbound symbols are fatal) rather
 * than a shared object (a plugin: the process loading it provides them)? */
static int is_program(const struct elf_info *i)
{
	return i->type == ET_EXEC || (i->flags_1 & DF_1_PIE) || (i->interp && !i->soname);
}

/* NAME or NAME@VERSION, into buf (NULL when it does not fit). Called per
 * undefined symbol: no printf. */
static const char *sym_token(char *buf, size_t len, const struct elf_undef *u)
{
	size_t ln = strlen(u->name), lv = u->version ? strlen(u->version) : 0;
	if (ln + (u->version ? 1 + lv : 0) >= len)
		return NULL;
	memcpy(buf, u->name, ln);
	if (u->version) {
		buf[ln] = '@';
		memcpy(buf + ln + 1, u->version, lv);
		ln += 1 + lv;
	}
	buf[ln] = '\0';
	return buf;
}

/* Warn once per file about what nothing binds (gen's stderr). */
static void warn_unbound(struct describer *d, const char *path, const struct strmap *mine)
{
	if (!d->warn || !mine->n)
		return;
	const char **v = malloc(mine->n * sizeof *v);
	size_t n = 0;
	if (!v)
		return;
	for (size_t i = 0; i < mine->cap; i++)
		if (mine->slots[i].key)
			v[n++] = mine->slots[i].key;
	qsort(v, n, sizeof *v, cmp_str);
	char msg[1024];
	size_t used = (size_t)snprintf(msg, sizeof msg,
				       "%s: %zu symbol%s bound to nothing here, recorded as unbound "
				       "(it would stop with 'symbol lookup error' on this host):",
				       path, n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n && used < sizeof msg; i++)
		used += (size_t)snprintf(msg + used, sizeof msg - used, " %s", v[i]);
	if (used >= sizeof msg)
		memcpy(msg + sizeof msg - 5, " ...", 5);
	free(v);
	d->warn(d->ctx, path, msg);
}

/* One file being described: its resolution, which objects are the
 * application's own, and the order a symbol is looked up in. */
struct one {
	struct describer *d;
	const char *path;
	struct resolution r;
	unsigned char *ours;	/* per object: the application's (not a host need) */
	int *scope;		/* objects in symbol lookup order: load order, loader last */
	size_t nscope;
	int program;
	int interp_used;	/* something names the loader in DT_NEEDED */
	struct strmap mine;	/* this file's unbound symbols, for the warning */
};

/* Which objects travel with the application, and the lookup scope. */
static int classify(struct one *f)
{
	const struct resolution *r = &f->r;
	if (!(f->ours = calloc(r->n ? r->n : 1, 1)) || !(f->scope = calloc(r->n ? r->n : 1, sizeof *f->scope)))
		return COMPAT_ENOMEM;
	for (size_t i = 0; i < r->n; i++) {
		const struct rs_obj *o = &r->objs[i];
		/* A DT_NEEDED path names the application's own file, as a
		 * dlopen of a path does. */
		f->ours[i] = i == 0 || (o->path && (o->via_origin || o->how == RS_PATH || inside_roots(f->d, o->path)));
		if (i > 0 && !o->path && f->d->o->missing)
			f->d->o->missing(f->d->o->missing_ctx, f->path, o->name);
		if ((int)i != r->interp && o->info)
			f->scope[f->nscope++] = (int)i;
	}
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 0; r->objs[i].needs && k < r->objs[i].info->nneeded; k++)
			f->interp_used |= r->objs[i].needs[k] == r->interp && r->interp >= 0;
	if (r->interp >= 0)
		f->scope[f->nscope++] = r->interp;
	return 0;
}

/* Architecture from the first program described; the loader it names. */
static int record_arch(struct describer *d, const struct elf_info *mi)
{
	if (!d->have_arch) {
		char buf[32];
		d->have_arch = 1;
		if (artifact_set(d->a, ARTIFACT_NS "elf.class", elf_class_name(mi->elf_class)) < 0 ||
		    artifact_set(d->a, ARTIFACT_NS "elf.machine", elf_machine_name(mi->machine, buf, sizeof buf)) < 0 ||
		    artifact_set(d->a, ARTIFACT_NS "elf.osabi", elf_osabi_name(mi->osabi, buf, sizeof buf)) < 0)
			return COMPAT_ENOMEM;
	}
	if (mi->interp && !artifact_get(d->a, ARTIFACT_NS "elf.interpreter") &&
	    artifact_set(d->a, ARTIFACT_NS "elf.interpreter", mi->interp) < 0)
		return COMPAT_ENOMEM;
	return 0;
}

/* What object i (the application's own) needs from the host: sonames with
 * their versions, its ISA level, its RPATH/RUNPATH directories. */
static int record_needs(struct one *f, size_t i)
{
	struct describer *d = f->d;
	const struct rs_obj *o = &f->r.objs[i];
	if (f->r.objs[0].info->machine == EM_X86_64)
		d->isa |= o->info->isa_needed;
	/* ld.so ignores DT_RPATH in an object that has DT_RUNPATH */
	if ((!o->info->runpath && add_dirs(&d->rpath, o->info->rpath) < 0) || add_dirs(&d->runpath, o->info->runpath) < 0)
		return COMPAT_ENOMEM;
	for (size_t k = 0; o->needs && k < o->info->nneeded; k++) {
		int t = o->needs[k];
		if (t >= 0 && f->ours[t])
			continue;
		if (!need_get(d, t >= 0 ? host_name(&f->r, t) : o->info->needed[k]))
			return COMPAT_ENOMEM;
	}
	for (size_t v = 0; v < o->info->nvneeds; v++) {
		const struct elf_vneed *vn = &o->info->vneeds[v];
		int bundled = 0;
		for (size_t k = 0; o->needs && k < o->info->nneeded; k++)
			if (strcmp(o->info->needed[k], vn->file) == 0 && o->needs[k] >= 0 && f->ours[o->needs[k]])
				bundled = 1;
		if (bundled)
			continue;
		struct need *n = need_get(d, vn->file);
		if (!n)
			return COMPAT_ENOMEM;
		for (size_t j = 0; j < vn->nversions; j++)
			if (strset_add(vn->weak[j] ? &n->weak : &n->versions, vn->versions[j]) < 0)
				return COMPAT_ENOMEM;
	}
	return 0;
}

/* Bind each strong undefined symbol of object i (the application's own)
 * to the first definer in scope, as ld.so would: a host library's go to
 * its symbols.SONAME, what nothing defines to unbound (a program) or
 * plugin-imports (a shared object). A weak one may stay unbound: no need. */
static int bind_symbols(struct one *f, size_t i)
{
	struct describer *d = f->d;
	const struct rs_obj *o = &f->r.objs[i];
	struct elf_info bundled;
	const struct elf_info *ui = o->info;
	int rc = 0;
	memset(&bundled, 0, sizeof bundled);
	if (i > 0) {
		/* the resolver reads the program's undefined symbols only */
		int fd = resolver_open(d->rv, o->path);
		int r2 = fd < 0 ? -1 : elf_read_fd(fd, o->path, ELF_READ_UNDEFS | ELF_READ_VERSIONS, &bundled, NULL);
		if (fd >= 0)
			close(fd);
		if (r2 < 0)
			return r2 == COMPAT_ENOMEM ? r2 : 0;
		ui = &bundled;
	}
	for (size_t u = 0; u < ui->nundefs && rc == 0; u++) {
		const struct elf_undef *un = &ui->undefs[u];
		char tok[600];
		int bound = 0;
		if (un->weak || !sym_token(tok, sizeof tok, un))
			continue;
		for (size_t s = 0; s < f->nscope && !bound && rc == 0; s++) {
			int idx = f->scope[s];
			const struct elf_symtab *t = f->r.objs[idx].symtab;
			int def = t ? elf_symtab_defines(t, un->name, un->version) : 0;
			if (def <= 0) {
				rc = def;	/* 0: not here; < 0: out of memory */
				continue;
			}
			bound = 1;
			if (!f->ours[idx]) {
				struct need *n = need_get(d, host_name(&f->r, idx));
				if (!n || strset_add(&n->symbols, tok) < 0)
					rc = COMPAT_ENOMEM;
			}
		}
		if (rc == 0 && !bound &&
		    (strset_add(f->program ? &d->unbound : &d->plugin, tok) < 0 || strset_add(&f->mine, tok) < 0))
			rc = COMPAT_ENOMEM;
	}
	elf_info_free(&bundled);
	return rc;
}

static int describe_one(struct describer *d, const char *path, struct cerr *err)
{
	struct one f = { .d = d, .path = path };
	int rc = resolver_run(d->rv, path, &f.r, err);
	if (rc < 0)
		return rc;
	const struct elf_info *mi = f.r.objs[0].info;
	f.program = is_program(mi);
	if ((rc = classify(&f)) < 0 || (rc = record_arch(d, mi)) < 0)
		goto out;
	for (size_t i = 0; i < f.r.n && rc == 0; i++) {
		const struct rs_obj *o = &f.r.objs[i];
		if (i > 0 && ((int)i != f.r.interp || f.interp_used) && strset_add(&d->closure, host_name(&f.r, (int)i)) < 0)
			rc = COMPAT_ENOMEM;
		else if (f.ours[i] && o->info && (rc = record_needs(&f, i)) == 0 && !d->o->no_symbols)
			rc = bind_symbols(&f, i);
	}
	if (rc == 0 && f.program) {
		warn_unbound(d, path, &f.mine);
		/* the loading process of the shared objects described with it */
		if (VEC_GROW(d->programs, d->nprograms) < 0)
			rc = COMPAT_ENOMEM;
		else
			d->programs[d->nprograms++] = f.r.objs[0].symtab;
	}
out:
	if (rc < 0)
		rc = cerr_set(err, rc, "out of memory");
	strmap_free(&f.mine);
	free(f.ours);
	free(f.scope);
	resolution_free(&f.r);
	return rc;
}

struct file_list {
	char **v;
	size_t n;
};

static int list_add(struct file_list *l, const char *p)
{
	if (l->n >= MAX_FILES)
		return COMPAT_ELIMIT;
	if (VEC_GROW(l->v, l->n) < 0)
		return COMPAT_ENOMEM;
	return (l->v[l->n] = strdup(p)) ? (int)(l->n++, 0) : COMPAT_ENOMEM;
}

/* Every regular file under dir (not following symlinks), or a warning. */
static int walk(struct describer *d, const char *dir, int depth, struct file_list *l)
{
	if (depth > MAX_DEPTH) {
		if (d->warn)
			d->warn(d->ctx, dir, "directory nesting too deep");
		return 0;
	}
	DIR *dh = opendir(dir);
	if (!dh) {
		if (d->warn) {
			char msg[256];
			snprintf(msg, sizeof msg, "%s: %s", dir, strerror(errno));
			d->warn(d->ctx, dir, msg);
		}
		return 0;
	}
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(dh)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char *p;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			return closedir(dh), COMPAT_ENOMEM;
		struct stat st;
		if (lstat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(d, p, depth + 1, l);
			else if (S_ISREG(st.st_mode))
				rc = list_add(l, p);
		}
		free(p);
	}
	closedir(dh);
	return rc;
}

static int write_attrs(struct describer *d, const char *exe_name)
{
	struct artifact *a = d->a;
	char key[600];
	if (!a->version && !(a->version = strdup(ARTIFACT_VERSION)))
		return COMPAT_ENOMEM;
	if (artifact_set(a, ARTIFACT_NS "executable-name", exe_name) < 0)
		return COMPAT_ENOMEM;
	/* library-name.N: the closure, sorted, numbered without gaps. */
	char **names = malloc((d->closure.n ? d->closure.n : 1) * sizeof *names);
	size_t n = 0;
	if (!names)
		return COMPAT_ENOMEM;
	for (size_t i = 0; i < d->closure.cap; i++)
		if (d->closure.slots[i].key)
			names[n++] = d->closure.slots[i].key;
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, ARTIFACT_NS "library-name.%zu", i);
		if (artifact_set(a, key, names[i]) < 0) {
			free(names);
			return COMPAT_ENOMEM;
		}
	}
	free(names);
	if ((d->rpath.list && artifact_set(a, ARTIFACT_NS "rpath", d->rpath.list) < 0) ||
	    (d->runpath.list && artifact_set(a, ARTIFACT_NS "runpath", d->runpath.list) < 0))
		return COMPAT_ENOMEM;
	/* Only what a GNU property note states: no note, no claim. */
	if (d->have_arch && d->isa && !strcmp(artifact_get(a, ARTIFACT_NS "elf.machine"), "x86_64")) {
		snprintf(key, sizeof key, "x86-64-v%d", elf_isa_level(d->isa));
		if (artifact_set(a, ARTIFACT_NS "isa-level", key) < 0)
			return COMPAT_ENOMEM;
	}
	/* A shared object's imports that a program described with it (its
	 * loading process, as in a trace) defines are bound: no need. */
	struct strmap kept = { 0 };
	for (size_t i = 0; i < d->plugin.cap; i++) {
		char tok[600], *at;
		int bound = 0;
		if (!d->plugin.slots[i].key)
			continue;
		snprintf(tok, sizeof tok, "%s", d->plugin.slots[i].key);
		if ((at = strchr(tok, '@')))
			*at = '\0';
		for (size_t k = 0; k < d->nprograms && !bound; k++)
			bound = d->programs[k] ? elf_symtab_defines(d->programs[k], tok, at ? at + 1 : NULL) : 0;
		if (bound < 0 || (!bound && strset_add(&kept, d->plugin.slots[i].key) < 0)) {
			strmap_free(&kept);
			return COMPAT_ENOMEM;
		}
	}
	strmap_free(&d->plugin);
	d->plugin = kept;
	const struct { const char *key; const struct strmap *set; } lists[] = {
		{ ARTIFACT_NS "unbound", &d->unbound }, { ARTIFACT_NS "plugin-imports", &d->plugin } };
	for (size_t i = 0; i < 2; i++) {
		if (!lists[i].set->n)
			continue;
		char *v = set_join(lists[i].set);
		int rc = v ? artifact_set(a, lists[i].key, v) : COMPAT_ENOMEM;
		free(v);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < d->needs.cap; i++) {
		const char *soname = d->needs.slots[i].key;
		const struct need *nd = d->needs.slots[i].value;
		if (!soname || strlen(soname) > 400)
			continue;
		struct { const char *prefix; const struct strmap *set; int always; } parts[] = {
			{ "needed.", &nd->versions, 1 },
			{ "weak.", &nd->weak, 0 },
			{ "symbols.", &nd->symbols, 0 },
		};
		for (size_t p = 0; p < 3; p++) {
			if (!parts[p].always && !parts[p].set->n)
				continue;
			char *v = set_join(parts[p].set);
			snprintf(key, sizeof key, ARTIFACT_NS "%s%s", parts[p].prefix, soname);
			int rc = v ? artifact_set(a, key, v) : COMPAT_ENOMEM;
			free(v);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int is_candidate(const char *path)
{
	uint8_t cls, osabi;
	uint16_t mach, type;
	return elf_peek(path, &cls, &mach, &type, &osabi, NULL) == 0 &&
	       (type == ET_EXEC || type == ET_DYN);
}

/* The files to describe: named files as they are, directories walked for
 * ELF programs and libraries. */
static int collect(struct describer *d, const char *const *paths, size_t npaths, struct file_list *files,
		   struct cerr *err)
{
	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		int rc;
		if (stat(paths[i], &st) < 0)
			return cerr_sys(err, COMPAT_EIO, "%s", paths[i]);
		if (!S_ISDIR(st.st_mode)) {
			/* a FIFO or device is refused here, never opened */
			if (!S_ISREG(st.st_mode))
				return cerr_set(err, COMPAT_EINVAL, "%s: not a regular file", paths[i]);
			if ((rc = list_add(files, paths[i])) < 0)
				return cerr_set(err, rc, rc == COMPAT_ELIMIT ? "more than %d files" : "out of memory",
						MAX_FILES);
			continue;
		}
		char real[PATH_MAX];
		if (VEC_GROW(d->roots, d->nroots) < 0)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		if (!realpath(paths[i], real))
			return cerr_sys(err, errno == ENOMEM ? COMPAT_ENOMEM : COMPAT_EIO, "%s", paths[i]);
		if (!(d->roots[d->nroots] = strdup(real)))
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		d->nroots++;
		size_t before = files->n;
		if ((rc = walk(d, paths[i], 0, files)) < 0)
			return rc == COMPAT_ELIMIT ? cerr_set(err, rc, "%s: more than %d files", paths[i], MAX_FILES)
						   : cerr_set(err, rc, "out of memory");
		if (files->n > before)
			qsort(files->v + before, files->n - before, sizeof *files->v, cmp_str);
		/* Only ELF programs and libraries count in a directory. */
		size_t w = before;
		for (size_t k = before; k < files->n; k++) {
			if (is_candidate(files->v[k]))
				files->v[w++] = files->v[k];
			else
				free(files->v[k]);
		}
		files->n = w;
	}
	return 0;
}

struct arch_group {
	uint8_t elf_class;
	uint16_t machine;
	size_t n;
};

static const char *group_name(const struct arch_group *g, char *buf, size_t len)
{
	char m[32];
	snprintf(buf, len, "%s %s", elf_class_name(g->elf_class), elf_machine_name(g->machine, m, sizeof m));
	return buf;
}

/* One artifact is one architecture: files of different machines or
 * classes are refused (one warning per group, then the error), unless
 * o->machine picks one; the others are then dropped with one warning. */
static int one_arch(struct describer *d, struct file_list *files, struct cerr *err)
{
	struct arch_group g[16];
	size_t ng = 0;
	unsigned char *grp = calloc(files->n ? files->n : 1, 1);
	char buf[64], m[32];
	int rc = 0;
	if (!grp)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	for (size_t i = 0; i < files->n; i++) {
		uint8_t cls, osabi;
		uint16_t mach, type;
		grp[i] = 0xff;	/* unreadable: describe_one reports it */
		if (elf_peek(files->v[i], &cls, &mach, &type, &osabi, NULL) < 0)
			continue;
		size_t k;
		for (k = 0; k < ng && (g[k].elf_class != cls || g[k].machine != mach); k++)
			;
		if (k == ng && ng < sizeof g / sizeof g[0])
			g[ng++] = (struct arch_group){ cls, mach, 0 };
		if (k < ng) {
			g[k].n++;
			grp[i] = (unsigned char)k;
		}
	}
	int want = -1;
	if (d->o->machine) {
		size_t picked = 0;
		for (size_t k = 0; k < ng; k++)
			if (strcmp(elf_machine_name(g[k].machine, m, sizeof m), d->o->machine) == 0) {
				want = (int)k;
				picked++;
			}
		if (!picked) {
			rc = cerr_set(err, COMPAT_EINVAL, "no file of machine %s here", d->o->machine);
			goto out;
		}
		if (picked > 1)
			want = -1;	/* that machine in two classes: still mixed */
	}
	if (ng > 1 && want < 0) {
		for (size_t k = 0; k < ng && d->warn; k++) {
			char msg[128];
			snprintf(msg, sizeof msg, "%s: %zu file%s", group_name(&g[k], buf, sizeof buf), g[k].n,
				 g[k].n == 1 ? "" : "s");
			d->warn(d->ctx, "", msg);
		}
		rc = cerr_set(err, COMPAT_EINVAL,
			      "files of %zu architectures cannot make one artifact; pick one with --machine NAME", ng);
		goto out;
	}
	if (want >= 0 && ng > 1) {
		char msg[512];
		size_t used = 0, skipped = 0;
		for (size_t k = 0; k < ng; k++)
			if ((int)k != want) {
				skipped += g[k].n;
				used += (size_t)snprintf(msg + used, used < sizeof msg ? sizeof msg - used : 0, "%s%s: %zu",
							 used ? ", " : "", group_name(&g[k], buf, sizeof buf), g[k].n);
			}
		char line[700];
		snprintf(line, sizeof line, "skipped %zu file%s of other architectures (%s)", skipped,
			 skipped == 1 ? "" : "s", msg);
		if (d->warn)
			d->warn(d->ctx, "", line);
		size_t w = 0;
		for (size_t i = 0; i < files->n; i++) {
			if (grp[i] == want || grp[i] == 0xff)
				files->v[w++] = files->v[i];
			else
				free(files->v[i]);
		}
		files->n = w;
	}
out:
	free(grp);
	return rc;
}

int describe_paths(const char *const *paths, size_t npaths, const struct describe_opts *o,
		   describe_warn_fn warn, void *ctx, struct artifact *a, struct cerr *err)
{
	struct describer d = { .o = o, .a = a, .warn = warn, .ctx = ctx };
	struct rs_opts ro = { .root = o->root, .library_path = o->library_path,
			      .elf_flags = ELF_READ_VERSIONS | (o->no_symbols ? 0 : ELF_READ_UNDEFS) };
	struct file_list files = { 0 };
	size_t described = 0;
	int rc = resolver_new(&ro, &d.rv, err);
	if (rc < 0)
		return rc;
	if ((rc = collect(&d, paths, npaths, &files, err)) < 0 || (rc = one_arch(&d, &files, err)) < 0)
		goto out;
	for (size_t i = 0; i < files.n; i++) {
		struct cerr e1;
		rc = describe_one(&d, files.v[i], &e1);
		if (rc == COMPAT_ENOMEM) {
			*err = e1;
			goto out;
		}
		if (rc < 0) {
			/* A file named on the command line must be usable; bad
			 * files found in a directory are reported and skipped. */
			int named = 0;
			for (size_t k = 0; k < npaths; k++)
				named |= strcmp(paths[k], files.v[i]) == 0;
			if (named) {
				if (err)
					*err = e1;
				goto out;
			}
			if (warn) {
				char msg[sizeof e1.msg + 16];
				snprintf(msg, sizeof msg, "%s (skipped)", e1.msg);
				warn(ctx, files.v[i], msg);
			}
			rc = 0;
			continue;
		}
		described++;
	}
	if (!described) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: no ELF program or library found", paths[0]);
		goto out;
	}
	/* The last component of the first PATH ("dir/" included). */
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", paths[0]);
	size_t l = strlen(tmp);
	while (l > 1 && tmp[l - 1] == '/')
		tmp[--l] = '\0';
	const char *base = strrchr(tmp, '/');
	if ((rc = write_attrs(&d, base && base[1] ? base + 1 : tmp)) < 0)
		cerr_set(err, rc, "out of memory");
out:
	for (size_t i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	for (size_t i = 0; i < d.nroots; i++)
		free(d.roots[i]);
	free(d.roots);
	strmap_free(&d.closure);
	strmap_free(&d.rpath.seen);
	free(d.rpath.list);
	strmap_free(&d.runpath.seen);
	free(d.runpath.list);
	strmap_free(&d.unbound);
	strmap_free(&d.plugin);
	free(d.programs);
	strmap_each(&d.needs, need_free);
	strmap_free(&d.needs);
	resolver_free(d.rv);
	return rc;
}
