/* compat check: can this node run the artifact, and if not, why. Also the
 * container entrypoint (--exec): check, then execve the command. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/command.h"
#include "core/describe.h"
#include "core/fsutil.h"
#include "core/hostindex.h"
#include "core/libcache.h"
#include "core/oci.h"
#include "core/pathlist.h"
#include "core/rpcclient.h"
#include "core/verdict.h"
#include "core/vec.h"

static const char usage_text[] =
	"usage: compat check [--json] [-v] [--library-path DIRS] [--root DIR] PROGRAM|DIR|ARTIFACT|REF|IMAGE_REF|-...\n"
	"       compat check --host ADDR [--host ADDR]... [--hosts FILE] [--tls-ca FILE [--tls-name NAME]]\n"
	"                    [--json] PROGRAM|DIR|ARTIFACT|REF|-\n"
	"       compat check --exec [--cache DIR] [PROGRAM|DIR|ARTIFACT] -- CMD [ARGS...]\n"
	"\n"
	"Judge programs, or artifacts (from compat gen), against this host's\n"
	"libraries, or ask compat servers. Every finding is reported: wrong-arch,\n"
	"missing-interpreter, missing-soname, missing-version, isa-level, kernel,\n"
	"undefined-symbol; root causes first, and a last line with the minimum\n"
	"library versions needed.\n"
	"Several operands: a report each, in order (with --json, a line each:\n"
	"{\"schema\":1, \"artifact\": NAME, \"report\": REPORT} or {..., \"error\": MESSAGE});\n"
	"the exit status is the worst of them.\n"
	"\n"
	"An ELF PROGRAM is described on the spot, as compat gen would, a '#!' script\n"
	"by its interpreter (through /usr/bin/env NAME too), a DIR as compat gen DIR\n"
	"(every ELF file under it); any other file is read as an artifact. An\n"
	"IMAGE_REF (a container image in a registry) is judged by the compat artifact\n"
	"attached to it (referrers API, else the sha256-<hex> tag; the newest).\n"
	"Exit: 0 compatible, 1 not compatible, 2 bad usage or input, 3 server\n"
	"unreachable; with --exec, 126 when CMD cannot be executed, 127 when it is\n"
	"not found, else CMD's own status.\n"
	"\n"
	"      --json               machine-readable report on stdout, errors as JSON too\n"
	"                           (docs/json.md)\n"
	"  -v, --verbose            the places searched under each missing library\n"
	"      --library-path DIRS  also search these directories first (like LD_LIBRARY_PATH)\n"
	"      --root DIR           judge the host tree at DIR instead of /\n"
	"      --machine NAME       a DIR with files of several machines: judge those of NAME\n"
	"      --host ADDR          ask the compat server at ADDR (host[:port], port 50051 by\n"
	"                           default); repeat it to ask several servers at once\n"
	"      --hosts FILE         ask every server listed in FILE (one per line, # comments)\n"
	"      --timeout MS         give each server this long to answer (default 10000)\n"
	"      --tls-ca FILE        talk TLS to the server, trusting this CA\n"
	"      --tls-name NAME      name to check in the server's certificate (default: the host;\n"
	"                           mbedtls 2.28 checks DNS names only, so use it for IP addresses)\n"
	"      --plain-http         registry references over plain HTTP\n"
	"      --ca-file FILE       trust this CA for the registry's TLS certificate\n"
	"      --exec               then run CMD if compatible (without an artifact, judge\n"
	"                           CMD, or a script's interpreter, on the spot) as the\n"
	"                           kernel would, in place; else explain and exit 1\n"
	"      --cache DIR          with --exec: run CMD with the library cache DIR made by\n"
	"                           compat trace --cache (LD_AUDIT: no library search)\n"
	"  -h, --help               this text\n"
	"      --version            print the version\n";

enum { OPT_JSON = 256, OPT_LIBPATH, OPT_ROOT, OPT_HOST, OPT_HOSTS, OPT_TIMEOUT, OPT_TLSCA, OPT_TLSNAME, OPT_PLAIN,
       OPT_CAFILE, OPT_EXEC, OPT_CACHE, OPT_VERSION, OPT_MACHINE };

static const struct option options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "library-path", required_argument, NULL, OPT_LIBPATH },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "machine", required_argument, NULL, OPT_MACHINE },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "hosts", required_argument, NULL, OPT_HOSTS },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "tls-ca", required_argument, NULL, OPT_TLSCA },
	{ "tls-name", required_argument, NULL, OPT_TLSNAME },
	{ "plain-http", no_argument, NULL, OPT_PLAIN },
	{ "ca-file", required_argument, NULL, OPT_CAFILE },
	{ "exec", no_argument, NULL, OPT_EXEC },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct check_args {
	int json, exec, plain_http, timeout_ms, verbose;
	const char *libpath, *root, *tls_ca, *tls_name, *ca_file, *machine;
	const char *cache;	/* --exec --cache DIR */
	const char **hosts;	/* --host and --hosts, in order */
	size_t nhosts;
	char *hosts_text;	/* --hosts FILE's contents, which hosts point into */
};

