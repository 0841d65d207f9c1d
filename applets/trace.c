/* compat trace: run a program under the tracer and record the lookups that
 * decide which libraries it loads (DESIGN §7). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/describe.h"
#include "core/fsutil.h"
#include "core/libcache.h"
#include "core/ptrace.h"
#include "core/tracefmt.h"

static const char usage_text[] =
	"usage: compat trace [-o FILE] [--format text|jsonl|perfetto] [--loader-only]\n"
	"                    [--artifact FILE] [--cache DIR [--copy]] -- CMD [ARGS...]\n"
	"       compat trace --from-cache DIR [-o FILE] [--format F] -- CMD [ARGS...]\n"
	"\n"
	"Run CMD under ptrace, recording its opens, execs and stat/access lookups\n"
	"(a seccomp filter stops it for those only), in every process and thread.\n"
	"CMD keeps stdin, stdout and stderr; compat exits with CMD's status\n"
	"(128 + N when it was killed by signal N).\n"
	"\n"
	"  -o, --output FILE     write the trace to FILE (default: stderr; - for stdout)\n"
	"  -f, --format F        text (\"<unix-ns> Open|Lookup <path>\"), jsonl, or\n"
	"                        perfetto (Chrome trace JSON for ui.perfetto.dev)\n"
	"      --loader-only     record only the dynamic loader's lookups (ld.so at start\n"
	"                        and dlopen); the program's own opens run untraced\n"
	"      --artifact FILE   write an artifact of the libraries CMD loaded (dlopen\n"
	"                        included), merged with what compat gen says of it\n"
	"      --cache DIR       make DIR a cache of the loaded libraries (symlinks)\n"
	"      --copy            with --cache: copies instead of symlinks\n"
	"      --from-cache DIR  run CMD with the cache's LD_AUDIT object, which hands\n"
	"                        ld.so each recorded library without a search (DT_RPATH\n"
	"                        too), and report the library opens and the time to\n"
	"                        reach CMD's entry point against the --cache run (stderr)\n"
	"  -h, --help            this text\n"
	"      --version         print the version\n";

enum { OPT_LOADER_ONLY = 255, OPT_ARTIFACT = 256, OPT_CACHE, OPT_COPY, OPT_FROM_CACHE, OPT_VERSION };

static const struct option options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, 'f' },
	{ "artifact", required_argument, NULL, OPT_ARTIFACT },
	{ "loader-only", no_argument, NULL, OPT_LOADER_ONLY },
	{ "cache", required_argument, NULL, OPT_CACHE },
	{ "copy", no_argument, NULL, OPT_COPY },
	{ "from-cache", required_argument, NULL, OPT_FROM_CACHE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct trace_ctx {
	struct tracefmt fmt;
	int fmt_on;
	struct libcache_seen seen;
};

static int on_event(void *p, const struct ptrace_event *ev)
{
	struct trace_ctx *c = p;
	int rc = libcache_note(&c->seen, ev);
	if (rc == 0 && c->fmt_on)
		rc = tracefmt_event(&c->fmt, ev);
	return rc == COMPAT_EIO ? 0 : rc;	/* a full disk must not kill the program */
}

/* The environment with LD_AUDIT set to value (malloc'd array; only the
 * new entry is malloc'd too: *owned). */
static char **env_with_audit(const char *value, char **owned)
{
	extern char **environ;
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof *env);
	char *v = NULL;
	if (!env || asprintf(&v, "LD_AUDIT=%s", value) < 0) {
		free(env);
		return NULL;
	}
	size_t k = 0;
	env[k++] = v;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_AUDIT=", 9) != 0)
			env[k++] = environ[i];
	*owned = v;
	return env;
}

/* "12.3 ms" */
static const char *fmt_ms(uint64_t ns, char *buf, size_t len)
{
	snprintf(buf, len, "%.*f ms", ns < 10000000ull ? 2 : 1, (double)ns / 1e6);
	return buf;
}

/* The start time of a run: to the entry point, or to the exit when the
 * program never got there. */
static void print_start(const char *prefix, uint64_t entry_ns, uint64_t exit_ns)
{
	char a[32];
	if (entry_ns)
		fprintf(stderr, "%sentry point reached after %s", prefix, fmt_ms(entry_ns, a, sizeof a));
	else if (exit_ns)
		fprintf(stderr, "%sexited after %s without reaching its entry point", prefix,
			fmt_ms(exit_ns, a, sizeof a));
	else
		fprintf(stderr, "%snot measured", prefix);
}

/* The artifact of what the program loaded: what compat gen says of the
 * program and of the files it opened by path (its own: their needs are
 * host needs, they are not), then every loaded library by soname. */
