/* Judging an artifact against the host index: every finding of DESIGN §4.
 *
 * Host needs come from needed.SONAME (with weak.SONAME and symbols.SONAME);
 * an artifact without any needed.* key (the prototype's 0.0.1 form, or
 * another tool's) has each library-name.N as a need with no versions.
 * Without elf.class/elf.machine a need is met by a library of any ABI, the
 * host's own first, as the prototype did.
 *
 * The phases: the architecture (wrong-arch, missing-interpreter, ISA);
 * each need found as ld.so would (ldso.h's order over the index); the
 * closure the needs load on this host, breadth-first; the versions each
 * need's library must define; every recorded symbol bound as ld.so binds
 * it, in any library of the closure (a versioned reference to the first
 * object that defines that name and version: glibc 2.34 moved libpthread's
 * symbols into libc.so.6, and programs built before still run); then the
 * report: root causes first with what they explain folded in. */
#include <gelf.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "cpu.h"
#include "elf.h"
#include "parse.h"
#include "pathlist.h"
#include "vec.h"
#include "strmap.h"
#include "verdict.h"

#define NS_LEN (sizeof ARTIFACT_NS - 1)
#define MAX_PROBES (1u << 26)	/* symbol lookups in libraries beyond the first */
#define MAX_NAMED 10		/* symbols named in a detail sentence (all are in "symbols") */

struct strvec {
	char **v;
	size_t n;
};

static int strvec_add(struct strvec *s, const char *str, size_t len)
{
	if (VEC_GROW(s->v, s->n) < 0 || !(s->v[s->n] = strndup(str, len)))
		return COMPAT_ENOMEM;
	s->n++;
	return 0;
}

static void strvec_free(struct strvec *s)
{
	for (size_t i = 0; s && i < s->n; i++)
		free(s->v[i]);
	if (s)
		free(s->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* qsort with n == 0 may get NULL, which it must not. */
static void sort_strs(char **v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof *v, cmp_str);
}

/* "a, b, c and 4 more" of the first MAX_NAMED entries; caller frees. */
static char *name_list(char *const *v, size_t n)
{
	size_t len = 32;
	for (size_t i = 0; i < n && i < MAX_NAMED; i++)
		len += strlen(v[i]) + 2;
	char *out = malloc(len), *p = out;
	if (!out)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n && i < MAX_NAMED; i++)
		p += sprintf(p, "%s%s", i ? ", " : "", v[i]);
	if (n > MAX_NAMED)
		sprintf(p, " and %zu more", n - MAX_NAMED);
	return out;
}

/* ---- findings ---- */

static struct finding *add_finding(struct verdict *v, const char *kind, const char *soname, int warning,
				   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static struct finding *add_finding(struct verdict *v, const char *kind, const char *soname, int warning,
				   const char *fmt, ...)
{
	if (VEC_GROW(v->findings, v->nfindings) < 0)
		return NULL;
	struct finding *f = &v->findings[v->nfindings];
	memset(f, 0, sizeof *f);
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&f->detail, fmt, ap);
	va_end(ap);
	f->kind = strdup(kind);
	f->soname = strdup(soname ? soname : "");
	f->warning = warning;
	if (n < 0 || !f->kind || !f->soname) {
		if (n >= 0)
			free(f->detail);
		free(f->kind);
		free(f->soname);
		return NULL;
	}
	v->nfindings++;
	if (!warning)
		v->compatible = 0;
	return f;
}

/* Move a sorted copy of s into the finding's symbols. */
static void take_symbols(struct finding *f, struct strvec *s)
{
	sort_strs(s->v, s->n);
	f->symbols = s->v;
	f->nsymbols = s->n;
	s->v = NULL;
	s->n = 0;
}

static int kind_rank(const struct finding *f)
{
	static const char *const order[] = { FINDING_WRONG_ARCH, FINDING_MISSING_INTERP, FINDING_MISSING_SONAME,
					     FINDING_MISSING_VERSION, FINDING_ISA_LEVEL, FINDING_KERNEL,
					     FINDING_UNDEFINED_SYMBOL, FINDING_PLUGIN_IMPORTS };
	for (int i = 0; i < (int)(sizeof order / sizeof order[0]); i++)
		if (strcmp(f->kind, order[i]) == 0)
			return i;
	return 99;
}

static int cmp_finding(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;
	if (x->warning != y->warning)
		return x->warning - y->warning;
	int c = kind_rank(x) - kind_rank(y);
	if (!c)
		c = strcmp(x->soname, y->soname);
	if (!c)
		c = strcmp(x->version ? x->version : "", y->version ? y->version : "");
	return c ? c : strcmp(x->detail, y->detail);
}

/* ---- artifact access ---- */

/* ARTIFACT_NS + a + b into key (cap bytes); NULL when it does not fit.
 * The server calls this per attribute per request: no printf. */
static const char *ns_key(char *key, size_t cap, const char *a, const char *b)
{
	size_t ln = NS_LEN, la = strlen(a), lb = strlen(b);
	if (ln + la + lb + 1 > cap)
		return NULL;
	memcpy(key, ARTIFACT_NS, ln);
	memcpy(key + ln, a, la);
	memcpy(key + ln + la, b, lb + 1);
	return key;
}

static const char *attr(const struct artifact *a, const char *name)
{
	char key[128];
	return ns_key(key, sizeof key, name, "") ? artifact_get(a, key) : NULL;
}

/* The attributes whose key starts with ARTIFACT_NS prefix: [*from, *to)
 * (attributes are sorted by key). */