static void add_host(struct check_args *ca, const char *h)
{
	if (ca->nhosts >= RPC_MAX_HOSTS)
		cli_usage_die("check", "more than %d servers", RPC_MAX_HOSTS);
	if (VEC_GROW(ca->hosts, ca->nhosts) < 0)
		cli_die("check", "out of memory");
	ca->hosts[ca->nhosts++] = h;
}

/* --hosts FILE: one address per line; blank lines and # comments ignored. */
static void add_hosts_file(struct check_args *ca, const char *path)
{
	size_t len;
	struct cerr err;
	if (ca->hosts_text)
		cli_usage_die("check", "--hosts given twice");
	if (fs_read_file(path, 1u << 20, &ca->hosts_text, &len, &err) < 0)
		cli_die("check", "%s", err.msg);
	for (char *save, *line = strtok_r(ca->hosts_text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line += strspn(line, " \t\r");
		line[strcspn(line, " \t\r")] = '\0';
		if (*line)
			add_host(ca, line);
	}
	if (!ca->nhosts)
		cli_die("check", "%s: no server addresses in it", path);
}

static void print_searched(const struct verdict *v, const char *indent, FILE *out)
{
	for (size_t i = 0; i < v->nsearched; i++)
		fprintf(out, "%s%s %s\n", indent, v->searched[i].dir, v->searched[i].why);
}

/* The report for people: the verdict, the findings (root causes first),
 * where each host need was found, where missing ones were looked for,
 * what was not checked, and the minimum versions needed. */
static void print_human(const struct verdict *v, const char *name, int verbose, FILE *out)
{
	int colour = cli_colour(out), missing = 0;
	const char *on = colour ? (v->compatible ? "\033[1;32m" : "\033[1;31m") : "", *off = colour ? "\033[0m" : "";
	size_t nf = 0;
	for (size_t i = 0; i < v->nfindings; i++)
		nf += !v->findings[i].warning;
	if (v->compatible)
		fprintf(out, "%scompatible%s: %s (%zu host librar%s found)\n", on, off, name, v->nresolved,
			v->nresolved == 1 ? "y" : "ies");
	else
		fprintf(out, "%sNOT compatible%s: %s (%zu finding%s)\n", on, off, name, nf, nf == 1 ? "" : "s");
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct finding *f = &v->findings[i];
		int ms = strcmp(f->kind, FINDING_MISSING_SONAME) == 0;
		fprintf(out, "  %s%-19s %s\n", f->warning ? "warning: " : "", f->kind, f->detail);
		if (ms && verbose)
			print_searched(v, "      searched ", out);
		missing |= ms;
	}
	for (size_t i = 0; i < v->nresolved; i++)
		fprintf(out, "  %s => %s\n", v->resolved[i].soname,
			v->resolved[i].path ? v->resolved[i].path : "not found");
	if (missing && !verbose) {
		fprintf(out, "  searched, in order:\n");
		print_searched(v, "    ", out);
	}
	for (size_t i = 0; i < v->nnotes; i++)
		fprintf(out, "  note: %s\n", v->notes[i]);
	if (v->summary)
		fprintf(out, "%s\n", v->summary);
}