static int write_artifact(const char *path, struct trace_ctx *c, const struct libcache_lib *libs,
			  size_t nlibs, struct cerr *err)
{
	struct artifact a;
	const char *lp = getenv("LD_LIBRARY_PATH");
	const char **paths = calloc(nlibs + 1, sizeof *paths);
	unsigned char *own = calloc(nlibs ? nlibs : 1, 1);
	int rc = 0;
	artifact_init(&a);
	if (!paths || !own) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	/* The program: the final image of the first process (wrappers exec
	 * the real program), else the first exec that is an ELF file. */
	for (size_t i = 0; i <= c->seen.nexecs && c->seen.main_exec; i++) {
		const char *prog = i ? c->seen.execs[i - 1] : c->seen.main_exec;
		struct describe_opts o = { .library_path = lp && *lp ? lp : NULL };
		struct cerr e1;
		size_t np = 0;
		memset(own, 0, nlibs);
		paths[np++] = prog;
		if (libcache_mark_own(prog, o.library_path, libs, nlibs, own, &e1) == 0)
			for (size_t k = 0; k < nlibs; k++)
				if (own[k])
					paths[np++] = libs[k].path;
		if (describe_paths(paths, np, &o, NULL, NULL, &a, &e1) == 0)
			break;
		memset(own, 0, nlibs);
		if (i == c->seen.nexecs)
			cli_warn("trace", "%s (the artifact has the traced libraries only)", e1.msg);
		artifact_free(&a);
		artifact_init(&a);
	}
	if (!artifact_get(&a, ARTIFACT_NS "executable-name") && c->seen.main_exec) {
		const char *b = strrchr(c->seen.main_exec, '/');
		if (artifact_set(&a, ARTIFACT_NS "executable-name", b ? b + 1 : c->seen.main_exec) < 0) {
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((rc = libcache_merge_artifact(&a, libs, nlibs, own)) < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	size_t len;
	char *json = artifact_to_json(&a, &len);
	if (!json) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	rc = cli_write_file(path, json, len, err);
	free(json);
out:
	free(paths);
	free(own);
	artifact_free(&a);
	return rc;
}

/* Where the trace goes: stderr by default (none with --from-cache),
 * stdout for "-", a device or FIFO directly, a regular file atomically once
 * the program has finished (into memory until then). */
struct output {
	const char *path;
	FILE *f;
	char *mem;
	size_t memlen;
	int in_memory;
};

static void output_open(struct output *o, const char *path)
{
	o->path = path;
	if (!path) {
		o->f = stderr;
	} else if (!strcmp(path, "-")) {
		o->f = stdout;
	} else {
		struct stat st;
		if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
			if (!(o->f = fopen(path, "w")))
				cli_die("trace", "%s: %m", path);
			return;
		}
		/* Fail now, not after the program has run. */
		char *d = strdup(path), *slash = d ? strrchr(d, '/') : NULL;
		const char *dir = !slash ? "." : slash == d ? "/" : (*slash = 0, d);
		int writable = d && access(dir, W_OK) == 0;
		free(d);
		if (!writable)
			cli_die("trace", "%s: cannot write there: %m", path);
		if (!(o->f = open_memstream(&o->mem, &o->memlen)))
			cli_die("trace", "out of memory");
		o->in_memory = 1;
	}
}

/* Close the stream; write a regular file now (unless discard: nothing is
 * written when the program could not be run). Returns an exit status. */
static int output_close(struct output *o, int discard)
{
	struct cerr err;
	int status = 0;
	if (o->f && o->f != stdout && o->f != stderr)
		fclose(o->f);
	o->f = NULL;
	if (o->in_memory && !discard && fs_write_atomic(o->path, o->mem, o->memlen, &err) < 0)
		status = cli_error("trace", &err);
	o->in_memory = 0;
	free(o->mem);
	o->mem = NULL;
	return status;
}

/* --from-cache DIR: LD_AUDIT in the program's environment (*env, freed by
 * the caller with *env_owned), and the figures of the recorded run. */
static void from_cache_prepare(const char *dir, const char *cmd, char ***env, char **env_owned,
			       struct libcache_stats *before, int *have_before)
{
	struct libcache_audit aud;
	struct cerr err;
	int rc = libcache_audit_prepare(dir, cmd, &aud, &err);
	if (rc == COMPAT_ENOTFOUND)
		cli_warn("trace", "%s: running without the cache", err.msg);
	else if (rc < 0)
		exit(cli_error("trace", &err));
	else if (!(*env = env_with_audit(aud.ld_audit, env_owned)))
		cli_die("trace", "out of memory");
	if (rc == 0 && aud.setid)
		cli_warn("trace", "%s is set-user-ID or set-group-ID: traced, it runs without those "
			 "privileges and uses the cache, but run normally ld.so ignores LD_AUDIT "
			 "for it (secure mode) and the cache does not apply", cmd);
	*have_before = libcache_stats_read(dir, before, &err) == 0;
	if (!*have_before)
		cli_warn("trace", "%s (no figures to compare with)", err.msg);
}

/* --from-cache: the library opens and start time, against the recorded run. */
static void from_cache_report(const struct trace_ctx *ctx, const struct ptrace_result *res,
			      const struct libcache_stats *before, int have_before)
{
	if (have_before)
		fprintf(stderr, "compat trace: library opens: %lu ok, %lu failed (was %lu failed)\n",
			ctx->seen.stats.lib_ok, ctx->seen.stats.lib_failed, before->lib_failed);
	else
		fprintf(stderr, "compat trace: library opens: %lu ok, %lu failed\n", ctx->seen.stats.lib_ok,
			ctx->seen.stats.lib_failed);
	print_start("compat trace: start: ", res->entry_ns, res->exit_ns);
	if (have_before && (before->entry_ns || before->exit_ns)) {
		print_start(" (was: ", before->entry_ns, before->exit_ns);
		fputs(")", stderr);
	}
	fputs("\n", stderr);
}

/* --artifact and --cache, from what the run loaded. Returns an exit status. */
static int write_results(struct trace_ctx *ctx, const struct ptrace_result *res, const char *artifact,
			 const char *cache, int copy)
{
	struct libcache_lib *libs = NULL;
	size_t nlibs = 0;
	struct cerr err;
	int status = 0;
	if (libcache_loaded(&ctx->seen, &libs, &nlibs, &err) < 0)
		return cli_error("trace", &err);
	if (artifact && write_artifact(artifact, ctx, libs, nlibs, &err) < 0)
		status = cli_error("trace", &err);
	ctx->seen.stats.entry_ns = res->entry_ns;
	ctx->seen.stats.exit_ns = res->exit_ns;
	if (cache && libcache_write(cache, libs, nlibs, copy, &ctx->seen.stats, &err) < 0)
		status = status ? status : cli_error("trace", &err);
	libcache_libs_free(libs, nlibs);
	return status;
}

int trace_main(int argc, char **argv)
{
	const char *out = NULL, *artifact = NULL, *cache = NULL, *from_cache = NULL;
	enum tracefmt_kind kind = TRACEFMT_TEXT;
	int copy = 0, loader_only = 0, c, status = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:o:f:h", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'f':
			if (tracefmt_parse_kind(optarg, &kind) < 0)
				cli_usage_die("trace", "unknown format '%s' (text, jsonl or perfetto)", optarg);
			break;
		case OPT_ARTIFACT: artifact = optarg; break;
		case OPT_CACHE: cache = optarg; break;
		case OPT_COPY: copy = 1; break;
		case OPT_LOADER_ONLY: loader_only = 1; break;
		case OPT_FROM_CACHE: from_cache = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("trace");
		default: return cli_bad_option("trace", argc, argv, options, c);
		}
	}
	if (optind >= argc)
		cli_usage_die("trace", "missing command (compat trace [OPTION]... -- CMD [ARGS...])");
	if (copy && !cache)
		cli_usage_die("trace", "--copy goes with --cache DIR");
	if (cache && from_cache)
		cli_usage_die("trace", "--cache and --from-cache do not go together");

	struct trace_ctx ctx;
	struct libcache_stats before = { 0, 0, 0, 0 };
	struct output o = { 0 };
	struct ptrace_result res;
	struct cerr err;
	char **env = NULL, *env_owned = NULL;
	int have_before = 0;

	libcache_seen_init(&ctx.seen, artifact || cache);
	if (from_cache)
		from_cache_prepare(from_cache, argv[optind], &env, &env_owned, &before, &have_before);
	ctx.fmt_on = !(from_cache && !out);
	output_open(&o, out);
	tracefmt_init(&ctx.fmt, kind, o.f);

	struct ptrace_opts po = { .argv = argv + optind, .envp = env, .on_event = on_event,
				  .ctx = &ctx, .loader_only = loader_only, .ignore_interrupts = 1 };
	int rc = ptrace_run(&po, &res, &err);
	if (rc < 0) {
		/* not found: 127, as a shell says; the message either way */
		status = cli_error("trace", &err);
		if (rc == COMPAT_ENOTFOUND)
			status = 127;
		tracefmt_finish(&ctx.fmt);
		output_close(&o, 1);
		goto out;
	}
	status = ptrace_exit_code(res.status);
	if (tracefmt_finish(&ctx.fmt) < 0)
		cli_warn("trace", "%s: write failed", out ? out : "stderr");
	if ((rc = output_close(&o, 0)) && !status)
		status = rc;
	if (artifact || cache) {
		if ((rc = write_results(&ctx, &res, artifact, cache, copy)) && !status)
			status = rc;
	}
	if (from_cache)
		from_cache_report(&ctx, &res, &before, have_before);
out:
	free(env);
	free(env_owned);
	libcache_seen_free(&ctx.seen);
	return status;
}
