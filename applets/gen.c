/* compat gen: describe ELF programs as a compatibility artifact, or show
 * how ld.so would resolve them (--list like ldd, --tree like libtree). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "applets/applets.h"
#include "applets/cli.h"
#include "core/command.h"
#include "core/describe.h"
#include "core/image.h"
#include "core/oci.h"
#include "core/resolve.h"

static const char usage_text[] =
	"usage: compat gen [-o FILE] [--root DIR] [--library-path DIRS] [--no-symbols]\n"
	"                  [--machine NAME] [--push REF [--subject IMAGE]] [--plain-http] PATH...\n"
	"       compat gen [-o FILE] [--platform OS/ARCH] [--push REF [--subject IMAGE]]\n"
	"                  [--plain-http] [--ca-file FILE] IMAGE\n"
	"       compat gen --list|--tree [--json] [-o FILE] [--root DIR] [--library-path DIRS] FILE...\n"
	"\n"
	"Describe what ELF programs need from a host, resolving their libraries as\n"
	"glibc's ld.so would, without running them. A directory PATH means every\n"
	"ELF file under it; several PATHs give one artifact (the union), of one\n"
	"architecture: files of several machines or classes are refused. A named\n"
	"file that is not an ELF file (a script) is skipped with a warning; exit 2\n"
	"when nothing is left to describe.\n"
	"An IMAGE (REGISTRY/REPO[:TAG|@sha256:HEX], or oci:DIR[:TAG] for an OCI\n"
	"layout) is unpacked into a private temporary directory and described as\n"
	"what it needs from the node: machine, ISA level, kernel, and the sonames\n"
	"nothing in the image provides (llnl.compatlib.kind = image).\n"
	"\n"
	"  -o, --output FILE        write the artifact (or the --list, --tree output) to FILE,\n"
	"                           atomically; default stdout\n"
	"      --root DIR           resolve inside DIR, as a loader chrooted there would\n"
	"      --library-path DIRS  emulate LD_LIBRARY_PATH=DIRS (default: the environment's)\n"
	"      --no-symbols         leave out the symbols.SONAME attributes\n"
	"      --machine NAME       of files of several machines, describe those of NAME\n"
	"                           (x86_64, aarch64, i386, ...) and skip the others\n"
	"  -l, --list               print 'soname => path' per file, as ldd does\n"
	"  -t, --tree               print the dependency tree and why each was found there\n"
	"      --json               --list, --tree: the resolution as JSON (docs/json.md);\n"
	"                           errors as JSON on stdout too\n"
	"      --push REF           also push the artifact to a registry (see compat push)\n"
	"      --subject IMAGE      ... attached to IMAGE (by digest, no tag moves, unless\n"
	"                           REF names one)\n"
	"      --platform OS/ARCH   pick this platform from an image index (default: this node's)\n"
	"      --plain-http         registries over HTTP instead of HTTPS\n"
	"      --ca-file FILE       trust this CA for the registry's TLS certificate\n"
	"  -h, --help               this text\n"
	"      --version            print the version\n";

enum { OPT_ROOT = 256, OPT_LIBPATH, OPT_NOSYMS, OPT_VERSION, OPT_PUSH, OPT_PLAIN, OPT_SUBJECT, OPT_PLATFORM,
       OPT_CA, OPT_MACHINE, OPT_JSON };

static const struct option options[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "library-path", required_argument, NULL, OPT_LIBPATH },
	{ "no-symbols", no_argument, NULL, OPT_NOSYMS },
	{ "machine", required_argument, NULL, OPT_MACHINE },
	{ "list", no_argument, NULL, 'l' },
	{ "tree", no_argument, NULL, 't' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "push", required_argument, NULL, OPT_PUSH },
	{ "plain-http", no_argument, NULL, OPT_PLAIN },
	{ "subject", required_argument, NULL, OPT_SUBJECT },
	{ "platform", required_argument, NULL, OPT_PLATFORM },
	{ "ca-file", required_argument, NULL, OPT_CA },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void print_list(const struct resolution *r, FILE *out)
{
	for (size_t i = 1; i < r->n; i++) {
		const struct rs_obj *o = &r->objs[i];
		if ((int)i == r->interp)
			continue;
		if (o->path && o->how == RS_PATH)
			fprintf(out, "\t%s\n", o->path);	/* as ldd shows a name with '/' */
		else if (o->path)
			fprintf(out, "\t%s => %s\n", o->name, o->path);
		else
			fprintf(out, "\t%s => not found\n", o->name);
	}
	/* ld.so drops itself from the list when nothing needs it. */
	int used = 0;
	for (size_t i = 0; i < r->n && r->interp >= 0; i++)
		for (size_t k = 0; r->objs[i].needs && k < r->objs[i].info->nneeded; k++)
			used |= r->objs[i].needs[k] == r->interp;
	if (used)
		fprintf(out, "\t%s\n", r->objs[r->interp].path);
}