/* --library-path DIRS as a list (empty entries dropped). */
static void split_dirs(const char *s, struct pathlist *l)
{
	if (pathlist_split(s, ":", 0, l) < 0)
		cli_die("check", "out of memory");
}

/* The index a local check judges against: lazy, for one process judges a
 * few artifacts and looks up only what they need (not every library of
 * the host, as the server's index holds). */
static int local_index(const struct check_args *ca, struct host_index **idx, struct cerr *err)
{
	struct pathlist extra;
	split_dirs(ca->libpath, &extra);
	struct index_opts io = { .root = ca->root, .extra_dirs = (const char *const *)extra.v, .nextra = extra.n,
				 .lazy = 1 };
	int rc = index_build(&io, idx, err);
	pathlist_free(&extra);
	return rc;
}

static int judge_local(const struct check_args *ca, const struct artifact *a, struct verdict *v,
		       struct cerr *err)
{
	struct host_index *idx = NULL;
	int rc = local_index(ca, &idx, err);
	if (rc == 0)
		rc = verdict_check(idx, a, NULL, v, err);
	index_free(idx);
	return rc;
}

/* The report as JSON (docs/json.md): verdict_to_json's object (what a
 * server's Response.payload holds), with "schema" and the name shown. */
static json_t *report_json(const struct verdict *v, const char *name)
{
	char *j = verdict_to_json(v, NULL);
	json_t *doc = j ? json_loads(j, 0, NULL) : NULL;
	free(j);
	json_t *out = json_pack("{s:i, s:s}", "schema", CLI_JSON_SCHEMA, "name", name);
	if (!doc || !out || json_object_update(out, doc) < 0) {
		json_decref(out);
		out = NULL;
	}
	json_decref(doc);
	return out;
}

static int report(const struct check_args *ca, const struct verdict *v, const char *name)
{
	if (ca->json) {
		int rc = cli_json_print("check", report_json(v, name), 0);
		if (rc)
			return rc;
	} else {
		print_human(v, name, ca->verbose, ca->exec ? stderr : stdout);
	}
	fflush(stdout);
	return v->compatible ? 0 : 1;
}

/* The artifact's bytes: a file, "-", or a registry reference (pulled
 * through the cache). */
static int read_source(const struct check_args *ca, const char *src, char **data, size_t *len,
		       struct cerr *err)
{
	if (oci_is_reference(src)) {
		struct oci_opts o = { .plain_http = ca->plain_http, .ca_file = ca->ca_file };
		return oci_pull_artifact(src, &o, data, len, err);
	}
	return fs_read_file(src, ARTIFACT_MAX_BYTES, data, len, err);
}

/* What check judges, however it was named. */
struct source {
	struct artifact a;	/* parsed (empty when only sent to a server) */
	char *json;		/* its text, for --host */
	size_t len;
	char name[2 * PATH_MAX];	/* what the report calls it */
};

static void source_free(struct source *s)
{
	artifact_free(&s->a);
	free(s->json);
}

/* The basename of path ("dir/" gives "dir"). */
static const char *base_name(const char *path, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", path);
	size_t l = strlen(buf);
	while (l > 1 && buf[l - 1] == '/')
		buf[--l] = '\0';
	const char *b = strrchr(buf, '/');
	return b && b[1] ? b + 1 : buf;
}

/* An ELF file or a directory, described as compat gen would (with
 * LD_LIBRARY_PATH, or --library-path when given). */
static int describe_here(const struct check_args *ca, const char *path, struct source *s, struct cerr *err)
{
	const char *lp = ca->libpath ? ca->libpath : getenv("LD_LIBRARY_PATH");
	struct describe_opts o = { .library_path = lp && *lp ? lp : NULL, .machine = ca->machine };
	const char *paths[] = { path };
	int rc = describe_paths(paths, 1, &o, NULL, NULL, &s->a, err);
	if (rc == 0 && !(s->json = artifact_to_json(&s->a, &s->len)))
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	return rc;
}

