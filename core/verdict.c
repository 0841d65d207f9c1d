/* Judging an artifact against the host index: every finding of DESIGN §4.
 *
 * Host needs come from needed.SONAME (with weak.SONAME and symbols.SONAME);
 * an artifact without any needed.* key (the prototype's 0.0.1 form, or
 * another tool's) has each library-name.N as a need with no versions.
 * Without elf.class/elf.machine a need is met by a library of any ABI, as
 * the prototype did. */
#include <gelf.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "elf.h"
#include "verdict.h"

#define NS_LEN (sizeof ARTIFACT_NS - 1)

#if defined(__x86_64__)
#define HOST_CLASS ELFCLASS64
#define HOST_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_CLASS ELFCLASS64
#define HOST_MACHINE EM_AARCH64
#else
#define HOST_CLASS 0
#define HOST_MACHINE 0
#endif

struct need_view {
	const char *soname;
	const char *versions, *weak, *symbols;	/* space-separated or NULL */
};

static int add_finding(struct verdict *v, const char *kind, const char *soname, int warning,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int add_finding(struct verdict *v, const char *kind, const char *soname, int warning,
		       const char *fmt, ...)
{
	struct finding *nf = realloc(v->findings, (v->nfindings + 1) * sizeof *nf);
	if (!nf)
		return COMPAT_ENOMEM;
	v->findings = nf;
	struct finding *f = &nf[v->nfindings];
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
		return COMPAT_ENOMEM;
	}
	v->nfindings++;
	if (!warning)
		v->compatible = 0;
	return 0;
}

static int add_resolved(struct verdict *v, const char *soname, const char *path)
{
	struct resolved *nr = realloc(v->resolved, (v->nresolved + 1) * sizeof *nr);
	if (!nr)
		return COMPAT_ENOMEM;
	v->resolved = nr;
	nr[v->nresolved].soname = strdup(soname);
	nr[v->nresolved].path = path ? strdup(path) : NULL;
	if (!nr[v->nresolved].soname || (path && !nr[v->nresolved].path)) {
		free(nr[v->nresolved].soname);
		free(nr[v->nresolved].path);
		return COMPAT_ENOMEM;
	}
	v->nresolved++;
	return 0;
}

/* Calls fn on each space-separated word of list; stops on error. */
static int each_word(const char *list, int (*fn)(void *ctx, const char *w), void *ctx)
{
	char w[512];
	while (list && *list) {
		while (*list == ' ')
			list++;
		size_t n = strcspn(list, " ");
		if (n && n < sizeof w) {
			memcpy(w, list, n);
			w[n] = '\0';
			int rc = fn(ctx, w);
			if (rc < 0)
				return rc;
		}
		list += n;
	}
	return 0;
}

struct need_ctx {
	struct verdict *v;
	const struct host_index *idx;
	const struct host_lib *lib;
	const char *soname;
	int weak;
	size_t missing_syms;
	char first_missing[256];
};

static int has_verdef(const struct host_lib *lib, const char *ver)
{
	for (size_t i = 0; i < lib->nverdefs; i++)
		if (strcmp(lib->verdefs[i], ver) == 0)
			return 1;
	return 0;
}

static int check_version(void *p, const char *ver)
{
	struct need_ctx *c = p;
	if (!c->lib->nverdefs)
		return add_finding(c->v, FINDING_MISSING_VERSION, c->soname, 1,
				   "%s defines no symbol versions; cannot confirm %s", c->lib->path, ver);
	if (has_verdef(c->lib, ver))
		return 0;
	return add_finding(c->v, FINDING_MISSING_VERSION, c->soname, c->weak,
			   "%s lacks %sversion %s", c->lib->path, c->weak ? "weak " : "", ver);
}

static int check_symbol(void *p, const char *sym)
{
	struct need_ctx *c = p;
	int r = index_lib_exports(c->idx, c->lib, sym);
	if (r == 0)
		return add_finding(c->v, FINDING_UNDEFINED_SYMBOL, c->soname, 0,
				   "%s does not export %s", c->lib->path, sym);
	return 0;
}

/* ARTIFACT_NS + a + b into key (cap bytes); NULL when it does not fit.
 * The server calls this per attribute per request: no printf. */