static void print_searched(const struct rs_obj *o, const char *indent, FILE *out)
{
	if (o->problem)
		fprintf(out, "%s    %s\n", indent, o->problem);
	for (size_t s = 0; s < o->nsearched; s++)
		fprintf(out, "%s    searched %s %s\n", indent, o->searched[s].dir,
			rs_how_name(o->searched[s].why));
}

static void print_tree_node(const struct resolution *r, int idx, char *prefix, size_t plen,
			    unsigned char *shown, FILE *out, int colour)
{
	const struct rs_obj *o = &r->objs[idx];
	if (!o->info || !o->needs)
		return;
	for (size_t k = 0; k < o->info->nneeded; k++) {
		int last = k + 1 == o->info->nneeded;
		int c = o->needs[k];
		const struct rs_obj *d = &r->objs[c];
		fprintf(out, "%.*s%s", (int)plen, prefix, last ? "└── " : "├── ");
		if (!d->path) {
			fprintf(out, "%s%s not found%s\n", colour ? "\033[1;31m" : "", o->info->needed[k],
				colour ? "\033[0m" : "");
			char ind[1024];
			snprintf(ind, sizeof ind, "%.*s%s", (int)plen, prefix, last ? "    " : "│   ");
			print_searched(d, ind, out);
			continue;
		}
		fprintf(out, "%s %s %s%s\n", o->info->needed[k], d->path, rs_how_name(d->how),
			shown[c] ? " (seen)" : "");
		if (shown[c])
			continue;
		shown[c] = 1;
		if (plen + 8 < 1024) {
			memcpy(prefix + plen, last ? "    " : "│   ", last ? 4 : 6);
			print_tree_node(r, c, prefix, plen + (last ? 4 : 6), shown, out, colour);
		}
	}
}

/* Why a file named on the command line is passed over (the scripts
 * of a glob of /usr/bin), or NULL: an ELF file, or something the resolver or
 * describe_paths report themselves (missing, unreadable, a FIFO). A
 * directory is passed over only by --list and --tree (dirs_ok 0). */
static const char *not_elf(const char *path, int dirs_ok)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return NULL;
	if (S_ISDIR(st.st_mode))
		return dirs_ok ? NULL : "a directory (compat gen DIR describes the ELF files under it)";
	if (!S_ISREG(st.st_mode))
		return NULL;
	switch (command_kind(path, NULL)) {
	case COMMAND_SCRIPT: return "a '#!' script, not an ELF file";
	case COMMAND_OTHER: return "not an ELF file";
	default: return NULL;
	}
}

/* rs_how_name's words ("[ld.so.cache]"), as check --json has them; null
 * when not found. */
static json_t *how_json(enum rs_how how)
{
	return how == RS_NOTFOUND ? json_null() : json_string(rs_how_name(how));
}

/* One file's resolution as JSON (docs/json.md): every object in load
 * order, each with its DT_NEEDED entries and the objects they resolved to. */
static json_t *resolution_json(const char *file, const struct resolution *r)
{
	json_t *objs = json_array(), *j = json_pack("{s:s}", "file", file);
	for (size_t i = 0; objs && j && i < r->n; i++) {
		const struct rs_obj *o = &r->objs[i];
		json_t *e = json_pack("{s:s, s:o, s:o}", "name", o->name, "path",
				      o->path ? json_string(o->path) : json_null(), "found_by", how_json(o->how));
		json_t *needs = json_array();
		for (size_t k = 0; o->needs && o->info && needs && k < o->info->nneeded; k++)
			json_array_append_new(needs, json_pack("{s:s, s:i}", "name", o->info->needed[k], "object",
							       o->needs[k]));
		json_object_set_new(e, "needs", needs);
		if (!o->path) {
			json_t *sr = json_array();
			for (size_t k = 0; k < o->nsearched && sr; k++)
				json_array_append_new(sr, json_pack("{s:s, s:s}", "dir", o->searched[k].dir, "why",
								    rs_how_name(o->searched[k].why)));
			json_object_set_new(e, "searched", sr);
			if (o->problem)
				json_object_set_new(e, "problem", json_string(o->problem));
		}
		json_array_append_new(objs, e);
	}
	json_object_set_new(j, "interpreter", r->interp >= 0 ? json_integer(r->interp) : json_null());
	json_object_set_new(j, "objects", objs);
	return j;
}

