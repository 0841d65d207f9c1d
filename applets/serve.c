/* compat serve (compat-server): the gRPC daemon of DESIGN §5. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/hostindex.h"
#include "core/pathlist.h"
#include "core/server.h"
#include "core/service.h"
#include "core/tls.h"

static const char usage_text[] =
	"usage: compat serve [--listen ADDR] [--library-path DIRS] [--allow-registry HOST]...\n"
	"                    [--allow-path PREFIX]... [--log] [--quiet] [LIMITS]\n"
	"                    [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
	"\n"
	"Index this host's libraries once, then answer gRPC CheckCompatibility,\n"
	"LocateLibraries and grpc.health.v1.Health/Check over HTTP/2 (h2c), with\n"
	"server reflection (grpc.reflection.v1 and v1alpha) for grpcurl and the like.\n"
	"SIGTERM/SIGINT: stop accepting, GOAWAY, finish in-flight requests within\n"
	"--drain-timeout, exit 0. SIGHUP (or a new /etc/ld.so.cache): rebuild the index.\n"
	"\n"
	"      --listen ADDR          HOST:PORT to listen on (default [::]:50051; port 0: any)\n"
	"      --threads N            event loops, each on its own thread and listening socket\n"
	"                             (SO_REUSEPORT), sharing one index (default: the online CPUs)\n"
	"      --library-path DIRS    also index these directories, searched first\n"
	"      --allow-registry HOST  registry hosts a request's uri may name, and the only\n"
	"                             hosts its redirects and token realms may lead to (repeatable)\n"
	"      --allow-path PREFIX    directories a request names (library_path, an artifact's\n"
	"                             search-path) must be under one of these (repeatable;\n"
	"                             default: any absolute path)\n"
	"      --tls-cert FILE        serve TLS (ALPN h2) with this PEM certificate chain\n"
	"      --tls-key FILE         ... and this PEM private key\n"
	"      --tls-client-ca FILE   require client certificates signed by this CA\n"
	"      --log                  one line per request on stderr: client address, method,\n"
	"                             gRPC status, verdict (or -), microseconds\n"
	"  -q, --quiet                nothing on stderr but errors (the 'server listening:'\n"
	"                             line still goes to stdout)\n"
	"  -h, --help                 this text\n"
	"      --version              print the version\n"
	"\n"
	"Limits (defaults in brackets; see docs/serve.md):\n"
	"      --max-connections N    connections at once, lowered to fit the descriptor limit;\n"
	"                             when full, the oldest with no request in progress is closed [1024]\n"
	"      --max-streams N        concurrent streams per connection [100]\n"
	"      --max-message BYTES    largest request message (RESOURCE_EXHAUSTED beyond) [4194304]\n"
	"      --max-header-list B    request header bytes [8192]\n"
	"      --max-conn-buffer B    request and reply bytes buffered per connection [8388608]\n"
	"      --max-buffer BYTES     the same for all connections, beyond 64 KiB each [67108864]\n"
	"      --max-reply BYTES      largest reply message [4194304]\n"
	"      --max-needs N          host needs judged per artifact [1024]\n"
	"      --max-symbols N        symbols checked per artifact [65536]\n"
	"      --max-stream-messages N  request messages on one streaming call (reflection) [1024]\n"
	"      --max-dir-entries N    entries read per request-named directory [10000]\n"
	"      --memo-entries N       answers kept per loop, by request (0: none) [512]\n"
	"      --memo-bytes BYTES     bytes of requests and answers kept per loop [1048576]\n"
	"      --fetch-workers N      threads fetching from registries [4]\n"
	"      --scan-workers N       threads reading request-named directories [2]\n"
	"      --max-queue N          requests waiting for each kind of worker [64]\n"
	"      --max-jobs-per-conn N  such requests in progress per connection [4]\n"
	"      --idle-timeout MS      close connections with no stream open this long [300000]\n"
	"      --handshake-timeout MS close connections silent (or in TLS handshake) this long [10000]\n"
	"      --request-timeout MS   a request must be sent completely within this [30000]\n"
	"      --job-timeout MS       a registry fetch or directory read may take this long [60000]\n"
	"      --drain-timeout MS     SIGTERM: in-flight requests may take this long [10000]\n";

enum { OPT_LISTEN = 256, OPT_LIBPATH, OPT_ALLOW, OPT_ALLOWPATH, OPT_MAXMSG, OPT_MAXSTREAMS, OPT_MAXCONN,
       OPT_MAXHDR, OPT_CONNBUF, OPT_MAXBUF, OPT_MAXREPLY, OPT_MAXNEEDS, OPT_MAXSYMS, OPT_DIRENTRIES,
       OPT_FETCHW, OPT_SCANW, OPT_QUEUE, OPT_JOBS, OPT_IDLE, OPT_HANDSHAKE, OPT_REQUEST, OPT_JOB, OPT_DRAIN,
       OPT_TLSCERT, OPT_TLSKEY, OPT_TLSCA, OPT_VERSION, OPT_LOG, OPT_STREAMMSGS, OPT_THREADS, OPT_MEMO, OPT_MEMOBYTES };

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "library-path", required_argument, NULL, OPT_LIBPATH },
	{ "allow-registry", required_argument, NULL, OPT_ALLOW },
	{ "allow-path", required_argument, NULL, OPT_ALLOWPATH },
	{ "max-message", required_argument, NULL, OPT_MAXMSG },
	{ "max-streams", required_argument, NULL, OPT_MAXSTREAMS },
	{ "max-connections", required_argument, NULL, OPT_MAXCONN },
	{ "max-header-list", required_argument, NULL, OPT_MAXHDR },
	{ "max-conn-buffer", required_argument, NULL, OPT_CONNBUF },
	{ "max-buffer", required_argument, NULL, OPT_MAXBUF },
	{ "max-reply", required_argument, NULL, OPT_MAXREPLY },
	{ "max-needs", required_argument, NULL, OPT_MAXNEEDS },
	{ "max-symbols", required_argument, NULL, OPT_MAXSYMS },
	{ "max-stream-messages", required_argument, NULL, OPT_STREAMMSGS },
	{ "max-dir-entries", required_argument, NULL, OPT_DIRENTRIES },
	{ "memo-entries", required_argument, NULL, OPT_MEMO },
	{ "memo-bytes", required_argument, NULL, OPT_MEMOBYTES },
	{ "fetch-workers", required_argument, NULL, OPT_FETCHW },
	{ "scan-workers", required_argument, NULL, OPT_SCANW },
	{ "max-queue", required_argument, NULL, OPT_QUEUE },
	{ "max-jobs-per-conn", required_argument, NULL, OPT_JOBS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE },
	{ "request-timeout", required_argument, NULL, OPT_REQUEST },
	{ "job-timeout", required_argument, NULL, OPT_JOB },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
	{ "tls-cert", required_argument, NULL, OPT_TLSCERT },
	{ "tls-key", required_argument, NULL, OPT_TLSKEY },
	{ "tls-client-ca", required_argument, NULL, OPT_TLSCA },
	{ "log", no_argument, NULL, OPT_LOG },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct daemon {
	struct service svc;		/* the loops' template: svc.slot holds the index */
	struct host_index *current;	/* the slot's index (for stale(); control thread) */
	struct index_opts io;
	int quiet;
};

