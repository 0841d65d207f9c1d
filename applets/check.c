/* compat check: can this node run the artifact, and if not, why. Also the
 * container entrypoint (--exec): check, then execve the command. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/describe.h"
#include "core/fsutil.h"
#include "core/hostindex.h"
#include "core/libcache.h"
#include "core/oci.h"
#include "core/pathlist.h"
#include "core/rpcclient.h"
#include "core/verdict.h"

static const char usage_text[] =
	"usage: compat check [--json] [-v] [--library-path DIRS] [--root DIR] ARTIFACT|REF|IMAGE_REF|-...\n"
	"       compat check --host ADDR [--host ADDR]... [--hosts FILE] [--tls-ca FILE [--tls-name NAME]]\n"
	"                    [--json] ARTIFACT|-\n"
	"       compat check --exec [--cache DIR] [ARTIFACT] -- CMD [ARGS...]\n"
	"\n"
	"Judge an artifact (from compat gen) against this host's libraries, or ask\n"
	"a compat server. Every finding is reported: wrong-arch, missing-interpreter,\n"
	"missing-soname, missing-version, isa-level, kernel, undefined-symbol; root\n"
	"causes first, and a last line with the minimum library versions needed.\n"
	"An IMAGE_REF (a container image in a registry) is judged by the compat\n"
	"artifact attached to it (referrers API, else the sha256-<hex> tag; the newest).\n"
	"Several artifacts: a report each, in order (with --json, a line each:\n"
	"{\"artifact\": NAME, \"report\": REPORT} or {\"artifact\": NAME, \"error\": MESSAGE});\n"
	"the exit status is the worst of them.\n"
	"Exit: 0 compatible, 1 not compatible, 2 bad input, 3 server unreachable.\n"
	"\n"
	"      --json               machine-readable report on stdout\n"
	"  -v, --verbose            the places searched under each missing library\n"
	"      --library-path DIRS  also search these directories first (like LD_LIBRARY_PATH)\n"
	"      --root DIR           judge the host tree at DIR instead of /\n"
	"      --host ADDR          ask the compat server at ADDR (host[:port], port 50051 by\n"
	"                           default); repeat it to ask several servers at once\n"
	"      --hosts FILE         ask every server listed in FILE (one per line, # comments)\n"
	"      --timeout MS         give each server this long to answer (default 10000)\n"
	"      --tls-ca FILE        talk TLS to the server, trusting this CA\n"
	"      --tls-name NAME      name to check in the server's certificate (default: the host;\n"
	"                           mbedtls 2.28 checks DNS names only, so use it for IP addresses)\n"
	"      --plain-http         registry references over plain HTTP\n"
	"      --ca-file FILE       trust this CA for the registry's TLS certificate\n"
	"      --exec               then run CMD if compatible (without ARTIFACT,\n"
	"                           describe CMD on the spot); else explain and exit 1\n"
	"      --cache DIR          with --exec: run CMD with the library cache DIR made by\n"
	"                           compat trace --cache (LD_AUDIT: no library search)\n"
	"  -h, --help               this text\n"
	"      --version            print the version\n";

enum { OPT_JSON = 256, OPT_LIBPATH, OPT_ROOT, OPT_HOST, OPT_HOSTS, OPT_TIMEOUT, OPT_TLSCA, OPT_TLSNAME, OPT_PLAIN,
       OPT_CAFILE, OPT_EXEC, OPT_CACHE, OPT_VERSION };

static const struct option options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "library-path", required_argument, NULL, OPT_LIBPATH },
	{ "root", required_argument, NULL, OPT_ROOT },
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
	const char *libpath, *root, *tls_ca, *tls_name, *ca_file;
	const char *cache;	/* --exec --cache DIR */
	const char **hosts;	/* --host and --hosts, in order */
	size_t nhosts;
	char *hosts_text;	/* --hosts FILE's contents, which hosts point into */
};

static void add_host(struct check_args *ca, const char *h)
{
	if (ca->nhosts >= RPC_MAX_HOSTS)
		cli_die("check", "more than %d servers", RPC_MAX_HOSTS);
	const char **v = realloc(ca->hosts, (ca->nhosts + 1) * sizeof *v);
	if (!v)
		cli_die("check", "out of memory");
	ca->hosts = v;
	ca->hosts[ca->nhosts++] = h;
}