static const char *ns_key(char *key, size_t cap, const char *a, const char *b)
{
	size_t ln = sizeof ARTIFACT_NS - 1, la = strlen(a), lb = strlen(b);
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

/* The ABIs this CPU executes natively. */
static int runnable(int elf_class, int machine)
{
#if defined(__x86_64__)
	return machine == EM_X86_64 || (machine == EM_386 && elf_class == ELFCLASS32);
#elif defined(__aarch64__)
	return machine == EM_AARCH64 || machine == EM_ARM;
#else
	return 1;
#endif
}

static int check_arch(const struct host_index *idx, const struct artifact *a, struct verdict *v,
		      int *elf_class, int *machine, struct cerr *err)
{
	const char *cls = attr(a, "elf.class"), *mach = attr(a, "elf.machine");
	const char *osabi = attr(a, "elf.osabi"), *interp = attr(a, "elf.interpreter");
	const char *isa = attr(a, "isa-level");
	*elf_class = cls ? elf_class_from_name(cls) : 0;
	*machine = mach ? elf_machine_from_name(mach) : 0;
	if (*elf_class < 0 || *machine < 0)
		return cerr_set(err, COMPAT_EINVAL, "unknown %s \"%.40s\"",
				*elf_class < 0 ? "elf.class" : "elf.machine", *elf_class < 0 ? cls : mach);
	int os = osabi ? elf_osabi_from_name(osabi) : ELFOSABI_SYSV;
	int rc = 0;
	if (*machine && !runnable(*elf_class, *machine))
		rc = add_finding(v, FINDING_WRONG_ARCH, "", 0, "%s %s programs do not run on this host",
				 cls ? cls : "", mach);
	else if (os != ELFOSABI_SYSV && os != ELFOSABI_GNU)
		rc = add_finding(v, FINDING_WRONG_ARCH, "", 0, "OS ABI %s is not Linux", osabi);
	if (rc == 0 && interp && !index_path_exists(idx, interp))
		rc = add_finding(v, FINDING_MISSING_INTERP, "", 0, "interpreter %s does not exist on this host",
				 interp);
	if (rc == 0 && isa && strncmp(isa, "x86-64-v", 8) == 0 && *machine == EM_X86_64) {
		int want = atoi(isa + 8), have = cpu_x86_isa_level();
		if (have && want > have)
			rc = add_finding(v, FINDING_ISA_LEVEL, "", 0,
					 "needs %s; this CPU supports x86-64-v%d", isa, have);
	}
	return rc < 0 ? cerr_set(err, rc, "out of memory") : 0;
}

static int check_need(const struct host_index *idx, const struct host_index *extra,
		      const struct host_index *own, const struct need_view *n, int elf_class,
		      int machine, struct verdict *v)
{
	const struct host_lib *lib = NULL;
	const struct host_index *owner = idx;
	if (extra && (lib = index_lookup_soname(extra, n->soname, elf_class, machine)))
		owner = extra;
	if (!lib && own && (lib = index_lookup_soname(own, n->soname, elf_class, machine)))
		owner = own;
	/* An artifact that names no ABI: this host's own ABI first. */
	if (!lib && !elf_class && !machine)
		lib = index_lookup_soname(idx, n->soname, HOST_CLASS, HOST_MACHINE);
	if (!lib)
		lib = index_lookup_soname(idx, n->soname, elf_class, machine);
	int rc = add_resolved(v, n->soname, lib ? lib->path : NULL);
	if (rc < 0)
		return rc;
	if (!lib) {
		char where[1024] = "", mname[16];
		size_t nd, used = 0;
		const char *const *dirs = index_search_dirs(&nd);
		used += snprintf(where, sizeof where, "%s%s/etc/ld.so.cache [ld.so.cache]",
				 extra ? "the library path [LD_LIBRARY_PATH], " : "",
				 own ? "the program's RPATH/RUNPATH [rpath], " : "");
		for (size_t i = 0; i < nd && used < sizeof where; i++)
			if (index_path_exists(idx, dirs[i]))
				used += snprintf(where + used, sizeof where - used, ", %s [default path]", dirs[i]);
		return add_finding(v, FINDING_MISSING_SONAME, n->soname, 0,
				   "no %s%s%s%slibrary provides %s (searched %s)",
				   elf_class ? elf_class_name(elf_class) : "", elf_class ? " " : "",
				   machine ? elf_machine_name(machine, mname, sizeof mname) : "",
				   machine ? " " : "", n->soname, where);
	}
	struct need_ctx c = { .v = v, .idx = owner, .lib = lib, .soname = n->soname };
	if ((rc = each_word(n->versions, check_version, &c)) < 0)
		return rc;
	c.weak = 1;
	if ((rc = each_word(n->weak, check_version, &c)) < 0)
		return rc;
	return each_word(n->symbols, check_symbol, &c);
}

static int cmp_resolved(const void *a, const void *b)
{
	return strcmp(((const struct resolved *)a)->soname, ((const struct resolved *)b)->soname);
}

static int cmp_finding(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;
	if (x->warning != y->warning)
		return x->warning - y->warning;
	int c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->soname, y->soname);
}