static long number(const char *opt, const char *v, long min, long max)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end || n < min || n > max)
		cli_usage_die("serve", "--%s: expected a number from %ld to %ld, got '%s'", opt, min, max, v);
	return n;
}

static int reload(void *ctx)
{
	struct daemon *d = ctx;
	struct host_index *idx;
	struct cerr err;
	if (index_build(&d->io, &idx, &err) < 0) {
		cli_warn("serve", "index rebuild failed, keeping the old one: %s", err.msg);
		return err.code;
	}
	d->current = idx;
	index_slot_publish(d->svc.slot, idx);	/* the old one goes with its last reader */
	if (!d->quiet)
		fprintf(stderr, "compat serve: index rebuilt: %zu libraries\n", index_count(idx));
	return 0;
}

static const char *const status_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
};

static const char *const verdict_names[] = {
	[SERVICE_VERDICT_NONE] = "-", [SERVICE_COMPATIBLE] = "compatible", [SERVICE_INCOMPATIBLE] = "incompatible",
	[SERVICE_ERROR] = "error", [SERVICE_DENIED] = "denied",
};

/* --log: "PEER METHOD STATUS VERDICT TIMEus" (docs/serve.md), one write.
 * The status is the gRPC code's name; HTTP_N when the request was refused
 * before gRPC (405, 415); CANCELLED when it was reset before any answer. */
