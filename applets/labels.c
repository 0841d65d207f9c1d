/* compat labels: this node's facts as Node Feature Discovery labels (a
 * feature file of NFD's local source), so a scheduler can place images by
 * what their artifacts need. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/nodefacts.h"

#define DEFAULT_FILE "/etc/kubernetes/node-feature-discovery/features.d/compat"
#define NS "feature.node.kubernetes.io/compat-"

static const char usage_text[] =
	"usage: compat labels [-o FILE] [--root DIR]\n"
	"\n"
	"Write this node's machine, x86-64 ISA level, kernel and newest GLIBC/GLIBCXX\n"
	"versions as Node Feature Discovery labels (one key=value a line, NFD's\n"
	"local-source feature file format), atomically. '-o -' prints them.\n"
	"Labels (feature.node.kubernetes.io/compat-*): machine, isa-level, x86-64-level,\n"
	"kernel, kernel-major, kernel-minor, glibc, glibc-minor, glibcxx, glibcxx-patch\n"
	"(the integer ones are for nodeAffinity's Gt/Lt).\n"
	"\n"
	"  -o, --output FILE    default " DEFAULT_FILE "\n"
	"      --root DIR       read the libraries of the tree at DIR\n"
	"  -h, --help           this text\n"
	"      --version        print the version\n";

enum { OPT_ROOT = 256, OPT_VERSION };

static const struct option options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* The number after the last dot ("2.36" -> "36"), for Gt/Lt. */
static const char *last_part(const char *v)
{
	const char *d = strrchr(v, '.');
	return d ? d + 1 : v;
}

int labels_main(int argc, char **argv)
{
	const char *out = DEFAULT_FILE, *root = NULL;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case OPT_ROOT: root = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("labels");
		default: return cli_bad_option("labels", argc, argv, options, c);
		}
	}
	if (optind != argc)
		cli_usage_die("labels", "extra operand '%s'", argv[optind]);
	struct node_facts f;
	struct cerr err;
	if (node_facts_read(root, &f, &err) < 0)
		return cli_error("labels", &err);
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	if (!m)
		cli_die("labels", "out of memory");
	fprintf(m, "# compat labels: written by compat " COMPAT_VERSION "; see docs/kubernetes.md\n"
		NS "machine=%s\n" NS "kernel=%u.%u.%u\n" NS "kernel-major=%u\n" NS "kernel-minor=%u\n", f.machine,
		f.kernel[0], f.kernel[1], f.kernel[2], f.kernel[0], f.kernel[1]);
	if (f.isa_level)
		fprintf(m, NS "isa-level=x86-64-v%d\n" NS "x86-64-level=%d\n", f.isa_level, f.isa_level);
	if (f.glibc[0])
		fprintf(m, NS "glibc=%s\n" NS "glibc-minor=%s\n", f.glibc, last_part(f.glibc));
	if (f.glibcxx[0])
		fprintf(m, NS "glibcxx=%s\n" NS "glibcxx-patch=%s\n", f.glibcxx, last_part(f.glibcxx));
	if (fclose(m) != 0)
		cli_die("labels", "out of memory");
	int rc = strcmp(out, "-") == 0 ? cli_write_file("-", text, len, &err)
				       : node_write_features(out, text, len, &err);
	free(text);
	return rc < 0 ? cli_error("labels", &err) : 0;
}