/* Load src: an ELF program or a DIR is described on the spot, a '#!'
 * script by the ELF file its interpreter line leads to; "-", a registry
 * reference or any other file is read as an artifact (to_server: bytes
 * that do not parse are still sent, and the server says why). The name
 * is the artifact's executable-name wherever the artifact came from, so
 * that a program is called the same here and through --host. */
static int load_source(const struct check_args *ca, const char *src, int to_server, struct source *s,
		       struct cerr *err)
{
	struct stat st;
	char buf[PATH_MAX];
	int rc;
	memset(s, 0, sizeof *s);
	artifact_init(&s->a);
	if (strcmp(src, "-") != 0 && stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
		if ((rc = describe_here(ca, src, s, err)) < 0)
			return rc;
		snprintf(s->name, sizeof s->name, "%s", base_name(src, buf, sizeof buf));
		return 0;
	}
	if (strcmp(src, "-") != 0 && stat(src, &st) == 0 && S_ISREG(st.st_mode)) {
		int kind = command_kind(src, err);
		if (kind < 0)
			return kind;
		if (kind == COMMAND_ELF) {
			if ((rc = describe_here(ca, src, s, err)) < 0)
				return rc;
			snprintf(s->name, sizeof s->name, "%s", base_name(src, buf, sizeof buf));
			return 0;
		}
		if (kind == COMMAND_SCRIPT) {
			char *prog;
			if ((rc = command_program(src, getenv("PATH"), &prog, NULL, err)) < 0)
				return rc;
			rc = describe_here(ca, prog, s, err);
			snprintf(s->name, sizeof s->name, "%s via %s", base_name(src, buf, sizeof buf), prog);
			free(prog);
			return rc;
		}
	}
	if ((rc = read_source(ca, src, &s->json, &s->len, err)) < 0)
		return rc;
	const char *shown = strcmp(src, "-") == 0 ? "<stdin>" : src;
	if ((rc = artifact_parse(s->json, s->len, shown, &s->a, err)) < 0 && !to_server)
		return rc;
	const char *exe = artifact_get(&s->a, ARTIFACT_NS "executable-name");
	snprintf(s->name, sizeof s->name, "%s", exe ? exe : src);
	return 0;
}

/* One line of check --json with several operands: {"schema": 1,
 * "artifact": SRC, "report": the document --json alone prints} or
 * {"schema": 1, "artifact": SRC, "error": {"message": .., "exit": N}}. */
static void json_line(const char *src, const struct verdict *v, const char *name, const struct cerr *err)
{
	json_t *row = json_pack("{s:s}", "artifact", src);
	if (!row)
		cli_die("check", "out of memory");
	if (v)
		json_object_set_new(row, "report", report_json(v, name));
	else
		json_object_set_new(row, "error", json_pack("{s:s, s:i}", "message", err->msg, "exit",
							    cerr_exit_status(err->code)));
	cli_json_print("check", row, 0);	/* takes row */
}

/* Judge one artifact here. Returns the exit status for it; a report goes
 * to stdout, an error to stderr (and, with several artifacts and --json,
 * to stdout as a JSON line too). */
static int check_one(const struct check_args *ca, const struct host_index *idx, const char *src, int several)
{
	struct source s;
	struct verdict v;
	struct cerr err;
	int rc = load_source(ca, src, 0, &s, &err);
	if (rc == 0)
		rc = verdict_check(idx, &s.a, NULL, &v, &err);
	if (rc < 0) {
		source_free(&s);
		if (!(several && ca->json))
			return cli_error("check", &err);
		cli_warn("check", "%s", err.msg);	/* and its JSON line: */
		json_line(src, NULL, NULL, &err);
		return cerr_exit_status(err.code);
	}
	if (several && ca->json) {
		json_line(src, &v, s.name, NULL);
		rc = v.compatible ? 0 : 1;
	} else {
		rc = report(ca, &v, s.name);
	}
	verdict_free(&v);
	source_free(&s);
	return rc;
}

/* ARTIFACT...: each judged against one lazy index of this host, its report
 * printed in the order given. Exit status: the worst of them (3 a registry
 * could not be reached > 2 bad input > 1 not compatible). */