static void log_request(void *ctx, const char *peer, const struct h2_call *call)
{
	char method[sizeof "-" + 160], status[24];
	size_t n = 0;
	for (const char *p = call->path; *p && n < sizeof method - 1; p++)
		method[n++] = *p > ' ' && *p < 0x7f ? *p : '?';
	if (!n)
		method[n++] = '-';
	method[n] = '\0';
	if (call->http_status != 200)
		snprintf(status, sizeof status, "HTTP_%d", call->http_status);
	else if (call->status < 0)
		snprintf(status, sizeof status, "CANCELLED");
	else if ((size_t)call->status < sizeof status_names / sizeof *status_names)
		snprintf(status, sizeof status, "%s", status_names[call->status]);
	else
		snprintf(status, sizeof status, "STATUS_%d", call->status);
	int v = call->note >= 0 && (size_t)call->note < sizeof verdict_names / sizeof *verdict_names ? call->note : 0;
	fprintf(stderr, "%s %s %s %s %lldus\n", peer, method, status, verdict_names[v], (long long)call->us);
}

static int stale(void *ctx)
{
	struct daemon *d = ctx;
	return index_is_stale(d->current);
}

/* A repeatable option's values. */
static void push(const char ***v, size_t *n, const char *s)
{
	if (!(*v = realloc(*v, (*n + 1) * sizeof **v)))
		cli_die("serve", "out of memory");
	(*v)[(*n)++] = s;
}

