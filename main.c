/* compat: busybox-style dispatcher. The applet is named by basename(argv[0])
 * ("compat-gen", "compat-server", ...) or, for plain "compat", by argv[1]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/applets.h"
#include "applets/cli.h"

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
};

static const struct applet applets[] = {
#define APPLET(n) { #n, n##_main },
	APPLET_LIST
#undef APPLET
};

/* Names the prototype installed, mapped to applets. */
static const struct { const char *alias, *applet; } aliases[] = {
	{ "compat-server", "serve" },
};

static int applet_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct applet *)elem)->name);
}

static const struct applet *applet_find(const char *name)
{
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(name, aliases[i].alias) == 0)
			name = aliases[i].applet;
	if (strncmp(name, "compat-", 7) == 0)
		name += 7;
	return bsearch(name, applets, sizeof applets / sizeof applets[0],
		       sizeof applets[0], applet_cmp);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: compat APPLET [ARGS...]\n"
		     "Will this program run on this node?\n\napplets:");
	for (size_t i = 0; i < sizeof applets / sizeof applets[0]; i++)
		fprintf(out, " %s", applets[i].name);
	fprintf(out, "\n\nRun 'compat APPLET --help' for an applet's options.\n");
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : (argc > 0 ? argv[0] : "compat");

	if (strcmp(base, "compat") != 0) {
		const struct applet *a = applet_find(base);
		if (a)
			return a->main(argc, argv);
	}
	if (argc < 2) {
		fprintf(stderr, "compat: no applet named\nTry 'compat --help'.\n");
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cli_version(NULL);
	const struct applet *a = applet_find(argv[1]);
	if (!a) {
		/* "compat ./prog": the user wants an answer about a file. */
		if (argv[1][0] == '-')
			fprintf(stderr, "compat: unrecognized option '%s'\n", argv[1]);
		else if (access(argv[1], F_OK) == 0)
			fprintf(stderr, "compat: '%s' is not an applet; did you mean 'compat check %s'?\n",
				argv[1], argv[1]);
		else
			fprintf(stderr, "compat: unknown applet '%s'\n", argv[1]);
		fprintf(stderr, "Try 'compat --help'.\n");
		return 2;
	}
	return a->main(argc - 1, argv + 1);
}