static int check_local(const struct check_args *ca, const char *const *srcs, int n)
{
	struct host_index *idx = NULL;
	struct cerr err;
	if (local_index(ca, &idx, &err) < 0)
		return cli_error("check", &err);
	int worst = 0;
	for (int i = 0; i < n; i++) {
		int st = check_one(ca, idx, srcs[i], n > 1);
		if (st > worst)
			worst = st;
	}
	fflush(stdout);
	index_free(idx);
	return worst;
}

/* A host's one-line status in the fleet table, and its exit status:
 * 0 compatible, 1 not, 2 the server refused the artifact, 3 no answer. */
static int fleet_status(const struct rpc_result *r, const char **verdict, const char **first)
{
	*first = "";
	if (r->rc < 0) {
		*first = r->err.msg;
		*verdict = r->rc == COMPAT_EINVAL ? "refused" : "unreachable";
		return r->rc == COMPAT_EINVAL ? 2 : 3;
	}
	for (size_t i = 0; i < r->v.nfindings && !**first; i++)
		if (!r->v.findings[i].warning)
			*first = r->v.findings[i].detail;
	*verdict = r->v.compatible ? "compatible" : "NOT compatible";
	return r->v.compatible ? 0 : 1;
}

/* Several servers: a table (or JSON, a row per host), in the order given.
 * Exit 0 only when every one is compatible; 3 when any gave no answer,
 * else 2 when any refused the artifact, else 1. */
static int fleet_report(const struct check_args *ca, const struct rpc_result *res, const char *name)
{
	int worst = 0;
	size_t w = 4;
	for (size_t i = 0; i < ca->nhosts; i++)
		if (strlen(ca->hosts[i]) > w)
			w = strlen(ca->hosts[i]);
	json_t *list = ca->json ? json_array() : NULL;
	if (!ca->json)
		printf("%-*s  %-14s  %s\n", (int)w, "HOST", "VERDICT", "FIRST FINDING");
	for (size_t i = 0; i < ca->nhosts; i++) {
		const char *verdict, *first;
		int st = fleet_status(&res[i], &verdict, &first);
		if (st > worst)
			worst = st;	/* 3 no answer > 2 refused > 1 not compatible */
		if (!ca->json) {
			printf("%-*s  %-14s  %s\n", (int)w, ca->hosts[i], verdict, first);
			continue;
		}
		json_t *row = json_pack("{s:s, s:s}", "host", ca->hosts[i], "status",
					st == 0 ? "compatible" : st == 1 ? "incompatible" : st == 2 ? "refused" : "unreachable");
		if (res[i].rc < 0)
			json_object_set_new(row, "error", json_string(res[i].err.msg));
		else
			json_object_set_new(row, "report", report_json(&res[i].v, name));
		json_array_append_new(list, row);
	}
	if (ca->json) {
		int rc = cli_json_print("check", json_pack("{s:s, s:o}", "name", name, "hosts", list), 2);
		if (rc)
			return rc;
	}
	fflush(stdout);
	return worst;
}

/* --host: the servers judge; with one, the same report and exit codes as here. */
static int judge_remote(const struct check_args *ca, const char *src)
{
	struct source s;
	struct cerr err;
	if (load_source(ca, src, 1, &s, &err) < 0) {
		source_free(&s);
		return cli_error("check", &err);
	}
	struct pathlist extra;
	split_dirs(ca->libpath, &extra);
	struct rpc_opts o = { .library_path = (const char *const *)extra.v, .nlibrary_path = extra.n,
			      .tls_ca = ca->tls_ca, .tls_name = ca->tls_name, .timeout_ms = ca->timeout_ms };
	struct rpc_result *res = calloc(ca->nhosts, sizeof *res);
	if (!res)
		cli_die("check", "out of memory");
	int rc = rpc_check_many(ca->hosts, ca->nhosts, &o, s.json, s.len, res, &err);
	pathlist_free(&extra);
	if (rc < 0) {
		rc = cli_error("check", &err);
	} else if (ca->nhosts == 1) {
		if (res[0].rc < 0)
			rc = cli_error("check", &res[0].err);
		else
			rc = report(ca, &res[0].v, s.name);
	} else {
		rc = fleet_report(ca, res, s.name);
	}
	for (size_t i = 0; i < ca->nhosts; i++)
		verdict_free(&res[i].v);
	free(res);
	source_free(&s);
	return rc;
}