int serve_main(int argc, char **argv)
{
	const char *listen_addr = "[::]:50051";
	const char **allow = NULL, **allow_path = NULL, *libpath = NULL, *cert = NULL, *key = NULL,
		   *client_ca = NULL;
	size_t nallow = 0, nallow_path = 0;
	struct server_opts so = {
		.max_conns = 1024, .idle_ms = 300000, .handshake_ms = 10000, .drain_ms = 10000, .job_ms = 60000,
		.lim = { .max_message = 4u << 20, .max_streams = 100, .max_header_list = 8192,
			 .max_output = 1u << 20, .max_conn_buffer = 8u << 20, .request_ms = 30000,
			 .max_stream_messages = 1024 },
		.max_buffer = 64u << 20, .fetch_workers = 4, .scan_workers = 2, .max_queue = 64,
		.max_jobs_per_conn = 4,
	};
	struct daemon d = {
		.svc = { .max_needs = 1024, .max_symbols = 65536, .max_reply = 4u << 20, .memo_entries = 512,
			 .memo_bytes = 1u << 20,
			 .scan = { .max_dirs = 64, .max_entries = 10000, .max_libs = 20000, .timeout_ms = 5000 } },
	};
	int c, log = 0;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = online < 1 ? 1 : online > 256 ? 256 : (unsigned)online;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hq", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: listen_addr = optarg; break;
		case OPT_MEMO: d.svc.memo_entries = (size_t)number("memo-entries", optarg, 0, 1000000); break;
		case OPT_MEMOBYTES: d.svc.memo_bytes = (size_t)number("memo-bytes", optarg, 0, 1L << 32); break;
		case OPT_THREADS: threads = (unsigned)number("threads", optarg, 1, 256); break;
		case OPT_LIBPATH: libpath = optarg; break;
		case OPT_ALLOW: push(&allow, &nallow, optarg); break;
		case OPT_ALLOWPATH:
			if (optarg[0] != '/')
				cli_usage_die("serve", "--allow-path: expected an absolute path, got '%s'", optarg);
			push(&allow_path, &nallow_path, optarg);
			break;
		case OPT_MAXMSG: so.lim.max_message = (size_t)number("max-message", optarg, 64, 1L << 30); break;
		case OPT_MAXSTREAMS: so.lim.max_streams = (uint32_t)number("max-streams", optarg, 1, 100000); break;
		case OPT_MAXCONN: so.max_conns = (size_t)number("max-connections", optarg, 1, 1000000); break;
		case OPT_MAXHDR: so.lim.max_header_list = (uint32_t)number("max-header-list", optarg, 256, 1 << 20); break;
		case OPT_CONNBUF: so.lim.max_conn_buffer = (size_t)number("max-conn-buffer", optarg, 4096, 1L << 32); break;
		case OPT_MAXBUF: so.max_buffer = (size_t)number("max-buffer", optarg, 0, 1L << 40); break;
		case OPT_MAXREPLY: d.svc.max_reply = (size_t)number("max-reply", optarg, 1024, 1L << 30); break;
		case OPT_MAXNEEDS: d.svc.max_needs = (size_t)number("max-needs", optarg, 1, 10000000); break;
		case OPT_MAXSYMS: d.svc.max_symbols = (size_t)number("max-symbols", optarg, 1, 100000000); break;
		case OPT_STREAMMSGS:
			so.lim.max_stream_messages = (uint32_t)number("max-stream-messages", optarg, 1, 1000000);
			break;
		case OPT_LOG: log = 1; break;
		case 'q': d.quiet = 1; break;
		case OPT_DIRENTRIES: d.svc.scan.max_entries = (size_t)number("max-dir-entries", optarg, 1, 10000000); break;
		case OPT_FETCHW: so.fetch_workers = (unsigned)number("fetch-workers", optarg, 1, 256); break;
		case OPT_SCANW: so.scan_workers = (unsigned)number("scan-workers", optarg, 1, 256); break;
		case OPT_QUEUE: so.max_queue = (size_t)number("max-queue", optarg, 0, 1000000); break;
		case OPT_JOBS: so.max_jobs_per_conn = (size_t)number("max-jobs-per-conn", optarg, 1, 100000); break;
		case OPT_IDLE: so.idle_ms = (int)number("idle-timeout", optarg, 100, 86400000); break;
		case OPT_HANDSHAKE: so.handshake_ms = (int)number("handshake-timeout", optarg, 100, 3600000); break;
		case OPT_REQUEST: so.lim.request_ms = (int)number("request-timeout", optarg, 100, 86400000); break;
		case OPT_JOB: so.job_ms = (int)number("job-timeout", optarg, 100, 86400000); break;
		case OPT_DRAIN: so.drain_ms = (int)number("drain-timeout", optarg, 0, 3600000); break;
		case OPT_TLSCERT: cert = optarg; break;
		case OPT_TLSKEY: key = optarg; break;
		case OPT_TLSCA: client_ca = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("serve");
		default: return cli_bad_option("serve", argc, argv, options, c);
		}
	}
	if (optind != argc)
		cli_usage_die("serve", "extra operand '%s'", argv[optind]);
	if (!cert != !key || (client_ca && !cert))
		cli_usage_die("serve", "--tls-cert and --tls-key go together (and --tls-client-ca needs them)");
	/* A whole message must fit what one connection may buffer. */
	if (so.lim.max_conn_buffer < so.lim.max_message + 5)
		so.lim.max_conn_buffer = so.lim.max_message + 5;
	size_t fd_limit, conns = server_clamp_conns(so.max_conns, &fd_limit);
	if (conns < so.max_conns && !d.quiet)
		cli_warn("serve", "--max-connections %zu lowered to %zu: the descriptor limit is %zu", so.max_conns,
			 conns, fd_limit);
	so.max_conns = conns;
	struct cerr err;
	if (cert && tls_config_server(&so.tls, cert, key, client_ca, &err) < 0)
		cli_die("serve", "%s", err.msg);
	d.svc.allow = allow;
	d.svc.nallow = nallow;
	d.svc.scan.allow = allow_path;
	d.svc.scan.nallow = nallow_path;
	struct pathlist dirs;
	if (pathlist_split(libpath, ":", 0, &dirs) < 0)
		cli_die("serve", "out of memory");
	d.io.extra_dirs = (const char *const *)dirs.v;
	d.io.nextra = dirs.n;
	if (index_build(&d.io, &d.current, &err) < 0)
		cli_die("serve", "%s", err.msg);
	if (index_slot_new(&d.svc.slot, d.current) < 0)
		cli_die("serve", "out of memory");
	int lfds[256];
	char bound[128];
	if (server_listen(listen_addr, threads, lfds, bound, sizeof bound, &err) < 0)
		cli_die("serve", "%s", err.msg);
	so.reload = reload;
	so.stale = stale;
	so.log = log ? log_request : NULL;
	so.ctx = &d;
	printf("server listening: %s\n", bound);
	fflush(stdout);
	int rc = server_run(lfds, threads, &d.svc, &so, &err);
	if (rc < 0)
		cli_warn("serve", "%s", err.msg);
	index_slot_free(d.svc.slot);
	tls_config_free(so.tls);
	free(allow);
	free(allow_path);
	pathlist_free(&dirs);
	return rc < 0 ? 1 : 0;
}