int verdict_check(const struct host_index *idx, const struct artifact *a,
		  const struct verdict_opts *o, struct verdict *v, struct cerr *err)
{
	struct host_index *extra = NULL, *own = NULL;
	const struct host_index *use_extra = o ? o->extra_index : NULL, *use_own = o ? o->search_index : NULL;
	struct need_view *needs = NULL;
	size_t nneeds = 0;
	int elf_class, machine, rc;

	memset(v, 0, sizeof *v);
	v->compatible = 1;
	if ((rc = check_arch(idx, a, v, &elf_class, &machine, err)) < 0)
		goto out;
	if (!use_extra && o && o->nextra) {
		struct index_opts xo = { .extra_dirs = o->extra_dirs, .nextra = o->nextra, .no_system = 1 };
		if ((rc = index_build(&xo, &extra, err)) < 0)
			goto out;
	}
	/* The program's own absolute RPATH/RUNPATH directories. */
	const char *sp = use_own ? NULL : attr(a, "search-path");
	if (sp && *sp) {
		char *copy = strdup(sp);
		const char *dirs[64];
		size_t nd = 0;
		for (char *tok = copy ? strtok(copy, ":") : NULL; tok && nd < 64; tok = strtok(NULL, ":"))
			dirs[nd++] = tok;
		struct index_opts so = { .extra_dirs = dirs, .nextra = nd, .no_system = 1 };
		rc = copy ? index_build(&so, &own, err) : cerr_set(err, COMPAT_ENOMEM, "out of memory");
		free(copy);
		if (rc < 0)
			goto out;
	}

	/* Collect the needs: needed.* if any, else library-name.*. */
	int have_needed = 0;
	for (size_t i = 0; i < a->nattrs; i++)
		have_needed |= strncmp(a->attrs[i].key, ARTIFACT_NS "needed.", NS_LEN + 7) == 0;
	needs = calloc(a->nattrs ? a->nattrs : 1, sizeof *needs);
	if (!needs) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < a->nattrs; i++) {
		const char *k = a->attrs[i].key;
		if (strncmp(k, ARTIFACT_NS, NS_LEN) != 0)
			continue;
		k += NS_LEN;
		const char *soname = NULL;
		if (have_needed && strncmp(k, "needed.", 7) == 0)
			soname = k + 7;
		else if (!have_needed && strncmp(k, "library-name.", 13) == 0)
			soname = a->attrs[i].value;
		if (!soname || !*soname)
			continue;
		int dup = 0;
		for (size_t j = 0; j < nneeds; j++)
			dup |= strcmp(needs[j].soname, soname) == 0;
		if (dup)
			continue;
		struct need_view *n = &needs[nneeds++];
		n->soname = soname;
		if (have_needed) {
			char key[600];
			n->versions = a->attrs[i].value;
			n->weak = ns_key(key, sizeof key, "weak.", soname) ? artifact_get(a, key) : NULL;
			n->symbols = ns_key(key, sizeof key, "symbols.", soname) ? artifact_get(a, key) : NULL;
		}
	}
	if (!use_extra)
		use_extra = extra;
	if (!use_own)
		use_own = own;
	for (size_t i = 0; i < nneeds; i++)
		if ((rc = check_need(idx, use_extra, use_own, &needs[i], elf_class, machine, v)) < 0) {
			cerr_set(err, rc, "out of memory");
			goto out;
		}
	if (v->nresolved)
		qsort(v->resolved, v->nresolved, sizeof *v->resolved, cmp_resolved);
	if (v->nfindings)
		qsort(v->findings, v->nfindings, sizeof *v->findings, cmp_finding);
	rc = 0;
out:
	free(needs);
	index_free(extra);
	index_free(own);
	if (rc < 0)
		verdict_free(v);
	return rc;
}

char *verdict_to_json(const struct verdict *v, size_t *len)
{
	json_t *root = json_object(), *fs = json_array(), *res = json_object();
	char *out = NULL;
	if (!root || !fs || !res)
		goto out;
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct finding *f = &v->findings[i];
		/* inserted in key order: jansson keeps it, so no sorting on dump */
		json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "detail", f->detail, "kind", f->kind,
				      "soname", f->soname, "warning", f->warning);
		if (!o || json_array_append_new(fs, o) < 0)
			goto out;
	}
	for (size_t i = 0; i < v->nresolved; i++)
		if (json_object_set_new(res, v->resolved[i].soname,
					v->resolved[i].path ? json_string(v->resolved[i].path) : json_null()) < 0)
			goto out;
	if (json_object_set_new(root, "compatible", json_boolean(v->compatible)) < 0 ||
	    json_object_set(root, "findings", fs) < 0 || json_object_set(root, "resolved", res) < 0)
		goto out;
	out = json_dumps(root, JSON_COMPACT);
	if (out && len)
		*len = strlen(out);
out:
	json_decref(fs);
	json_decref(res);
	json_decref(root);
	return out;
}

void verdict_free(struct verdict *v)
{
	for (size_t i = 0; i < v->nfindings; i++) {
		free(v->findings[i].kind);
		free(v->findings[i].soname);
		free(v->findings[i].detail);
	}
	free(v->findings);
	for (size_t i = 0; i < v->nresolved; i++) {
		free(v->resolved[i].soname);
		free(v->resolved[i].path);
	}
	free(v->resolved);
	memset(v, 0, sizeof *v);
}