/* --exec --cache DIR: LD_AUDIT for cmd, after the checks of a cache that
 * others could have changed. 0, or the exit status of the error. */
static int cache_setenv(const char *dir, const char *cmd, int *in_effect)
{
	struct libcache_audit a;
	struct cerr err;
	int rc = libcache_audit_prepare(dir, cmd, &a, &err);
	*in_effect = 0;
	if (rc == COMPAT_ENOTFOUND) {
		cli_warn("check", "%s: running without the cache", err.msg);
		return 0;
	}
	if (rc < 0)
		return cli_error("check", &err);
	if (a.setid)
		cli_warn("check", "%s is set-user-ID or set-group-ID: ld.so ignores LD_AUDIT for it "
			 "(secure mode), the cache does not apply", cmd);
	if (setenv("LD_AUDIT", a.ld_audit, 1) < 0)
		cli_die("check", "out of memory");
	*in_effect = !a.setid;
	return 0;
}

/* The status a shell gives a command it cannot run (DESIGN §1): 127 not
 * found, 126 found but not executable; compat's own errors keep theirs. */
static int cannot_run(const struct cerr *err)
{
	int e = err->sys_errno;
	if (e == ENOENT)
		return cli_fail("check", 127, "%s", err->msg);
	if (e == EACCES || e == ENOEXEC || e == ELOOP)
		return cli_fail("check", 126, "%s", err->msg);
	return cli_error("check", err);
}

/* check --exec [SOURCE] -- CMD: find CMD as execvp would (127, 126), judge
 * SOURCE or else the ELF file that runs for CMD (a script's interpreter),
 * then execve the file found, in place, as the kernel would run it. */
static int run_exec(const struct check_args *ca, const char *source, char **cmd)
{
	struct source s;
	struct cerr err;
	struct verdict v;
	char *found, *prog = NULL;
	unsigned depth = 0;
	int rc;

	if (command_find(cmd[0], getenv("PATH"), &found, &err) < 0)
		return cannot_run(&err);
	if (ca->cache) {
		/* The cache's checks first (a cache others could have changed is
		 * refused). When it covers CMD as CMD is now -- every library
		 * its load needs an unchanged recorded file, the versions met --
		 * ld.so will load what the traced run loaded: no search, no
		 * judgement to repeat (that is the launcher's speed on a slow
		 * file system). Else CMD is judged as without a cache. */
		int in_effect;
		char why[512];
		if ((rc = cache_setenv(ca->cache, found, &in_effect)) != 0) {
			free(found);
			return rc;
		}
		if (in_effect && !source) {
			int cov = libcache_audit_covers(ca->cache, found, why, sizeof why, &err);
			if (cov == 1)
				goto exec;
			cli_warn("check", "%s: the cache does not cover %s (%s): judging it", ca->cache, cmd[0],
				 cov < 0 ? err.msg : why);
		}
	}
	if (source) {
		rc = load_source(ca, source, 0, &s, &err);
	} else {
		if (command_program(found, getenv("PATH"), &prog, &depth, &err) < 0) {
			free(found);
			return cannot_run(&err);
		}
		memset(&s, 0, sizeof s);
		artifact_init(&s.a);
		rc = describe_here(ca, prog, &s, &err);
		char buf[PATH_MAX];
		if (depth)
			snprintf(s.name, sizeof s.name, "%s via %s", base_name(cmd[0], buf, sizeof buf), prog);
		else
			snprintf(s.name, sizeof s.name, "%s", base_name(cmd[0], buf, sizeof buf));
		free(prog);
	}
	if (rc == 0)
		rc = judge_local(ca, &s.a, &v, &err);
	if (rc < 0) {
		source_free(&s);
		free(found);
		return cli_error("check", &err);
	}
	if (!v.compatible) {
		report(ca, &v, s.name);
		verdict_free(&v);
		source_free(&s);
		free(found);
		return 1;
	}
	verdict_free(&v);
	source_free(&s);
exec:
	fflush(NULL);
	execv(found, cmd);
	int e = errno;
	rc = cli_fail("check", e == ENOENT ? 127 : 126, "%s: %s", cmd[0], strerror(e));
	free(found);
	return rc;
}

