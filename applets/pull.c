/* compat pull: not built yet (see the open issues). */
#include <stdio.h>
#include <string.h>

#include "applets/applets.h"
#include "applets/cli.h"

int pull_main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: compat pull ... (not built yet)\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0)
		return cli_version("pull");
	cli_warn("pull", "this applet is not built yet");
	return 2;
}
