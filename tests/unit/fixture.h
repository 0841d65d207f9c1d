/* Helpers for unit tests that build small ELF fixtures with gcc. */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char fx_dir[256];

static inline const char *fx_tmpdir(void)
{
	if (!fx_dir[0]) {
		snprintf(fx_dir, sizeof fx_dir, "/tmp/compat-unit.XXXXXX");
		if (!mkdtemp(fx_dir)) {
			perror("mkdtemp");
			exit(2);
		}
	}
	return fx_dir;
}

/* Run a shell command built printf-style; returns its exit status. */
static inline int fx_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int fx_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	return rc == -1 ? -1 : (rc >> 8) & 0xff;
}

/* Write text to DIR/name; returns the full path (static buffer). */
static inline const char *fx_write(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/%s", fx_tmpdir(), name);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

static inline void fx_cleanup(void)
{
	if (fx_dir[0])
		fx_sh("rm -rf '%s'", fx_dir);
}

#endif