static int check_run(struct check_args *cap, int argc, char **argv, const char **ops);

/* What check_run allocates is freed here, whichever way it returns. */
int check_main(int argc, char **argv)
{
	struct check_args ca = { 0 };
	const char **ops = calloc((size_t)argc + 1, sizeof *ops);	/* the operands, in order */
	if (!ops)
		cli_die("check", "out of memory");
	int rc = check_run(&ca, argc, argv, ops);
	free(ops);
	free(ca.hosts);
	free(ca.hosts_text);
	return rc;
}

static int check_run(struct check_args *cap, int argc, char **argv, const char **ops)
{
	int nops = 0, dashdash = 0, c;

	cli_json(cap->json = cli_json_in(argc, argv));
	opterr = 0;
	/* Options may follow operands, as GNU tools allow, but nothing after
	 * "--" is an option (CMD's own): getopt_long in order ('+'), resumed
	 * past each operand. */
	for (;;) {
		while ((c = getopt_long(argc, argv, "+:hv", options, NULL)) != -1) {
			switch (c) {
			case OPT_JSON: cli_json(cap->json = 1); break;
			case 'v': cap->verbose = 1; break;
			case OPT_LIBPATH: cap->libpath = optarg; break;
			case OPT_ROOT: cap->root = optarg; break;
			case OPT_MACHINE: cap->machine = optarg; break;
			case OPT_HOST: add_host(cap, optarg); break;
			case OPT_HOSTS: add_hosts_file(cap, optarg); break;
			case OPT_TIMEOUT: {
				char *end;
				long ms = strtol(optarg, &end, 10);
				if (*end || ms <= 0 || ms > 3600000)
					cli_usage_die("check", "--timeout: expected milliseconds (1 to 3600000), got '%s'", optarg);
				cap->timeout_ms = (int)ms;
				break;
			}
			case OPT_TLSCA: cap->tls_ca = optarg; break;
			case OPT_TLSNAME: cap->tls_name = optarg; break;
			case OPT_CAFILE: cap->ca_file = optarg; break;
			case OPT_PLAIN: cap->plain_http = 1; break;
			case OPT_EXEC: cap->exec = 1; break;
			case OPT_CACHE: cap->cache = optarg; break;
			case 'h': fputs(usage_text, stdout); return 0;
			case OPT_VERSION: return cli_version("check");
			default: return cli_bad_option("check", argc, argv, options, c);
			}
		}
		if (optind > 1 && strcmp(argv[optind - 1], "--") == 0) {
			dashdash = 1;
			break;
		}
		if (optind >= argc)
			break;
		ops[nops++] = argv[optind++];
	}
	if (cap->cache && !cap->exec)
		cli_usage_die("check", "--cache goes with --exec");
	if (cap->exec) {
		if (cap->nhosts)
			cli_usage_die("check", "--exec judges here: --host does not go with it");
		if (nops > 1)
			cli_usage_die("check", "extra operand '%s' (compat check --exec [ARTIFACT] -- CMD [ARGS...])", ops[1]);
		if (!dashdash || optind >= argc)
			cli_usage_die("check", "--exec needs a command after --");
		return run_exec(cap, ops[0], argv + optind);
	}
	for (; dashdash && optind < argc; optind++)
		ops[nops++] = argv[optind];
	if (nops == 0)
		cli_usage_die("check", "missing operand (a PROGRAM, DIR, ARTIFACT, REF or -)");
	if (nops > 1 && cap->nhosts)
		cli_usage_die("check", "extra operand '%s' (one operand with --host)", ops[1]);
	const char *src = ops[0];
	if (cap->nhosts) {
		int rc = judge_remote(cap, src);
		return rc;
	}
	return check_local(cap, ops, nops);
}
