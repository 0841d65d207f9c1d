/* compat check: can this node run the artifact, and if not, why. Also the
 * container entrypoint (--exec): check, then execve the command. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/describe.h"
#include "core/fsutil.h"
#include "core/hostindex.h"
#include "core/oci.h"
#include "core/pathlist.h"
#include "core/rpcclient.h"
#include "core/verdict.h"

static const char usage_text[] =
	"usage: compat check [--json] [-v] [--library-path DIRS] [--root DIR] ARTIFACT|REF|-\n"
	"       compat check --host ADDR [--tls-ca FILE [--tls-name NAME]] [--json] ARTIFACT|-\n"
	"       compat check --exec [ARTIFACT] -- CMD [ARGS...]\n"
	"\n"
	"Judge an artifact (from compat gen) against this host's libraries, or ask\n"
	"a compat server. Every finding is reported: wrong-arch, missing-interpreter,\n"
	"missing-soname, missing-version, isa-level, undefined-symbol; root causes\n"
	"first, and a last line with the minimum library versions the program needs.\n"
	"Exit: 0 compatible, 1 not compatible, 2 bad input, 3 server unreachable.\n"
	"\n"
	"      --json               machine-readable report on stdout\n"
	"  -v, --verbose            the places searched under each missing library\n"
	"      --library-path DIRS  also search these directories first (like LD_LIBRARY_PATH)\n"
	"      --root DIR           judge the host tree at DIR instead of /\n"
	"      --host ADDR          ask the compat server at ADDR (host:port)\n"
	"      --tls-ca FILE        talk TLS to the server, trusting this CA\n"
	"      --tls-name NAME      name to check in the server's certificate (default: the host;\n"
	"                           mbedtls 2.28 checks DNS names only, so use it for IP addresses)\n"
	"      --plain-http         registry references over plain HTTP\n"
	"      --ca-file FILE       trust this CA for the registry's TLS certificate\n"
	"      --exec               then run CMD if compatible (without ARTIFACT,\n"
	"                           describe CMD on the spot); else explain and exit 1\n"
	"  -h, --help               this text\n"
	"      --version            print the version\n";

enum { OPT_JSON = 256, OPT_LIBPATH, OPT_ROOT, OPT_HOST, OPT_TLSCA, OPT_TLSNAME, OPT_PLAIN, OPT_CAFILE,
       OPT_EXEC, OPT_VERSION };

static const struct option options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "library-path", required_argument, NULL, OPT_LIBPATH },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "tls-ca", required_argument, NULL, OPT_TLSCA },
	{ "tls-name", required_argument, NULL, OPT_TLSNAME },
	{ "plain-http", no_argument, NULL, OPT_PLAIN },
	{ "ca-file", required_argument, NULL, OPT_CAFILE },
	{ "exec", no_argument, NULL, OPT_EXEC },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct check_args {
	int json, exec, plain_http, verbose;
	const char *libpath, *root, *host, *tls_ca, *tls_name, *ca_file;
};

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

static int judge_local(const struct check_args *ca, const struct artifact *a, struct verdict *v,
		       struct cerr *err)
{
	struct pathlist extra;
	split_dirs(ca->libpath, &extra);
	struct index_opts io = { .root = ca->root, .extra_dirs = (const char *const *)extra.v, .nextra = extra.n };
	struct host_index *idx = NULL;
	int rc = index_build(&io, &idx, err);
	if (rc == 0)
		rc = verdict_check(idx, a, NULL, v, err);
	index_free(idx);
	pathlist_free(&extra);
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

/* --host: the server judges; the same report and exit codes as here. */
static int judge_remote(const struct check_args *ca, const char *src)
{
	char *data = NULL;
	size_t len;
	struct cerr err;
	struct verdict v;
	struct pathlist extra;
	if (read_source(ca, src, &data, &len, &err) < 0)
		return cli_error("check", &err);
	split_dirs(ca->libpath, &extra);
	struct rpc_opts o = { .library_path = (const char *const *)extra.v, .nlibrary_path = extra.n,
			      .tls_ca = ca->tls_ca, .tls_name = ca->tls_name };
	int rc = rpc_check_remote(ca->host, &o, data, len, &v, &err);
	free(data);
	pathlist_free(&extra);
	if (rc < 0)
		return cli_error("check", &err);
	rc = report(ca, &v, src);
	verdict_free(&v);
	return rc;
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
		case OPT_HOST: ca.host = optarg; break;
		case OPT_TLSCA: ca.tls_ca = optarg; break;
		case OPT_TLSNAME: ca.tls_name = optarg; break;
		case OPT_CAFILE: ca.ca_file = optarg; break;
		case OPT_PLAIN: ca.plain_http = 1; break;
		case OPT_EXEC: ca.exec = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("check");
		default: fputs(usage_text, stderr); return 2;
		}
	}
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
	if (optind + 1 != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	const char *src = argv[optind];
	struct artifact a;
	struct cerr err;
	struct verdict v;
	if (ca.host)
		return judge_remote(&ca, src);
	char *data;
	size_t len;
	if (read_source(&ca, src, &data, &len, &err) < 0)
		return cli_error("check", &err);
	int prc = artifact_parse(data, len, strcmp(src, "-") == 0 ? "<stdin>" : src, &a, &err);
	free(data);
	if (prc < 0)
		return cli_error("check", &err);
	const char *name = artifact_get(&a, ARTIFACT_NS "executable-name");
	int rc = judge_local(&ca, &a, &v, &err);
	if (rc < 0) {
		artifact_free(&a);
		return cli_error("check", &err);
	}
	rc = report(&ca, &v, name ? name : src);
	verdict_free(&v);
	artifact_free(&a);
	return rc;
}