/* --list and --tree: each file's resolution, as text or JSON, to out.
 * Exit 2 when a file could not be resolved or nothing was (non-ELF files
 * are skipped with a warning), else 1 when a library was not found. */
static int run_resolve(const char *const *paths, int n, const char *root, const char *libpath, int tree,
		       int json, const char *out)
{
	struct rs_opts ro = { .root = root, .library_path = libpath, .no_symtabs = 1 };
	struct resolver *rv;
	struct cerr err;
	int status = 0, resolved = 0, colour = !json && strcmp(out, "-") == 0 && cli_colour(stdout);
	char *text = NULL;
	size_t len = 0;

	if (n == 1 && not_elf(paths[0], 0))
		return cli_fail("gen", 2, "%s: %s", paths[0], not_elf(paths[0], 0));
	if (resolver_new(&ro, &rv, &err) < 0)
		return cli_error("gen", &err);
	json_t *files = json ? json_array() : NULL;
	FILE *f = json ? NULL : open_memstream(&text, &len);
	if (!files && !f)
		cli_die("gen", "out of memory");
	for (int i = 0; i < n; i++) {
		const char *why = not_elf(paths[i], 0);
		struct resolution r;
		if (why) {
			cli_warn("gen", "%s: %s (skipped)", paths[i], why);
			json_array_append_new(files, json_pack("{s:s, s:s}", "file", paths[i], "skipped", why));
			continue;
		}
		if (resolver_run(rv, paths[i], &r, &err) < 0) {
			cli_warn("gen", "%s", err.msg);
			json_array_append_new(files, json_pack("{s:s, s:s}", "file", paths[i], "error", err.msg));
			status = 2;
			continue;
		}
		resolved++;
		if (json) {
			json_array_append_new(files, resolution_json(paths[i], &r));
		} else if (tree) {
			char prefix[1024];
			unsigned char *shown = calloc(r.n ? r.n : 1, 1);
			if (!shown) {
				resolution_free(&r);
				resolver_free(rv);
				cli_die("gen", "out of memory");
			}
			shown[0] = 1;
			fprintf(f, "%s%s\n", paths[i], r.n == 1 ? " (no dynamic dependencies)" : "");
			print_tree_node(&r, 0, prefix, 0, shown, f, colour);
			free(shown);
		} else {
			if (n > 1)
				fprintf(f, "%s:\n", paths[i]);
			if (r.n == 1)
				fprintf(f, "\tno dynamic dependencies\n");
			print_list(&r, f);
		}
		for (size_t k = 1; k < r.n; k++)
			if (!r.objs[k].path)
				status = status ? status : 1;
		resolution_free(&r);
	}
	resolver_free(rv);
	if (json)
		text = cli_json_text(json_pack("{s:o}", "files", files), 2);
	else if (fclose(f) != 0)
		text = NULL;
	if (!text)
		cli_die("gen", "out of memory");
	if (!resolved && status != 2) {
		free(text);
		return cli_fail("gen", 2, "none of the %d files named is an ELF file", n);
	}
	if (cli_write_file(out, text, strlen(text), &err) < 0)
		status = cli_error("gen", &err);
	free(text);
	return status;
}

/* Drop the named files that are not ELF files, one warning each; 2 when
 * none is left (the one line for a single file), else 0. */
static int drop_non_elf(const char **paths, int *n)
{
	int kept = 0;
	if (*n == 1 && not_elf(paths[0], 1))
		return cli_fail("gen", 2, "%s: %s", paths[0], not_elf(paths[0], 1));
	for (int i = 0; i < *n; i++) {
		const char *why = not_elf(paths[i], 1);
		if (why)
			cli_warn("gen", "%s: %s (skipped)", paths[i], why);
		else
			paths[kept++] = paths[i];
	}
	if (!kept)
		return cli_fail("gen", 2, "none of the %d files named is an ELF file", *n);
	*n = kept;
	return 0;
}

static void warn_cb(void *ctx, const char *path, const char *msg)
{
	(void)ctx;
	(void)path;
	cli_warn("gen", "%s", msg);
}

static void image_warn(void *ctx, const char *msg)
{
	(void)ctx;
	cli_warn("gen", "%s", msg);
}

/* Write a's JSON to out and, with push, push it there (with oo's subject).
 * Takes a. Returns the exit status. */
