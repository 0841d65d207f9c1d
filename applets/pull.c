/* compat pull: fetch an artifact from an OCI registry, through the cache. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/oci.h"

static const char usage_text[] =
	"usage: compat pull [--plain-http] [--ca-file FILE] [-o FILE] REGISTRY/REPO[:TAG|@sha256:HEX]\n"
	"\n"
	"Fetch an artifact (verifying the manifest's and the blob's digests before\n"
	"anything is stored in the cache) and print it, or write it atomically to FILE.\n"
	"\n"
	"      --plain-http     talk HTTP, not HTTPS\n"
	"      --ca-file FILE   trust this CA for the registry's TLS certificate\n"
	"  -o, --output FILE    write the artifact to FILE\n"
	"  -h, --help           this text\n"
	"      --version        print the version\n";

enum { OPT_PLAIN = 256, OPT_CA, OPT_VERSION };

static const struct option options[] = {
	{ "plain-http", no_argument, NULL, OPT_PLAIN },
	{ "ca-file", required_argument, NULL, OPT_CA },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

int pull_main(int argc, char **argv)
{
	struct oci_opts o = { 0 };
	const char *out = "-";
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
		switch (c) {
		case OPT_PLAIN: o.plain_http = 1; break;
		case OPT_CA: o.ca_file = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("pull");
		default: return cli_bad_option("pull", argc, argv, options, c);
		}
	}
	if (optind == argc)
		cli_usage_die("pull", "missing operand (REGISTRY/REPO[:TAG|@sha256:HEX])");
	if (optind + 1 != argc)
		cli_usage_die("pull", "extra operand '%s'", argv[optind + 1]);
	char *json;
	size_t len;
	struct cerr err;
	if (oci_pull_artifact(argv[optind], &o, &json, &len, &err) < 0)
		return cli_error("pull", &err);
	int rc = cli_write_file(out, json, len, &err);
	free(json);
	return rc < 0 ? cli_error("pull", &err) : 0;
}
