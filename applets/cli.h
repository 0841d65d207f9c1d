/* Helpers every applet shares: messages in the one-line form of DESIGN §1,
 * usage errors as GNU tools give them, errors as JSON with --json, and the
 * --version text. Only applets include this. */
#ifndef APPLETS_CLI_H
#define APPLETS_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "core/err.h"

/* The version of every JSON document compat prints (docs/json.md). */
#define CLI_JSON_SCHEMA 1

/* "compat APPLET: message" on stderr. */
void cli_warn(const char *applet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An error: "compat APPLET: message" on stderr and, after cli_json(1),
 * {"schema":1,"error":{"message":..,"exit":status}} on stdout. Returns
 * status. */
int cli_fail(const char *applet, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* cli_fail with status 2, then exit(2). Only while parsing arguments and
 * starting up. */
void cli_die(const char *applet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* A usage error: the message, then "Try 'compat APPLET --help'." (never
 * the whole usage), the JSON error with --json; exit(2). */
void cli_usage_die(const char *applet, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* The usage error for what getopt_long just refused, named as GNU getopt
 * names it ("unrecognized option '--jsn'", "option '--root' requires an
 * argument", "invalid option -- 'x'"...). The applet sets opterr = 0 and
 * starts its optstring with ':' (after a '+'), and calls this for the '?'
 * and ':' that getopt_long returns (c). Returns 2. */
int cli_bad_option(const char *applet, int argc, char **argv, const struct option *longopts, int c);

/* Errors are also JSON objects on stdout from now on (on: --json). */
void cli_json(int on);

/* 1 when "--json" is among argv's options (before a "--"): applets call
 * cli_json(cli_json_in(argc, argv)) first, so that a usage error before
 * getopt_long reaches --json is JSON too. */
int cli_json_in(int argc, char **argv);

/* The JSON object doc as text with "schema" as its first key and a final
 * newline; indent 0 is compact. Takes doc's reference (NULL is fine: out
 * of memory). Returns malloc'd text (caller frees), NULL when out of
 * memory. */
char *cli_json_text(json_t *doc, int indent);

/* cli_json_text, printed on stdout. Returns 0, or the exit status of a
 * failure (out of memory, stdout), reported. */
int cli_json_print(const char *applet, json_t *doc, int indent);

/* Print err's message for APPLET (cli_fail); returns the exit status for
 * its code. */
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