static void attr_range(const struct artifact *a, const char *prefix, size_t *from, size_t *to)
{
	char key[64];
	ns_key(key, sizeof key, prefix, "");
	size_t kl = strlen(key), lo = 0, hi = a->nattrs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(a->attrs[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*from = lo;
	while (lo < a->nattrs && strncmp(a->attrs[lo].key, key, kl) == 0)
		lo++;
	*to = lo;
}

/* The next space-separated word of *list: *w, *len; 0 at the end. */
static int next_word(const char **list, const char **w, size_t *len)
{
	const char *p = *list;
	while (p && *p == ' ')
		p++;
	if (!p || !*p)
		return 0;
	*w = p;
	*len = strcspn(p, " ");
	*list = p + *len;
	return 1;
}

static size_t count_words(const char *list)
{
	const char *w;
	size_t len, n = 0;
	while (next_word(&list, &w, &len))
		n++;
	return n;
}

/* ---- versions ---- */

/* "GLIBC_2.38" -> prefix length 6 ("GLIBC_") when a dotted number
 * follows the last '_'; 0 when the name has no numbered family. */
static size_t family_len(const char *ver)
{
	const char *u = strrchr(ver, '_');
	if (!u || u == ver || u[1] < '0' || u[1] > '9' || strspn(u + 1, "0123456789.") != strlen(u + 1))
		return 0;
	return (size_t)(u - ver) + 1;
}

/* Compare dotted numbers "2.38" and "2.4" numerically. */
static int cmp_dotted(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
		if (ea == a && eb == b && !*a && !*b)
			break;
		if (!*ea && !*eb)
			break;
	}
	return 0;
}

/* The newest version of ver's family that lib defines, or NULL. */
static const char *newest_of_family(const struct host_lib *lib, const char *ver)
{
	size_t fl = family_len(ver);
	const char *best = NULL;
	for (size_t i = 0; fl && i < lib->nverdefs; i++) {
		const char *d = lib->verdefs[i];
		if (strncmp(d, ver, fl) != 0 || family_len(d) != fl)
			continue;
		if (!best || cmp_dotted(d + fl, best + fl) > 0)
			best = d;
	}
	return best;
}

static int has_verdef(const struct host_lib *lib, const char *ver)
{
	for (size_t i = 0; i < lib->nverdefs; i++)
		if (strcmp(lib->verdefs[i], ver) == 0)
			return 1;
	return 0;
}

/* ---- the judged host ---- */

struct need {
	const char *soname;		/* borrowed from the artifact */
	const char *versions, *weak;	/* space-separated, or NULL */
	const struct host_lib *lib;	/* NULL: not found */
	const struct host_index *owner;
	const char *bad;		/* a file that stopped the search, or NULL */
	const char *needed_by;		/* a host library's path, for a need of the closure */
	int symbols_only;		/* symbols.SONAME without needed.SONAME */
	struct missing_version *missing;	/* versions the library lacks */
	size_t nmissing;
	struct strvec undefined;	/* symbols recorded as bound to it that nothing defines */
};

struct missing_version {
	const char *version;		/* borrowed */
	struct strvec symbols;
};

struct loaded {
	const struct host_lib *lib;
	const struct host_index *owner;
};

struct judge {
	const struct host_index *idx;
	const struct artifact *a;
	const struct verdict_opts *o;
	struct verdict *v;
	int elf_class, machine;
	/* where needs are searched */
	const struct host_index *req, *rpath, *runpath;	/* LD_LIBRARY_PATH, RPATH, RUNPATH */
	unsigned long failures_before;	/* of the indexes, when the lookups began */
	struct host_index *own_req, *own_rpath, *own_runpath;	/* those built here */
	struct ldso_step steps[5];
	size_t nsteps;
	/* the needs, then needs of the closure that were not found */
	struct need *needs;
	size_t nneeds, ndirect;
	struct strmap need_of;		/* soname -> need index + 1 */
	/* the closure in load order */
	struct loaded *closure;
	size_t nclosure;
	struct strmap loaded_paths;	/* set */
	struct strmap loaded_names;	/* sonames and names already satisfied -> closure index + 1 */
	struct strvec unbound_missing, plugin_missing;
	size_t probes;
};

static int need_add(struct judge *j, const char *soname)
{
	if (VEC_GROW(j->needs, j->nneeds) < 0)
		return COMPAT_ENOMEM;
	struct need *n = &j->needs[j->nneeds];
	memset(n, 0, sizeof *n);
	n->soname = soname;
	if (strmap_put(&j->need_of, soname, (void *)(j->nneeds + 1)) < 0)
		return COMPAT_ENOMEM;
	j->nneeds++;
	return 0;
}

/* The needs: needed.* if any, else library-name.* (deduplicated). */
static int collect_needs(struct judge *j, struct cerr *err)
{
	const struct artifact *a = j->a;
	size_t from, to, max = j->o && j->o->max_needs ? j->o->max_needs : VERDICT_DEFAULT_MAX_NEEDS;
	int legacy = 0;
	attr_range(a, "needed.", &from, &to);
	if (from == to) {
		attr_range(a, "library-name.", &from, &to);
		legacy = 1;
	}
	if (to - from > max)
		return cerr_set(err, COMPAT_ELIMIT, "the artifact has %zu host needs; at most %zu are judged",
				to - from, max);
	for (size_t i = from; i < to; i++) {
		const char *soname = legacy ? a->attrs[i].value : a->attrs[i].key + NS_LEN + 7;
		if (!*soname || strmap_get(&j->need_of, soname))
			continue;
		if (need_add(j, soname) < 0)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		struct need *n = &j->needs[j->nneeds - 1];
		if (!legacy) {
			char key[600];
			n->versions = a->attrs[i].value;
			n->weak = ns_key(key, sizeof key, "weak.", soname) ? artifact_get(a, key) : NULL;
		}
	}
	j->ndirect = j->nneeds;
	return 0;
}

/* An index of the directories of a ':'-list (inside the judged root). */
static int list_index(struct judge *j, const char *list, struct host_index **out, struct cerr *err)
{
	struct pathlist pl;
	if (pathlist_split(list, ":", 0, &pl) < 0)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	struct index_opts io = { .root = index_root(j->idx), .extra_dirs = (const char *const *)pl.v,
				 .nextra = pl.n, .no_system = 1, .lazy = index_lazy(j->idx) };
	int rc = index_build(&io, out, err);
	pathlist_free(&pl);
	return rc;
}

static int add_searched(struct verdict *v, const char *dir, enum ldso_how how)
{
	if (VEC_GROW(v->searched, v->nsearched) < 0 ||
	    !(v->searched[v->nsearched].dir = strdup(dir)))
		return COMPAT_ENOMEM;
	v->searched[v->nsearched++].why = ldso_how_name(how);
	return 0;
}

/* The search order for this artifact (ldso's, flattened), its indexes,
 * and the list of places it searches, for the report. */
static int setup_search(struct judge *j, struct cerr *err)
{
	const char *rpath = attr(j->a, "rpath"), *runpath = attr(j->a, "runpath");
	int rc;
	if (!rpath && !runpath)
		runpath = attr(j->a, "search-path");	/* written by earlier versions of gen */
	/* The server hands in what it read off its loop (verdict_opts). */
	const struct verdict_opts *o = j->o;
	if (rpath && *rpath) {
		if (o && o->rpath_index)
			j->rpath = o->rpath_index;
		else if ((rc = list_index(j, rpath, &j->own_rpath, err)) < 0)
			return rc;
		else
			j->rpath = j->own_rpath;
	}
	if (runpath && *runpath) {
		if (o && o->runpath_index)
			j->runpath = o->runpath_index;
		else if ((rc = list_index(j, runpath, &j->own_runpath, err)) < 0)
			return rc;
		else
			j->runpath = j->own_runpath;
	}
	if (o && o->extra_index) {
		j->req = o->extra_index;
	} else if (o && o->nextra) {
		struct index_opts io = { .root = index_root(j->idx), .extra_dirs = o->extra_dirs,
					 .nextra = o->nextra, .no_system = 1, .lazy = index_lazy(j->idx) };
		if ((rc = index_build(&io, &j->own_req, err)) < 0)
			return rc;
		j->req = j->own_req;
	}
	size_t nidx_extra;
	const char *const *idx_extra = index_extra_dirs(j->idx, &nidx_extra);
	j->nsteps = ldso_search_order_flat(j->rpath ? rpath : NULL, j->runpath ? runpath : NULL,
					   j->req || nidx_extra ? "-" : NULL, j->steps);
	for (size_t s = 0; s < j->nsteps; s++) {
		const struct host_index *li = j->steps[s].how == LDSO_RPATH ? j->rpath
					    : j->steps[s].how == LDSO_RUNPATH ? j->runpath : NULL;
		size_t n = 0;
		const char *const *dirs = NULL;
		const char *dd[LDSO_MAX_DIRS];
		rc = 0;
		switch (j->steps[s].how) {
		case LDSO_RPATH:
		case LDSO_RUNPATH:
			dirs = index_extra_dirs(li, &n);
			break;
		case LDSO_LD_LIBRARY_PATH:
			if (j->req)
				dirs = index_extra_dirs(j->req, &n);
			for (size_t i = 0; i < n && rc == 0; i++)
				rc = add_searched(j->v, dirs[i], LDSO_LD_LIBRARY_PATH);
			dirs = idx_extra;
			n = nidx_extra;
			break;
		case LDSO_CACHE: {
			size_t nt;
			const struct ldso_abi *t = ldso_table(&nt);
			int has_cache = !j->elf_class && !j->machine;
			for (size_t i = 0; i < nt; i++)
				has_cache |= t[i].elf_class == j->elf_class && t[i].machine == j->machine;
			if (has_cache)
				rc = add_searched(j->v, "/etc/ld.so.cache", LDSO_CACHE);
			break;
		}
		case LDSO_DEFAULT:
			n = index_default_dirs(j->idx, j->elf_class, j->machine, dd);
			dirs = dd;
			break;
		}
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = add_searched(j->v, dirs[i], j->steps[s].how);
		if (rc < 0)
			return cerr_set(err, rc, "out of memory");
	}
	return 0;
}

/* Find soname as the judged host's loader would. */
static const struct host_lib *find(const struct judge *j, const char *soname, const struct host_index **owner,
				   const char **bad)
{
	*bad = NULL;
	for (size_t s = 0; s < j->nsteps; s++) {
		const struct host_index *in[2] = { NULL, NULL };
		switch (j->steps[s].how) {
		case LDSO_RPATH: in[0] = j->rpath; break;
		case LDSO_LD_LIBRARY_PATH: in[0] = j->req; in[1] = j->idx; break;
		case LDSO_RUNPATH: in[0] = j->runpath; break;
		default: in[0] = j->idx; break;
		}
		for (int k = 0; k < 2; k++) {
			if (!in[k])
				continue;
			const struct host_lib *l = index_lookup_step(in[k], soname, j->elf_class, j->machine,
								     j->steps[s].how, bad);
			if (l) {
				*owner = in[k];
				return l;
			}
			if (*bad)
				return NULL;
		}
	}
	return NULL;
}

/* Add lib to the closure (once), known by name too. */
static int load(struct judge *j, const struct host_lib *lib, const struct host_index *owner, const char *name)
{
	void *at = strmap_get(&j->loaded_paths, lib->path);
	if (!at) {
		if (j->nclosure >= VERDICT_MAX_CLOSURE)
			return COMPAT_ELIMIT;
		if (VEC_GROW(j->closure, j->nclosure) < 0)
			return COMPAT_ENOMEM;
		j->closure[j->nclosure++] = (struct loaded){ lib, owner };
		at = (void *)j->nclosure;
		if (strmap_put(&j->loaded_paths, lib->path, at) < 0 ||
		    (lib->soname && !strmap_get(&j->loaded_names, lib->soname) &&
		     strmap_put(&j->loaded_names, lib->soname, at) < 0))
			return COMPAT_ENOMEM;
	}
	if (name && !strmap_get(&j->loaded_names, name) && strmap_put(&j->loaded_names, name, at) < 0)
		return COMPAT_ENOMEM;
	return 0;
}

/* The closure entry already known as name, or NULL. */
static const struct loaded *loaded_as(const struct judge *j, const char *name)
{
	void *at = strmap_get(&j->loaded_names, name);
	return at ? &j->closure[(size_t)at - 1] : NULL;
}

/* Find every need, then load the closure breadth-first: what each host
 * library needs in turn, found the same way. The program's loader is
 * there from the start, under its path and its soname. */
static int resolve_needs(struct judge *j, struct cerr *err)
{
	int rc = 0;
	const char *interp = attr(j->a, "elf.interpreter");
	const struct host_lib *ld = interp ? index_lookup_path(j->idx, interp) : NULL;
	if (ld)
		rc = load(j, ld, j->idx, interp);
	for (size_t i = 0; i < j->nneeds && rc == 0; i++) {
		struct need *n = &j->needs[i];
		const struct loaded *l = loaded_as(j, n->soname);
		if (l) {
			n->lib = l->lib;
			n->owner = l->owner;
			continue;
		}
		n->lib = find(j, n->soname, &n->owner, &n->bad);
		if (n->lib)
			rc = load(j, n->lib, n->owner, n->soname);
	}
	for (size_t c = 0; c < j->nclosure && rc == 0; c++) {
		const struct host_lib *lib = j->closure[c].lib;
		for (size_t k = 0; k < lib->nneeded && rc == 0; k++) {
			const char *name = lib->needed[k];
			if (strchr(name, '/') || loaded_as(j, name) || strmap_get(&j->need_of, name))
				continue;
			const struct host_index *owner;
			const char *bad;
			const struct host_lib *dep = find(j, name, &owner, &bad);
			if (dep) {
				rc = load(j, dep, owner, name);
			} else if ((rc = need_add(j, name)) == 0) {
				/* a host library's own need that this host lacks */
				j->needs[j->nneeds - 1].bad = bad;
				j->needs[j->nneeds - 1].needed_by = lib->path;
			}
		}
	}
	if (rc == COMPAT_ELIMIT)
		return cerr_set(err, rc, "the artifact's needs load more than %d host libraries", VERDICT_MAX_CLOSURE);
	return rc < 0 ? cerr_set(err, rc, "out of memory") : 0;
}

/* ---- architecture ---- */

static int add_note(struct verdict *v, const char *note)
{
	if (VEC_GROW(v->notes, v->nnotes) < 0 || !(v->notes[v->nnotes] = strdup(note)))
		return COMPAT_ENOMEM;
	v->nnotes++;
	return 0;
}

static int check_arch(struct judge *j, struct cerr *err)
{
	const struct artifact *a = j->a;
	const char *cls = attr(a, "elf.class"), *mach = attr(a, "elf.machine");
	const char *osabi = attr(a, "elf.osabi"), *interp = attr(a, "elf.interpreter");
	const char *isa = attr(a, "isa-level");
	char mname[32], hname[32], note[160];
	j->elf_class = cls ? elf_class_from_name(cls) : 0;
	j->machine = mach ? elf_machine_from_name(mach) : 0;
	if (j->elf_class < 0 || j->machine < 0)
		return cerr_set(err, COMPAT_EINVAL, "unknown %s \"%.40s\"", j->elf_class < 0 ? "elf.class" : "elf.machine",
				j->elf_class < 0 ? cls : mach);
	int os = osabi ? elf_osabi_from_name(osabi) : ELFOSABI_SYSV;
	int cpu = index_cpu(j->idx), ok = 1;
	if (j->machine && !index_runs(j->idx, j->elf_class, j->machine))
		ok = !!add_finding(j->v, FINDING_WRONG_ARCH, "", 0, "%s%s%s programs do not run on this host (%s)",
				   cls ? cls : "", cls ? " " : "", elf_machine_name(j->machine, mname, sizeof mname),
				   cpu ? elf_machine_name(cpu, hname, sizeof hname) : "unknown CPU");
	else if (os != ELFOSABI_SYSV && os != ELFOSABI_GNU)
		ok = !!add_finding(j->v, FINDING_WRONG_ARCH, "", 0, "OS ABI %s is not Linux", osabi);
	/* With the wrong architecture, a missing loader is no news. */
	else if (interp && !index_path_exists(j->idx, interp))
		ok = !!add_finding(j->v, FINDING_MISSING_INTERP, "", 0, "interpreter %s does not exist on this host",
				   interp);
	/* The x86-64 ISA level: only what a GNU property note stated. */
	int x86 = j->machine == EM_X86_64 || j->machine == EM_386 || !j->machine;
	if (ok && x86 && !isa) {
		ok = add_note(j->v, "ISA level not recorded: not checked") == 0;
	} else if (ok && isa && strncmp(isa, "x86-64-v", 8) == 0 && j->machine == EM_X86_64) {
		int want = atoi(isa + 8), have = cpu_x86_isa_level();
		if (cpu != ldso_native_cpu() || !have) {
			snprintf(note, sizeof note, "ISA level %s not checked: the judged host's CPU is not this machine's",
				 isa);
			ok = add_note(j->v, note) == 0;
		} else if (want > have) {
			ok = !!add_finding(j->v, FINDING_ISA_LEVEL, "", 0, "needs %s; this CPU supports x86-64-v%d", isa,
					   have);
		}
	}
	return ok ? 0 : cerr_set(err, COMPAT_ENOMEM, "out of memory");
}

/* "kernel" (an image's libc's NT_GNU_ABI_TAG, "3.2.0") against the
 * running kernel's release ("6.1.0-18-amd64"), numerically. */
static int check_kernel(struct judge *j, struct cerr *err)
{
	const char *need = attr(j->a, "kernel");
	struct utsname u;
	unsigned w[3] = { 0, 0, 0 }, h[3] = { 0, 0, 0 };
	if (!need || !parse_dotted(need, w, 3, NULL) || uname(&u) < 0 || !parse_dotted(u.release, h, 3, NULL))
		return 0;
	for (int i = 0; i < 3; i++) {
		if (w[i] == h[i])
			continue;
		if (w[i] < h[i])
			return 0;
		if (!add_finding(j->v, FINDING_KERNEL, "", 0,
				 "needs Linux %s or newer (the ABI its libc declares); this kernel is %s", need,
				 u.release))
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		return 0;
	}
	return 0;
}

/* ---- versions ---- */

static int check_versions(struct judge *j)
{
	for (size_t i = 0; i < j->ndirect; i++) {
		struct need *n = &j->needs[i];
		const char *list = n->versions, *w;
		size_t len;
		char ver[256];
		if (!n->lib)
			continue;
		while (next_word(&list, &w, &len)) {
			if (len >= sizeof ver)
				continue;
			memcpy(ver, w, len);
			ver[len] = '\0';
			if (!n->lib->nverdefs) {
				/* ld.so only warns: "no version information available" */
				if (!add_finding(j->v, FINDING_MISSING_VERSION, n->soname, 1,
						 "%s defines no symbol versions; cannot confirm %s", n->lib->path, ver))
					return COMPAT_ENOMEM;
				break;
			}
			if (has_verdef(n->lib, ver))
				continue;
			if (VEC_GROW(n->missing, n->nmissing) < 0)
				return COMPAT_ENOMEM;
			n->missing[n->nmissing++] = (struct missing_version){ w, { NULL, 0 } };
		}
		list = n->weak;
		while (next_word(&list, &w, &len))
			if (len < sizeof ver && n->lib->nverdefs) {
				memcpy(ver, w, len);
				ver[len] = '\0';
				if (!has_verdef(n->lib, ver) &&
				    !add_finding(j->v, FINDING_MISSING_VERSION, n->soname, 1, "%s lacks weak version %s",
						 n->soname, ver))
					return COMPAT_ENOMEM;
			}
	}
	return 0;
}

/* The missing version of n named by ver (len bytes), or NULL. */
static struct missing_version *missing_of(struct need *n, const char *ver, size_t len)
{
	for (size_t i = 0; n && i < n->nmissing; i++)
		if (strncmp(n->missing[i].version, ver, len) == 0 &&
		    (n->missing[i].version[len] == ' ' || n->missing[i].version[len] == '\0'))
			return &n->missing[i];
	return NULL;
}

static int report_versions(struct judge *j)
{
	for (size_t i = 0; i < j->ndirect; i++) {
		struct need *n = &j->needs[i];
		for (size_t m = 0; m < n->nmissing; m++) {
			struct missing_version *mv = &n->missing[m];
			char *ver = strndup(mv->version, strcspn(mv->version, " "));
			sort_strs(mv->symbols.v, mv->symbols.n);
			char *names = name_list(mv->symbols.v, mv->symbols.n);
			if (!ver || !names) {
				free(ver);
				free(names);
				return COMPAT_ENOMEM;
			}
			const char *newest = newest_of_family(n->lib, ver);
			size_t fl = family_len(ver);
			struct finding *f;
			const char *by = mv->symbols.n ? " needed by " : " needed";
			if (newest)
				f = add_finding(j->v, FINDING_MISSING_VERSION, n->soname, 0, "%s provides up to %s; %s%s%s",
						n->soname, newest, ver, by, names);
			else if (fl)
				f = add_finding(j->v, FINDING_MISSING_VERSION, n->soname, 0,
						"%s defines no %.*s version; %s%s%s", n->soname, (int)fl, ver, ver, by,
						names);
			else
				f = add_finding(j->v, FINDING_MISSING_VERSION, n->soname, 0, "%s lacks %s;%s%s%s",
						n->soname, ver, mv->symbols.n ? "" : " it is", by, names);
			free(names);
			if (!f || (newest && !(f->host_newest = strdup(newest)))) {
				free(ver);
				return COMPAT_ENOMEM;
			}
			f->version = ver;
			take_symbols(f, &mv->symbols);
		}
	}
	return 0;
}

/* ---- symbols ---- */

/* Is name@version (version NULL: unversioned) defined in the closure? 1,
 * 0, or COMPAT_ELIMIT when the lookup budget is spent. first, when given,
 * is tried before the others (where the artifact says it was bound). */
static int defined(struct judge *j, const struct need *first, const char *name, const char *version)
{
	int r;
	if (first && first->lib && (r = index_lib_defines(first->owner, first->lib, name, version)) != 0 && r != -1)
		return r;	/* 1, or out of memory */
	for (size_t c = 0; c < j->nclosure; c++) {
		if (first && j->closure[c].lib == first->lib)
			continue;
		if (++j->probes > MAX_PROBES)
			return COMPAT_ELIMIT;
		if ((r = index_lib_defines(j->closure[c].owner, j->closure[c].lib, name, version)) != 0 && r != -1)
			return r;
	}
	return 0;
}

/* Bind every token of list ("NAME" or "NAME@VERSION"); the ones nothing
 * defines go to missing (or, when their version is one the need's library
 * lacks, to that missing-version's symbols). */
static int bind_list(struct judge *j, struct need *n, const char *list, struct strvec *missing)
{
	const char *w;
	size_t len;
	char tok[512];
	while (next_word(&list, &w, &len)) {
		if (len >= sizeof tok)
			continue;
		memcpy(tok, w, len);
		tok[len] = '\0';
		char *at = strchr(tok, '@');
		if (at)
			*at = '\0';
		struct missing_version *mv = at ? missing_of(n, at + 1, strlen(at + 1)) : NULL;
		if (mv) {
			if (strvec_add(&mv->symbols, tok, strlen(tok)) < 0)
				return COMPAT_ENOMEM;
			continue;
		}
		int r = defined(j, n, tok, at ? at + 1 : NULL);
		if (r < 0)
			return r;
		if (at)
			*at = '@';
		if (!r && strvec_add(missing, tok, len) < 0)
			return COMPAT_ENOMEM;
	}
	return 0;
}

static int check_symbols(struct judge *j, struct cerr *err)
{
	const struct artifact *a = j->a;
	size_t from, to, total = 0;
	size_t max = j->o && j->o->max_symbols ? j->o->max_symbols : VERDICT_DEFAULT_MAX_SYMBOLS;
	const char *unbound = attr(a, "unbound"), *plugin = attr(a, "plugin-imports");
	attr_range(a, "symbols.", &from, &to);
	for (size_t i = from; i < to; i++)
		total += count_words(a->attrs[i].value);
	total += count_words(unbound) + count_words(plugin);
	if (total > max)
		return cerr_set(err, COMPAT_ELIMIT, "the artifact records %zu symbols; at most %zu are judged", total,
				max);
	int rc = 0;
	for (size_t i = from; i < to && rc == 0; i++) {
		const char *soname = a->attrs[i].key + NS_LEN + 8;
		void *ni = strmap_get(&j->need_of, soname);
		struct need *n = ni ? &j->needs[(size_t)ni - 1] : NULL;
		if (n && !n->lib)
			continue;	/* its library is missing: that finding says it all */
		if (!n) {
			/* symbols of a library the artifact has no need for:
			 * judged as needs of their own */
			if ((rc = need_add(j, soname)) < 0)
				break;
			n = &j->needs[j->nneeds - 1];
			n->lib = find(j, soname, &n->owner, &n->bad);
			n->symbols_only = 1;
		}
		rc = bind_list(j, n, a->attrs[i].value, &n->undefined);
	}
	if (rc == 0)
		rc = bind_list(j, NULL, unbound, &j->unbound_missing);
	if (rc == 0)
		rc = bind_list(j, NULL, plugin, &j->plugin_missing);
	if (rc == COMPAT_ELIMIT)
		return cerr_set(err, rc, "too many symbol lookups (%zu symbols, %zu libraries)", total, j->nclosure);
	return rc < 0 ? cerr_set(err, rc, "out of memory") : 0;
}

static int report_symbols(struct judge *j)
{
	size_t absent = 0;
	for (size_t i = 0; i < j->nneeds; i++)
		absent += !j->needs[i].lib;
	for (size_t i = 0; i <= j->nneeds; i++) {
		struct strvec *s = i < j->nneeds ? &j->needs[i].undefined : &j->unbound_missing;
		if (!s->n)
			continue;
		if (i == j->nneeds && absent) {
			/* Symbols nothing bound where the artifact was made may be
			 * the missing library's (a container image's libcuda.so.1,
			 * injected by its runtime): that finding is the cause. */
			char note[160];
			snprintf(note, sizeof note, "%zu symbol%s nothing bound where the artifact was made: not checked, "
				 "a needed library is missing", s->n, s->n == 1 ? "" : "s");
			if (add_note(j->v, note) < 0)
				return COMPAT_ENOMEM;
			continue;
		}
		sort_strs(s->v, s->n);
		char *names = name_list(s->v, s->n);
		if (!names)
			return COMPAT_ENOMEM;
		struct finding *f;
		if (i < j->nneeds)
			f = add_finding(j->v, FINDING_UNDEFINED_SYMBOL, j->needs[i].soname, 0,
					"no library loaded here defines %s (bound to %s where the artifact was made)",
					names, j->needs[i].soname);
		else
			f = add_finding(j->v, FINDING_UNDEFINED_SYMBOL, "", 0,
					"no library loaded here defines %s (nothing did where the artifact was made)", names);
		free(names);
		if (!f)
			return COMPAT_ENOMEM;
		take_symbols(f, s);
	}
	if (j->plugin_missing.n) {
		struct strvec *s = &j->plugin_missing;
		sort_strs(s->v, s->n);
		char *names = name_list(s->v, s->n);
		struct finding *f = names ? add_finding(j->v, FINDING_PLUGIN_IMPORTS, "", 1,
							"%zu symbol%s must be provided by the loading process: %s", s->n,
							s->n == 1 ? "" : "s", names)
					  : NULL;
		free(names);
		if (!f)
			return COMPAT_ENOMEM;
		take_symbols(f, s);
	}
	return 0;
}

/* ---- missing libraries, folded into a root cause ---- */

static int report_missing(struct judge *j)
{
	struct finding *root = NULL;
	char mname[32];
	for (size_t i = 0; i < j->v->nfindings; i++)
		if (!root && (!strcmp(j->v->findings[i].kind, FINDING_WRONG_ARCH) ||
			      !strcmp(j->v->findings[i].kind, FINDING_MISSING_INTERP)))
			root = &j->v->findings[i];
	size_t root_i = root ? (size_t)(root - j->v->findings) : 0;
	struct strvec folded = { NULL, 0 };
	for (size_t i = 0; i < j->nneeds; i++) {
		const struct need *n = &j->needs[i];
		if (n->lib || n->symbols_only)
			continue;
		if (root) {
			if (strvec_add(&folded, n->soname, strlen(n->soname)) < 0)
				goto oom;
			continue;
		}
		char bad[600] = "", by[600] = "";
		if (n->bad)
			snprintf(bad, sizeof bad, "; the search stops at %s, which is not a loadable ELF file", n->bad);
		if (n->needed_by)
			snprintf(by, sizeof by, " (needed by %s)", n->needed_by);
		if (!add_finding(j->v, FINDING_MISSING_SONAME, n->soname, 0, "no %s%s%s%slibrary provides %s%s%s",
				 j->elf_class ? elf_class_name(j->elf_class) : "", j->elf_class ? " " : "",
				 j->machine ? elf_machine_name(j->machine, mname, sizeof mname) : "",
				 j->machine ? " " : "", n->soname, by, bad))
			goto oom;
	}
	if (folded.n) {
		root = &j->v->findings[root_i];
		sort_strs(folded.v, folded.n);
		char *names = name_list(folded.v, folded.n), *d = NULL;
		if (!names || asprintf(&d, "%s; so %zu librar%s cannot be loaded: %s", root->detail, folded.n,
				       folded.n == 1 ? "y" : "ies", names) < 0) {
			free(names);
			goto oom;
		}
		free(names);
		free(root->detail);
		root->detail = d;
		root->folded = folded.v;
		root->nfolded = folded.n;
	}
	return 0;
oom:
	strvec_free(&folded);
	return COMPAT_ENOMEM;
}

/* ---- what the artifact needs at least ---- */

static int minimum_versions(struct judge *j)
{
	static const char *const fam[] = { "GLIBC", "GLIBCXX", "CXXABI", "GCC" };
	static const char *const shown[] = { "glibc", "GLIBCXX", "CXXABI", "GCC" };
	const char *best[4] = { NULL };
	size_t bestlen[4] = { 0 };
	for (size_t i = 0; i < j->ndirect; i++) {
		const char *list = j->needs[i].versions, *w;
		size_t len;
		while (next_word(&list, &w, &len))
			for (int f = 0; f < 4; f++) {
				size_t fl = strlen(fam[f]);
				char tmp[64], cur[64];
				if (len <= fl + 1 || len - fl - 1 >= sizeof tmp || strncmp(w, fam[f], fl) != 0 ||
				    w[fl] != '_' || w[fl + 1] < '0' || w[fl + 1] > '9' ||
				    strspn(w + fl + 1, "0123456789.") < len - fl - 1)
					continue;
				memcpy(tmp, w + fl + 1, len - fl - 1);
				tmp[len - fl - 1] = '\0';
				if (best[f]) {
					memcpy(cur, best[f], bestlen[f]);
					cur[bestlen[f]] = '\0';
				}
				if (!best[f] || cmp_dotted(tmp, cur) > 0) {
					best[f] = w + fl + 1;
					bestlen[f] = len - fl - 1;
				}
			}
	}
	struct verdict *v = j->v;
	size_t used = 0, cap = 256;
	char *s = NULL;
	for (int f = 0; f < 4; f++) {
		if (!best[f])
			continue;
		if (VEC_GROW(v->minimum, v->nminimum) < 0)
			return COMPAT_ENOMEM;
		struct version_min *m = &v->minimum[v->nminimum];
		m->family = strdup(fam[f]);
		m->version = strndup(best[f], bestlen[f]);
		if (!m->family || !m->version) {
			free(m->family);
			free(m->version);
			return COMPAT_ENOMEM;
		}
		v->nminimum++;
		if (!s && !(s = malloc(cap)))
			return COMPAT_ENOMEM;
		used += (size_t)snprintf(s + used, cap - used, "%s%s >= %s", used ? ", " : "needs ", shown[f], m->version);
		if (used >= cap)
			used = cap - 1;
	}
	v->summary = s;
	return 0;
}

static void judge_free(struct judge *j)
{
	for (size_t i = 0; i < j->nneeds; i++) {
		for (size_t m = 0; m < j->needs[i].nmissing; m++)
			strvec_free(&j->needs[i].missing[m].symbols);
		free(j->needs[i].missing);
		strvec_free(&j->needs[i].undefined);
	}
	free(j->needs);
	strmap_free(&j->need_of);
	free(j->closure);
	strmap_free(&j->loaded_paths);
	strmap_free(&j->loaded_names);
	strvec_free(&j->unbound_missing);
	strvec_free(&j->plugin_missing);
	index_free(j->own_req);
	index_free(j->own_rpath);
	index_free(j->own_runpath);
}

static int add_resolved(struct verdict *v, const char *soname, const char *path)
{
	if (VEC_GROW(v->resolved, v->nresolved) < 0)
		return COMPAT_ENOMEM;
	struct resolved *r = &v->resolved[v->nresolved];
	r->soname = strdup(soname);
	r->path = path ? strdup(path) : NULL;
	if (!r->soname || (path && !r->path)) {
		free(r->soname);
		free(r->path);
		return COMPAT_ENOMEM;
	}
	v->nresolved++;
	return 0;
}

static int cmp_resolved(const void *a, const void *b)
{
	return strcmp(((const struct resolved *)a)->soname, ((const struct resolved *)b)->soname);
}

/* Out-of-memory lookups of every index this judgement uses, so far. */
static unsigned long failures(const struct judge *j)
{
	return index_failures(j->idx) + (j->req ? index_failures(j->req) : 0) +
	       (j->rpath ? index_failures(j->rpath) : 0) + (j->runpath ? index_failures(j->runpath) : 0);
}

int verdict_check(const struct host_index *idx, const struct artifact *a,
		  const struct verdict_opts *o, struct verdict *v, struct cerr *err)
{
	struct judge j = { .idx = idx, .a = a, .o = o, .v = v };
	int rc;

	/* Every key is the artifact's or an index's, both outliving j. */
	j.need_of.borrowed = j.loaded_paths.borrowed = j.loaded_names.borrowed = 1;

	memset(v, 0, sizeof *v);
	v->compatible = 1;
	unsigned long idx_before = index_failures(idx);
	if ((rc = check_arch(&j, err)) < 0 || (rc = check_kernel(&j, err)) < 0 || (rc = collect_needs(&j, err)) < 0 ||
	    (rc = setup_search(&j, err)) < 0)
		goto out;
	j.failures_before = failures(&j) - (index_failures(idx) - idx_before);
	if ((rc = resolve_needs(&j, err)) < 0)
		goto out;
	if ((rc = check_versions(&j)) < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	if ((rc = check_symbols(&j, err)) < 0)
		goto out;
	for (size_t i = 0; i < j.ndirect && rc == 0; i++)
		rc = add_resolved(v, j.needs[i].soname, j.needs[i].lib ? j.needs[i].lib->path : NULL);
	if (rc == 0)
		rc = report_versions(&j);
	if (rc == 0)
		rc = report_symbols(&j);
	if (rc == 0)
		rc = report_missing(&j);
	if (rc == 0)
		rc = minimum_versions(&j);
	/* An index that ran out of memory may have answered "not found". */
	if (rc == 0 && failures(&j) != j.failures_before)
		rc = COMPAT_ENOMEM;
	if (rc < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	if (v->nresolved)
		qsort(v->resolved, v->nresolved, sizeof *v->resolved, cmp_resolved);
	if (v->nfindings)
		qsort(v->findings, v->nfindings, sizeof *v->findings, cmp_finding);
out:
	judge_free(&j);
	if (rc < 0)
		verdict_free(v);
	return rc;
}

/* ---- the JSON report ---- */

static void str_array(struct jsonw *w, char *const *v, size_t n)
{
	jsonw_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			w->err = w->err ? w->err : COMPAT_EINVAL;
		jsonw_string(w, v[i]);
	}
	jsonw_array_end(w);
}

static void finding_json(struct jsonw *w, const struct finding *f)
{
	/* in key order, as the jansson tree this replaces printed them */
	jsonw_object_begin(w);
	jsonw_key(w, "detail");
	jsonw_string(w, f->detail ? f->detail : "");
	if (!f->detail)
		w->err = w->err ? w->err : COMPAT_EINVAL;
	if (f->nfolded) {
		jsonw_key(w, "folded");
		str_array(w, f->folded, f->nfolded);
	}
	if (f->host_newest) {
		jsonw_key(w, "host_newest");
		jsonw_string(w, f->host_newest);
	}
	jsonw_key(w, "kind");
	jsonw_string(w, f->kind);
	jsonw_key(w, "soname");
	jsonw_string(w, f->soname);
	if (f->nsymbols) {
		jsonw_key(w, "symbols");
		str_array(w, f->symbols, f->nsymbols);
	}
	if (f->version) {
		jsonw_key(w, "version");
		jsonw_string(w, f->version);
	}
	jsonw_key(w, "warning");
	jsonw_bool(w, f->warning);
	jsonw_object_end(w);
}

int verdict_write_json(const struct verdict *v, struct jsonw *w)
{
	jsonw_object_begin(w);
	jsonw_key(w, "compatible");
	jsonw_bool(w, v->compatible);
	jsonw_key(w, "findings");
	jsonw_array_begin(w);
	for (size_t i = 0; i < v->nfindings; i++) {
		if (!v->findings[i].kind || !v->findings[i].soname)
			w->err = w->err ? w->err : COMPAT_EINVAL;
		finding_json(w, &v->findings[i]);
	}
	jsonw_array_end(w);
	/* An object keeps a key once, where it was first set, with the value
	 * set last (as jansson's did): the minimum families are few; resolved
	 * is sorted, so equal sonames are neighbours. */
	jsonw_key(w, "minimum");
	jsonw_object_begin(w);
	for (size_t i = 0; i < v->nminimum; i++) {
		size_t k, last = i;
		for (k = 0; k < i && strcmp(v->minimum[k].family, v->minimum[i].family) != 0; k++)
			;
		if (k < i)
			continue;
		for (k = i + 1; k < v->nminimum; k++)
			if (strcmp(v->minimum[k].family, v->minimum[i].family) == 0)
				last = k;
		jsonw_key(w, v->minimum[i].family);
		jsonw_string(w, v->minimum[last].version);
		if (!v->minimum[last].version)
			w->err = w->err ? w->err : COMPAT_EINVAL;
	}
	jsonw_object_end(w);
	jsonw_key(w, "notes");
	str_array(w, v->notes, v->nnotes);
	jsonw_key(w, "resolved");
	jsonw_object_begin(w);
	for (size_t i = 0; i < v->nresolved;) {
		size_t last = i;
		while (last + 1 < v->nresolved && strcmp(v->resolved[last + 1].soname, v->resolved[i].soname) == 0)
			last++;
		jsonw_key(w, v->resolved[i].soname);
		jsonw_string(w, v->resolved[last].path);	/* NULL: null */
		i = last + 1;
	}
	jsonw_object_end(w);
	jsonw_key(w, "searched");
	jsonw_array_begin(w);
	for (size_t i = 0; i < v->nsearched; i++) {
		jsonw_object_begin(w);
		jsonw_key(w, "dir");
		jsonw_string(w, v->searched[i].dir ? v->searched[i].dir : "");
		jsonw_key(w, "why");
		jsonw_string(w, v->searched[i].why ? v->searched[i].why : "");
		if (!v->searched[i].dir || !v->searched[i].why)
			w->err = w->err ? w->err : COMPAT_EINVAL;
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
	jsonw_key(w, "summary");
	jsonw_string(w, v->summary);	/* NULL: null */
	jsonw_object_end(w);
	return w->err;
}

char *verdict_to_json(const struct verdict *v, size_t *len)
{
	struct jsonw w;
	jsonw_init(&w, 0);
	verdict_write_json(v, &w);
	if (jsonw_finish(&w) < 0)
		return NULL;
	if (len)
		*len = w.len;
	return w.p;
}

static int strs_from(json_t *arr, char ***out, size_t *n)
{
	size_t i;
	json_t *e;
	*out = NULL;
	*n = 0;
	if (!json_is_array(arr) || !json_array_size(arr))
		return 0;
	if (!(*out = calloc(json_array_size(arr), sizeof **out)))
		return COMPAT_ENOMEM;
	json_array_foreach(arr, i, e) {
		if (!json_is_string(e))
			continue;
		if (!((*out)[*n] = strdup(json_string_value(e))))
			return COMPAT_ENOMEM;
		(*n)++;
	}
	return 0;
}

static char *dup_or_null(json_t *s)
{
	return json_is_string(s) ? strdup(json_string_value(s)) : NULL;
}

int verdict_from_json(const char *json, size_t len, struct verdict *v)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	json_t *fs = json_object_get(root, "findings"), *res = json_object_get(root, "resolved");
	json_t *mins = json_object_get(root, "minimum"), *sr = json_object_get(root, "searched");
	int rc = COMPAT_ENOMEM;
	size_t i;
	json_t *e;
	const char *key;

	memset(v, 0, sizeof *v);
	if (!json_is_object(root) || !json_is_array(fs) || !json_is_object(res)) {
		json_decref(root);
		return COMPAT_EINVAL;
	}
	v->compatible = json_is_true(json_object_get(root, "compatible"));
	if (json_array_size(fs) && !(v->findings = calloc(json_array_size(fs), sizeof *v->findings)))
		goto out;
	json_array_foreach(fs, i, e) {
		const char *k = json_string_value(json_object_get(e, "kind"));
		if (!k)
			continue;
		struct finding *f = &v->findings[v->nfindings++];
		f->kind = strdup(k);
		f->soname = json_is_string(json_object_get(e, "soname")) ? dup_or_null(json_object_get(e, "soname"))
									 : strdup("");
		f->detail = json_is_string(json_object_get(e, "detail")) ? dup_or_null(json_object_get(e, "detail"))
									 : strdup("");
		f->warning = json_is_true(json_object_get(e, "warning"));
		f->version = dup_or_null(json_object_get(e, "version"));
		f->host_newest = dup_or_null(json_object_get(e, "host_newest"));
		if (!f->kind || !f->soname || !f->detail ||
		    strs_from(json_object_get(e, "symbols"), &f->symbols, &f->nsymbols) < 0 ||
		    strs_from(json_object_get(e, "folded"), &f->folded, &f->nfolded) < 0)
			goto out;
	}
	if (json_object_size(res) && !(v->resolved = calloc(json_object_size(res), sizeof *v->resolved)))
		goto out;
	json_object_foreach(res, key, e) {
		struct resolved *r = &v->resolved[v->nresolved++];
		r->soname = strdup(key);
		r->path = dup_or_null(e);
		if (!r->soname || (json_is_string(e) && !r->path))
			goto out;
	}
	if (json_is_array(sr) && json_array_size(sr) &&
	    !(v->searched = calloc(json_array_size(sr), sizeof *v->searched)))
		goto out;
	json_array_foreach(sr, i, e) {
		const char *dir = json_string_value(json_object_get(e, "dir"));
		const char *why = json_string_value(json_object_get(e, "why"));
		enum ldso_how h;
		for (h = LDSO_RPATH; h <= LDSO_DEFAULT && (!why || strcmp(why, ldso_how_name(h))); h++)
			;
		if (!dir || h > LDSO_DEFAULT)
			continue;
		if (!(v->searched[v->nsearched].dir = strdup(dir)))
			goto out;
		v->searched[v->nsearched++].why = ldso_how_name(h);
	}
	if (json_is_object(mins) && json_object_size(mins) &&
	    !(v->minimum = calloc(json_object_size(mins), sizeof *v->minimum)))
		goto out;
	json_object_foreach(mins, key, e) {
		if (!json_is_string(e))
			continue;
		struct version_min *m = &v->minimum[v->nminimum++];
		if (!(m->family = strdup(key)) || !(m->version = strdup(json_string_value(e))))
			goto out;
	}
	if (strs_from(json_object_get(root, "notes"), &v->notes, &v->nnotes) < 0)
		goto out;
	v->summary = dup_or_null(json_object_get(root, "summary"));
	if (json_is_string(json_object_get(root, "summary")) && !v->summary)
		goto out;
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		verdict_free(v);
	return rc;
}

void verdict_free(struct verdict *v)
{
	for (size_t i = 0; i < v->nfindings; i++) {
		struct finding *f = &v->findings[i];
		free(f->kind);
		free(f->soname);
		free(f->detail);
		for (size_t k = 0; k < f->nsymbols; k++)
			free(f->symbols[k]);
		free(f->symbols);
		for (size_t k = 0; k < f->nfolded; k++)
			free(f->folded[k]);
		free(f->folded);
		free(f->version);
		free(f->host_newest);
	}
	free(v->findings);
	for (size_t i = 0; i < v->nresolved; i++) {
		free(v->resolved[i].soname);
		free(v->resolved[i].path);
	}
	free(v->resolved);
	for (size_t i = 0; i < v->nsearched; i++)
		free(v->searched[i].dir);
	free(v->searched);
	for (size_t i = 0; i < v->nnotes; i++)
		free(v->notes[i]);
	free(v->notes);
	for (size_t i = 0; i < v->nminimum; i++) {
		free(v->minimum[i].family);
		free(v->minimum[i].version);
	}
	free(v->minimum);
	free(v->summary);
	memset(v, 0, sizeof *v);
}
