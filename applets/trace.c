/* compat trace: not built yet (see the open issues). */
#include <stdio.h>
#include <string.h>

#include "applets/applets.h"
#include "applets/cli.h"

int trace_main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("usage: compat trace ... (not built yet)\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--version") == 0)
		return cli_version("trace");
	cli_warn("trace", "this applet is not built yet");
	return 2;
}
