/* Helpers every applet shares: messages in the one-line form of DESIGN §1
 * and the --version text. Only applets include this. */
#ifndef APPLETS_CLI_H
#define APPLETS_CLI_H

#include <stdio.h>

#include "core/err.h"

/* "compat APPLET: message" on stderr. */
void cli_warn(const char *applet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_warn, then exit(2). Only while parsing arguments and starting up. */
void cli_die(const char *applet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* Print err's message for APPLET; returns the exit status for its code. */
int cli_error(const char *applet, const struct cerr *err);

/* "compat APPLET VERSION (commit C)", then how it was linked and the
 * versions of the libraries in it, on stdout. applet may be NULL. */
int cli_version(const char *applet);

/* True when colour may be used on this stream (a TTY and no NO_COLOR). */
int cli_colour(FILE *f);

/* Write len bytes to path atomically (temp file in the same directory,
 * fsync, rename); "-" writes to stdout. */
int cli_write_file(const char *path, const char *data, size_t len, struct cerr *err);

#endif
