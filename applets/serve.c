/* compat serve (compat-server): the gRPC daemon of DESIGN §5. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/hostindex.h"
#include "core/loop.h"
#include "core/pathlist.h"
#include "core/service.h"
#include "core/tls.h"

static const char usage_text[] =
	"usage: compat serve [--listen ADDR] [--library-path DIRS] [--allow-registry HOST]...\n"
	"                    [--max-message BYTES] [--max-streams N] [--max-connections N]\n"
	"                    [--max-header-list BYTES] [--idle-timeout MS] [--handshake-timeout MS]\n"
	"                    [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]\n"
	"\n"
	"Index this host's libraries once, then answer gRPC CheckCompatibility,\n"
	"LocateLibraries and grpc.health.v1.Health/Check over HTTP/2 (h2c).\n"
	"SIGTERM/SIGINT: stop accepting, finish in-flight requests, exit 0.\n"
	"SIGHUP (or a new /etc/ld.so.cache): rebuild the index.\n"
	"\n"
	"      --listen ADDR          HOST:PORT to listen on (default [::]:50051; port 0: any)\n"
	"      --library-path DIRS    also index these directories, searched first\n"
	"      --allow-registry HOST  registry hosts a request's uri may name (repeatable)\n"
	"      --max-message BYTES    largest request message (default 4194304)\n"
	"      --max-streams N        concurrent streams per connection (default 100)\n"
	"      --max-connections N    connections at once (default 1024)\n"
	"      --max-header-list B    request header bytes (default 8192)\n"
	"      --idle-timeout MS      close connections idle this long (default 300000)\n"
	"      --handshake-timeout MS close connections silent this long (default 10000)\n"
	"      --tls-cert FILE        serve TLS (ALPN h2) with this PEM certificate chain\n"
	"      --tls-key FILE         ... and this PEM private key\n"
	"      --tls-client-ca FILE   require client certificates signed by this CA\n"
	"  -h, --help                 this text\n"
	"      --version              print the version\n";

enum { OPT_LISTEN = 256, OPT_LIBPATH, OPT_ALLOW, OPT_MAXMSG, OPT_MAXSTREAMS, OPT_MAXCONN,
       OPT_MAXHDR, OPT_IDLE, OPT_HANDSHAKE, OPT_TLSCERT, OPT_TLSKEY, OPT_TLSCA, OPT_VERSION };

static const struct option options[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "library-path", required_argument, NULL, OPT_LIBPATH },
	{ "allow-registry", required_argument, NULL, OPT_ALLOW },
	{ "max-message", required_argument, NULL, OPT_MAXMSG },
	{ "max-streams", required_argument, NULL, OPT_MAXSTREAMS },
	{ "max-connections", required_argument, NULL, OPT_MAXCONN },
	{ "max-header-list", required_argument, NULL, OPT_MAXHDR },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE },
	{ "tls-cert", required_argument, NULL, OPT_TLSCERT },
	{ "tls-key", required_argument, NULL, OPT_TLSKEY },
	{ "tls-client-ca", required_argument, NULL, OPT_TLSCA },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct server {
	struct service svc;
	struct index_opts io;
};

static long number(const char *opt, const char *v, long min, long max)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (*v == '\0' || *end || n < min || n > max)
		cli_die("serve", "--%s: expected a number from %ld to %ld, got '%s'", opt, min, max, v);
	return n;
}

static int reload(void *ctx)
{
	struct server *s = ctx;
	struct host_index *idx;
	struct cerr err;
	if (index_build(&s->io, &idx, &err) < 0) {
		cli_warn("serve", "index rebuild failed, keeping the old one: %s", err.msg);
		return -1;
	}
	index_free(s->svc.idx);
	s->svc.idx = idx;
	fprintf(stderr, "compat serve: index rebuilt: %zu libraries\n", index_count(idx));
	return 0;
}

static int stale(void *ctx)
{
	struct server *s = ctx;
	return index_is_stale(s->svc.idx);
}

int serve_main(int argc, char **argv)
{
	const char *listen_addr = "[::]:50051";
	const char **allow = NULL, *libpath = NULL, *cert = NULL, *key = NULL, *client_ca = NULL;
	size_t nallow = 0;
	struct loop_opts lo = {
		.max_conns = 1024, .idle_ms = 300000, .handshake_ms = 10000, .drain_ms = 10000,
		.lim = { .max_message = 4u << 20, .max_streams = 100, .max_header_list = 8192,
			 .max_output = 1u << 20 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN: listen_addr = optarg; break;
		case OPT_LIBPATH: libpath = optarg; break;
		case OPT_ALLOW:
			if (!(allow = realloc(allow, (nallow + 1) * sizeof *allow)))
				cli_die("serve", "out of memory");
			allow[nallow++] = optarg;
			break;
		case OPT_MAXMSG: lo.lim.max_message = (size_t)number("max-message", optarg, 64, 1L << 30); break;
		case OPT_MAXSTREAMS: lo.lim.max_streams = (uint32_t)number("max-streams", optarg, 1, 100000); break;
		case OPT_MAXCONN: lo.max_conns = (size_t)number("max-connections", optarg, 1, 1000000); break;
		case OPT_MAXHDR: lo.lim.max_header_list = (uint32_t)number("max-header-list", optarg, 256, 1 << 20); break;
		case OPT_IDLE: lo.idle_ms = (int)number("idle-timeout", optarg, 100, 86400000); break;
		case OPT_HANDSHAKE: lo.handshake_ms = (int)number("handshake-timeout", optarg, 100, 3600000); break;
		case OPT_TLSCERT: cert = optarg; break;
		case OPT_TLSKEY: key = optarg; break;
		case OPT_TLSCA: client_ca = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("serve");
		default: fputs(usage_text, stderr); return 2;
		}
	}
	if (optind != argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!cert != !key || (client_ca && !cert))
		cli_die("serve", "--tls-cert and --tls-key go together (and --tls-client-ca needs them)");
	struct cerr err;
	if (cert && tls_config_server(&lo.tls, cert, key, client_ca, &err) < 0)
		cli_die("serve", "%s", err.msg);
	struct server s = { .svc = { .allow = allow, .nallow = nallow } };
	struct pathlist dirs;
	if (pathlist_split(libpath, ":", 0, &dirs) < 0)
		cli_die("serve", "out of memory");
	s.io.extra_dirs = (const char *const *)dirs.v;
	s.io.nextra = dirs.n;
	if (index_build(&s.io, &s.svc.idx, &err) < 0)
		cli_die("serve", "%s", err.msg);
	int lfd;
	char bound[128];
	if (loop_listen(listen_addr, &lfd, bound, sizeof bound, &err) < 0)
		cli_die("serve", "%s", err.msg);
	lo.reload = reload;
	lo.stale = stale;
	lo.ctx = &s;
	printf("server listening: %s\n", bound);
	fflush(stdout);
	int rc = loop_run(lfd, &s.svc, &lo, &err);
	if (rc < 0)
		cli_warn("serve", "%s", err.msg);
	index_free(s.svc.idx);
	tls_config_free(lo.tls);
	free(allow);
	pathlist_free(&dirs);
	return rc < 0 ? 1 : 0;
}