static int write_and_push(struct artifact *a, const char *out, const char *push, const struct oci_opts *oo)
{
	struct cerr err;
	size_t len;
	char *json = artifact_to_json(a, &len);
	artifact_free(a);
	if (!json)
		cli_die("gen", "out of memory");
	int rc = cli_write_file(out, json, len, &err);
	if (rc == 0 && push) {
		char digest[OCI_DIGEST_SIZE];
		rc = oci_push_artifact(push, json, len, oo, digest, &err);
		if (rc == 0)
			fprintf(stderr, "compat gen: pushed %s@%s\n", push, digest);
	}
	free(json);
	return rc < 0 ? cli_error("gen", &err) : 0;
}

/* gen IMAGE: unpack, describe, and (--push) attach. */
static int run_image(const char *ref, const char *out, const char *push, const char *subject,
		     const struct oci_opts *oo, const char *platform, int no_symbols)
{
	struct image_opts io = { .oci = oo, .platform = platform, .no_symbols = no_symbols, .warn = image_warn };
	struct image_info info;
	struct artifact a;
	struct cerr err;
	artifact_init(&a);
	int rc = image_describe(ref, &io, &a, &info, &err);
	if (rc < 0) {
		artifact_free(&a);
		return cli_error("gen", &err);
	}
	/* The subject is the image just described, by its digest: a tag that
	 * moved meanwhile does not get someone else's artifact. */
	char pinned[800];
	struct oci_ref sr;
	struct oci_opts po = *oo;
	if (subject && strcmp(subject, ref) == 0 && oci_ref_parse(ref, &sr, NULL) == 0) {
		snprintf(pinned, sizeof pinned, "%s/%s@%s", sr.registry, sr.repo, info.digest);
		subject = pinned;
	}
	po.subject = subject;
	return write_and_push(&a, out, push, &po);
}

int gen_main(int argc, char **argv)
{
	const char *out = "-", *root = NULL, *push = NULL, *subject = NULL, *platform = NULL, *ca_file = NULL,
		   *machine = NULL;
	const char *libpath = getenv("LD_LIBRARY_PATH");
	int list = 0, tree = 0, no_symbols = 0, plain_http = 0, want_json = cli_json_in(argc, argv), c;

	cli_json(want_json);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:lth", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case OPT_ROOT: root = optarg; break;
		case OPT_LIBPATH: libpath = optarg; break;
		case OPT_NOSYMS: no_symbols = 1; break;
		case OPT_MACHINE: machine = optarg; break;
		case 'l': list = 1; break;
		case 't': tree = 1; break;
		case OPT_JSON: cli_json(want_json = 1); break;
		case OPT_PUSH: push = optarg; break;
		case OPT_PLAIN: plain_http = 1; break;
		case OPT_SUBJECT: subject = optarg; break;
		case OPT_PLATFORM: platform = optarg; break;
		case OPT_CA: ca_file = optarg; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case OPT_VERSION: return cli_version("gen");
		default: return cli_bad_option("gen", argc, argv, options, c);
		}
	}
	if (optind >= argc)
		cli_usage_die("gen", "missing operand (PATH... or IMAGE)");
	if (libpath && !*libpath)
		libpath = NULL;
	const char **paths = (const char **)argv + optind;
	int npaths = argc - optind;
	if (list || tree)
		return run_resolve(paths, npaths, root, libpath, tree, want_json, out);
	if (subject && !push)
		cli_usage_die("gen", "--subject needs --push REF");
	struct oci_opts oo = { .plain_http = plain_http, .ca_file = ca_file, .subject = subject };
	if (npaths == 1 && !root && image_is_reference(paths[0])) {
		if (!COMPAT_IMAGE_GEN)	/* make static: run_image is left out too */
			cli_die("gen", "%s: describing images is not in this build of compat (the static one "
				"leaves it out); use the dynamic one", paths[0]);
		return run_image(paths[0], out, push, subject, &oo, platform, no_symbols);
	}
	if (platform)
		cli_usage_die("gen", "--platform is for an IMAGE");
	int rc = drop_non_elf(paths, &npaths);
	if (rc)
		return rc;

	struct describe_opts o = { .root = root, .library_path = libpath, .no_symbols = no_symbols,
				   .machine = machine };
	struct artifact a;
	struct cerr err;
	artifact_init(&a);
	rc = describe_paths(paths, (size_t)npaths, &o, warn_cb, NULL, &a, &err);
	if (rc < 0) {
		artifact_free(&a);
		return cli_error("gen", &err);
	}
	return write_and_push(&a, out, push, &oo);
}
