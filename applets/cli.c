#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/cli.h"
#include "core/fsutil.h"
#include "core/version.h"

static void vwarn(const char *applet, const char *fmt, va_list ap)
{
	fprintf(stderr, "compat %s: ", applet);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_warn(const char *applet, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(applet, fmt, ap);
	va_end(ap);
}

void cli_die(const char *applet, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(applet, fmt, ap);
	va_end(ap);
	exit(2);
}

int cli_error(const char *applet, const struct cerr *err)
{
	cli_warn(applet, "%s", err->msg);
	return cerr_exit_status(err->code);
}

int cli_version(const char *applet)
{
	char libs[256];
	printf("compat%s%s %s (commit %s)\n", applet ? " " : "", applet ? applet : "",
	       version_number(), version_commit());
	printf("link: %s\n", version_link());
	printf("libraries: %s\n", version_libraries(libs, sizeof libs));
	return 0;
}

int cli_colour(FILE *f)
{
	const char *nc = getenv("NO_COLOR");
	return isatty(fileno(f)) && !(nc && *nc);
}

int cli_write_file(const char *path, const char *data, size_t len, struct cerr *err)
{
	if (strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
			return cerr_sys(err, COMPAT_EIO, "stdout");
		return 0;
	}
	return fs_write_atomic(path, data, len, err);
}
