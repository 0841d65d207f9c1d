#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets/cli.h"
#include "core/fsutil.h"
#include "core/version.h"

static int json_errors;	/* --json: errors are JSON on stdout too */

void cli_json(int on)
{
	json_errors = on;
}

int cli_json_in(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

char *cli_json_text(json_t *doc, int indent)
{
	json_t *out = json_pack("{s:i}", "schema", CLI_JSON_SCHEMA);
	char *s = NULL, *text = NULL;
	if (out && json_is_object(doc) && json_object_update(out, doc) == 0)
		s = json_dumps(out, indent ? JSON_INDENT(indent) : JSON_COMPACT);
	json_decref(out);
	json_decref(doc);
	if (s && asprintf(&text, "%s\n", s) < 0)
		text = NULL;
	free(s);
	return text;
}

int cli_json_print(const char *applet, json_t *doc, int indent)
{
	char *s = cli_json_text(doc, indent);
	if (!s)
		return cli_fail(applet, 2, "out of memory");
	int bad = fputs(s, stdout) < 0 || fflush(stdout) != 0;
	free(s);
	return bad ? cli_fail(applet, 2, "stdout: write failed") : 0;
}

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

static int vfail(const char *applet, int status, int usage, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "compat %s: %s\n", applet, msg);
	if (usage)
		fprintf(stderr, "Try 'compat %s --help'.\n", applet);
	if (json_errors) {
		/* the error object itself: no recursion through cli_json_print */
		json_t *e = json_pack("{s:i, s:{s:s, s:i}}", "schema", CLI_JSON_SCHEMA, "error", "message", msg,
				      "exit", status);
		char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;
		if (s)
			puts(s);
		fflush(stdout);
		free(s);
		json_decref(e);
	}
	return status;
}

int cli_fail(const char *applet, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(applet, status, 0, fmt, ap);
	va_end(ap);
	return status;
}

void cli_die(const char *applet, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(applet, 2, 0, fmt, ap);
	va_end(ap);
	exit(2);
}

void cli_usage_die(const char *applet, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(applet, 2, 1, fmt, ap);
	va_end(ap);
	exit(2);
}

static int usage_error(const char *applet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *applet, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(applet, 2, 1, fmt, ap);
	va_end(ap);
	return 2;
}

/* The long option named by arg ("--name" or "--name=value"), matched as
 * getopt_long matches: exactly, else the only one it abbreviates. *n is
 * the number of candidates (several: ambiguous). */
static const struct option *long_match(const struct option *longopts, const char *arg, size_t *n)
{
	const char *name = arg + 2;
	size_t len = strcspn(name, "=");
	const struct option *hit = NULL;
	*n = 0;
	for (const struct option *o = longopts; o && o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len) {
			*n = 1;
			return o;
		}
		hit = o;
		++*n;
	}
	return hit;
}

int cli_bad_option(const char *applet, int argc, char **argv, const struct option *longopts, int c)
{
	/* getopt_long has moved optind past a refused long option; for a
	 * short one inside a cluster it may not have, so optopt names it. */
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	int is_long = strncmp(arg, "--", 2) == 0 && arg[2];
	size_t n = 0;
	const struct option *o = is_long ? long_match(longopts, arg, &n) : NULL;
	if (c == ':') {
		if (is_long && o && o->val == optopt)
			return usage_error(applet, "option '--%s' requires an argument", o->name);
		return usage_error(applet, "option requires an argument -- '%c'", optopt);
	}
	if (is_long && optopt && o && o->val == optopt && strchr(arg, '='))
		return usage_error(applet, "option '--%s' doesn't allow an argument", o->name);
	if (is_long && !optopt) {
		if (n > 1) {
			char list[512];
			size_t used = 0, plen = strcspn(arg + 2, "=");
			for (const struct option *p = longopts; p->name && used < sizeof list; p++)
				if (strncmp(p->name, arg + 2, plen) == 0)
					used += (size_t)snprintf(list + used, sizeof list - used, " '--%s'", p->name);
			return usage_error(applet, "option '%s' is ambiguous; possibilities:%s", arg, list);
		}
		return usage_error(applet, "unrecognized option '%s'", arg);
	}
	return usage_error(applet, "invalid option -- '%c'", optopt);
}

int cli_error(const char *applet, const struct cerr *err)
{
	return cli_fail(applet, cerr_exit_status(err->code), "%s", err->msg);
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
