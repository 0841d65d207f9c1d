/* compat push: put an artifact into an OCI registry (ORAS-style). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/artifact.h"
#include "core/fsutil.h"
#include "core/oci.h"

static const char usage_text[] =
	"usage: compat push [--plain-http] [--ca-file FILE] ARTIFACT.json REGISTRY/REPO[:TAG]\n"
	"       compat push [--plain-http] [--ca-file FILE] --subject IMAGE ARTIFACT.json [REGISTRY/REPO[:TAG]]\n"
	"\n"
	"Push an artifact to an OCI registry as an ORAS-style artifact (artifactType\n"
	"application/vnd.llnl.compatlib.v1, empty config, one layer), and keep it in the\n"
	"local cache. Prints the manifest digest. Credentials: ~/.docker/config.json.\n"
	"With --subject the artifact is attached to IMAGE (as oras attach): pushed by\n"
	"digest only, so no tag moves, unless a :TAG is written; the repository\n"
	"defaults to IMAGE's.\n"
	"\n"
	"      --plain-http     talk HTTP, not HTTPS (as oras --plain-http)\n"
	"      --ca-file FILE   trust this CA for the registry's TLS certificate\n"
	"      --subject IMAGE  attach the artifact to this image (same repository; the\n"
	"                       referrers API, or the sha256-<hex> tag where there is none)\n"
	"  -h, --help           this text\n"
	"      --version        print the version\n";

enum { OPT_PLAIN = 256, OPT_CA, OPT_SUBJECT, OPT_VERSION };

static const struct option options[] = {
	{ "plain-http", no_argument, NULL, OPT_PLAIN },
	{ "ca-file", required_argument, NULL, OPT_CA },
	{ "subject", required_argument, NULL, OPT_SUBJECT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

int push_main(int argc, char **argv)
{
	struct oci_opts o = { 0 };
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_PLAIN: o.plain_http = 1; break;
		case OPT_CA: o.ca_file = optarg; break;
		case OPT_SUBJECT: o.subject = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("push");
		default: return cli_bad_option("push", argc, argv, options, c);
		}
	}
	char dest[600];
	if (o.subject && optind + 1 == argc) {
		/* Attach in the subject's repository, by digest. */
		struct oci_ref sr;
		struct cerr perr;
		if (oci_ref_parse(o.subject, &sr, &perr) < 0)
			return cli_error("push", &perr);
		snprintf(dest, sizeof dest, "%s/%s", sr.registry, sr.repo);
	} else if (optind + 2 == argc) {
		snprintf(dest, sizeof dest, "%s", argv[optind + 1]);
	} else if (optind + 2 < argc) {
		cli_usage_die("push", "extra operand '%s'", argv[optind + 2]);
	} else {
		cli_usage_die("push", "missing operand (%s)", optind == argc ? "ARTIFACT.json and REGISTRY/REPO[:TAG]"
									 : "REGISTRY/REPO[:TAG], or --subject IMAGE");
	}
	char *data;
	size_t len;
	struct cerr err;
	struct artifact a;
	if (fs_read_file(argv[optind], ARTIFACT_MAX_BYTES, &data, &len, &err) < 0)
		return cli_error("push", &err);
	/* Only artifacts go up: refuse what check could not read. */
	if (artifact_parse(data, len, argv[optind], &a, &err) < 0) {
		free(data);
		return cli_error("push", &err);
	}
	artifact_free(&a);
	char digest[OCI_DIGEST_SIZE];
	int rc = oci_push_artifact(dest, data, len, &o, digest, &err);
	free(data);
	if (rc < 0)
		return cli_error("push", &err);
	printf("%s\n", digest);
	return 0;
}