/* --hosts FILE: one address per line; blank lines and # comments ignored. */
static void add_hosts_file(struct check_args *ca, const char *path)
{
	size_t len;
	struct cerr err;
	if (ca->hosts_text)
		cli_die("check", "--hosts given twice");
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

static int report(const struct check_args *ca, const struct verdict *v, const char *name)
{
	if (ca->json) {
		size_t len;
		char *j = verdict_to_json(v, &len);
		if (!j)
			cli_die("check", "out of memory");
		printf("%s\n", j);
		free(j);
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

/* One line of check --json ARTIFACT ARTIFACT...: {"artifact": src,
 * "report": {...}} or {"artifact": src, "error": message}. */
static void json_line(const char *src, const struct verdict *v, const struct cerr *err)
{
	json_t *row = json_pack("{s:s}", "artifact", src);
	if (!row)
		cli_die("check", "out of memory");
	if (v) {
		size_t len;
		char *j = verdict_to_json(v, &len);
		json_object_set_new(row, "report", j ? json_loads(j, 0, NULL) : NULL);
		free(j);
	} else {
		json_object_set_new(row, "error", json_string(err->msg));
	}
	char *s = json_dumps(row, JSON_COMPACT);
	if (!s)
		cli_die("check", "out of memory");
	printf("%s\n", s);
	free(s);
	json_decref(row);
}

/* Judge one artifact here. Returns the exit status for it; a report goes
 * to stdout, an error to stderr (and, with several artifacts and --json,
 * to stdout as a JSON line too). */
static int check_one(const struct check_args *ca, const struct host_index *idx, const char *src, int several)
{
	struct artifact a;
	struct verdict v;
	struct cerr err;
	char *data;
	size_t len;
	int rc = read_source(ca, src, &data, &len, &err);
	if (rc == 0) {
		rc = artifact_parse(data, len, strcmp(src, "-") == 0 ? "<stdin>" : src, &a, &err);
		free(data);
	}
	if (rc == 0 && (rc = verdict_check(idx, &a, NULL, &v, &err)) < 0)
		artifact_free(&a);
	if (rc < 0) {
		if (several && ca->json)
			json_line(src, NULL, &err);
		return cli_error("check", &err);
	}
	const char *name = artifact_get(&a, ARTIFACT_NS "executable-name");
	if (several && ca->json) {
		json_line(src, &v, NULL);
		rc = v.compatible ? 0 : 1;
	} else {
		rc = report(ca, &v, name ? name : src);
	}
	verdict_free(&v);
	artifact_free(&a);
	return rc;
}

/* ARTIFACT...: each judged against one lazy index of this host, its report
 * printed in the order given. Exit status: the worst of them (3 a registry
 * could not be reached > 2 bad input > 1 not compatible). */
static int check_local(const struct check_args *ca, char *const *srcs, int n)
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

/* Several servers: a table (or a JSON list), one row per server, in the
 * order given. Exit 0 only when every one is compatible; 3 when any gave
 * no answer, else 2 when any refused the artifact, else 1. */
static int fleet_report(const struct check_args *ca, const struct rpc_result *res)
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
		if (res[i].rc < 0) {
			json_object_set_new(row, "error", json_string(res[i].err.msg));
		} else {
			size_t len;
			char *j = verdict_to_json(&res[i].v, &len);
			json_object_set_new(row, "report", j ? json_loads(j, 0, NULL) : json_null());
			free(j);
		}
		json_array_append_new(list, row);
	}
	if (ca->json) {
		char *s = json_dumps(list, JSON_INDENT(2));
		if (!s)
			cli_die("check", "out of memory");
		printf("%s\n", s);
		free(s);
		json_decref(list);
	}
	fflush(stdout);
	return worst;
}

/* --host: the servers judge; with one, the same report and exit codes as here. */
static int judge_remote(const struct check_args *ca, const char *src)
{
	char *data = NULL;
	size_t len;
	struct cerr err;
	if (read_source(ca, src, &data, &len, &err) < 0)
		return cli_error("check", &err);
	struct pathlist extra;
	split_dirs(ca->libpath, &extra);
	struct rpc_opts o = { .library_path = (const char *const *)extra.v, .nlibrary_path = extra.n,
			      .tls_ca = ca->tls_ca, .tls_name = ca->tls_name, .timeout_ms = ca->timeout_ms };
	struct rpc_result *res = calloc(ca->nhosts, sizeof *res);
	if (!res)
		cli_die("check", "out of memory");
	int rc = rpc_check_many(ca->hosts, ca->nhosts, &o, data, len, res, &err);
	free(data);
	pathlist_free(&extra);
	if (rc < 0) {
		free(res);
		return cli_error("check", &err);
	}
	if (ca->nhosts == 1) {
		if (res[0].rc < 0)
			rc = cli_error("check", &res[0].err);
		else
			rc = report(ca, &res[0].v, src);
	} else {
		rc = fleet_report(ca, res);
	}
	for (size_t i = 0; i < ca->nhosts; i++)
		verdict_free(&res[i].v);
	free(res);
	return rc;
}

/* --exec --cache DIR: LD_AUDIT for cmd, after the checks of a cache that
 * others could have changed. 0, or the exit status of the error. */
static int cache_setenv(const char *dir, const char *cmd)
{
	struct libcache_audit a;
	struct cerr err;
	int rc = libcache_audit_prepare(dir, cmd, &a, &err);
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
	return 0;
}

static int run_exec(const struct check_args *ca, const char *artifact_path, char **cmd)
{
	struct artifact a;
	struct cerr err;
	struct verdict v;
	int rc;

	if (artifact_path) {
		rc = artifact_load(artifact_path, &a, &err);
	} else {
		/* Describe the command as execvp would find it. */
		char *found = NULL;
		if (strchr(cmd[0], '/')) {
			found = strdup(cmd[0]);
		} else {
			const char *path = getenv("PATH");
			struct pathlist pl;
			/* as execvp: an empty entry is the current directory */
			if (pathlist_split(path ? path : "/usr/local/bin:/usr/bin:/bin", ":", PATHLIST_KEEP_EMPTY, &pl) < 0)
				cli_die("check", "out of memory");
			for (size_t i = 0; i < pl.n && !found; i++) {
				char *p;
				if (asprintf(&p, "%s/%s", *pl.v[i] ? pl.v[i] : ".", cmd[0]) < 0)
					break;
				if (access(p, X_OK) == 0)
					found = p;
				else
					free(p);
			}
			pathlist_free(&pl);
		}
		if (!found) {
			cli_warn("check", "%s: command not found", cmd[0]);
			return 127;
		}
		const char *paths[] = { found };
		const char *lp = getenv("LD_LIBRARY_PATH");
		struct describe_opts o = { .library_path = lp && *lp ? lp : NULL };
		artifact_init(&a);
		rc = describe_paths(paths, 1, &o, NULL, NULL, &a, &err);
		free(found);
	}
	if (rc < 0) {
		artifact_free(&a);
		return cli_error("check", &err);
	}
	rc = judge_local(ca, &a, &v, &err);
	artifact_free(&a);
	if (rc < 0)
		return cli_error("check", &err);
	if (!v.compatible) {
		report(ca, &v, cmd[0]);
		verdict_free(&v);
		return 1;
	}
	verdict_free(&v);
	if (ca->cache && (rc = cache_setenv(ca->cache, cmd[0])) != 0)
		return rc;
	execvp(cmd[0], cmd);
	cli_warn("check", "%s: %s", cmd[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

int check_main(int argc, char **argv)
{
	struct check_args ca = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "+hv", options, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: ca.json = 1; break;
		case 'v': ca.verbose = 1; break;
		case OPT_LIBPATH: ca.libpath = optarg; break;
		case OPT_ROOT: ca.root = optarg; break;
		case OPT_HOST: add_host(&ca, optarg); break;
		case OPT_HOSTS: add_hosts_file(&ca, optarg); break;
		case OPT_TIMEOUT: {
			char *end;
			long ms = strtol(optarg, &end, 10);
			if (*end || ms <= 0 || ms > 3600000)
				cli_die("check", "--timeout: expected milliseconds (1 to 3600000), got '%s'", optarg);
			ca.timeout_ms = (int)ms;
			break;
		}
		case OPT_TLSCA: ca.tls_ca = optarg; break;
		case OPT_TLSNAME: ca.tls_name = optarg; break;
		case OPT_CAFILE: ca.ca_file = optarg; break;
		case OPT_PLAIN: ca.plain_http = 1; break;
		case OPT_EXEC: ca.exec = 1; break;
		case OPT_CACHE: ca.cache = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("check");
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (ca.cache && !ca.exec)
		cli_die("check", "--cache goes with --exec");
	if (ca.exec) {
		/* [ARTIFACT] -- CMD...: getopt stops at "--" and skips it. */
		const char *artifact = NULL;
		int dashdash = optind > 0 && strcmp(argv[optind - 1], "--") == 0;
		if (!dashdash && optind < argc && strcmp(argv[optind], "--") != 0)
			artifact = argv[optind++];
		if (optind < argc && strcmp(argv[optind], "--") == 0)
			optind++;
		if (optind >= argc)
			cli_die("check", "--exec needs a command after --");
		return run_exec(&ca, artifact, argv + optind);
	}
	if (optind >= argc || (optind + 1 != argc && ca.nhosts)) {
		fputs(usage_text, stderr);
		free(ca.hosts);
		free(ca.hosts_text);
		return 2;
	}
	const char *src = argv[optind];
	if (ca.nhosts) {
		int rc = judge_remote(&ca, src);
		free(ca.hosts);
		free(ca.hosts_text);
		return rc;
	}
	return check_local(&ca, argv + optind, argc - optind);
}
