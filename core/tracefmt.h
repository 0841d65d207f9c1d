/* Formatting of trace events (ptrace.h) into a caller-given FILE.
 *
 *   text      the Go prototype's recorder lines, one per event:
 *             "<unix-ns> Open <path>" for a successful open or exec,
 *             "<unix-ns> Lookup <path>" for everything else (a failed open
 *             or exec, any stat/access lookup).
 *   jsonl     one JSON object per line: {"t_ns","pid","tid","syscall",
 *             "path","result"} and "errno" (the name, e.g. "ENOENT") when
 *             the call failed.
 *   perfetto  Chrome trace JSON ({"traceEvents":[...]}) as ui.perfetto.dev
 *             opens it: one complete ("X") slice per event with ts/dur in
 *             microseconds, pid = process, tid = thread, and process_name /
 *             thread_name metadata at the end.
 * Events are written as they come (streaming); tracefmt_finish closes the
 * perfetto document. JSON strings are written by jansson. */
#ifndef COMPAT_TRACEFMT_H
#define COMPAT_TRACEFMT_H

#include <stdio.h>

#include "err.h"
#include "ptrace.h"

enum tracefmt_kind { TRACEFMT_TEXT, TRACEFMT_JSONL, TRACEFMT_PERFETTO };

struct tracefmt_name;

struct tracefmt {
	enum tracefmt_kind kind;
	FILE *out;			/* borrowed */
	unsigned long nevents;
	struct tracefmt_name *names;	/* perfetto: tid -> pid, comm */
	size_t nnames, cap;
};

/* Parse "text", "jsonl" or "perfetto". 0 or COMPAT_EINVAL. */
int tracefmt_parse_kind(const char *s, enum tracefmt_kind *kind);

/* Start a document on out (perfetto writes its opening bracket). */
void tracefmt_init(struct tracefmt *f, enum tracefmt_kind kind, FILE *out);

/* Write one event. Returns 0, COMPAT_ENOMEM, COMPAT_EIO (write failed). */
int tracefmt_event(struct tracefmt *f, const struct ptrace_event *ev);

/* Finish the document and free what f holds (out is not closed).
 * Returns 0 or COMPAT_EIO when a write failed. */
int tracefmt_finish(struct tracefmt *f);

/* True for open/exec events that succeeded (text's "Open"). */
int tracefmt_is_open(const struct ptrace_event *ev);

#endif
