/* Trace event formatting (see tracefmt.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tracefmt.h"

struct tracefmt_name {
	pid_t pid, tid;
	char comm[17];
};

int tracefmt_parse_kind(const char *s, enum tracefmt_kind *kind)
{
	if (!strcmp(s, "text"))
		*kind = TRACEFMT_TEXT;
	else if (!strcmp(s, "jsonl"))
		*kind = TRACEFMT_JSONL;
	else if (!strcmp(s, "perfetto"))
		*kind = TRACEFMT_PERFETTO;
	else
		return COMPAT_EINVAL;
	return 0;
}

void tracefmt_init(struct tracefmt *f, enum tracefmt_kind kind, FILE *out)
{
	memset(f, 0, sizeof *f);
	f->kind = kind;
	f->out = out;
	if (kind == TRACEFMT_PERFETTO)
		fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", out);
}

int tracefmt_is_open(const struct ptrace_event *ev)
{
	return ev->result >= 0 && (ev->kind == PTRACE_KIND_OPEN || ev->kind == PTRACE_KIND_EXEC);
}

/* A JSON string for s; bytes that are not valid UTF-8 become '?'. */
static json_t *json_path(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *c = strdup(s);
	if (!c)
		return NULL;
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(c);
	free(c);
	return j;
}

/* Remember the latest name of each thread for the perfetto metadata. */
static int name_note(struct tracefmt *f, const struct ptrace_event *ev)
{
	for (size_t i = 0; i < f->nnames; i++)
		if (f->names[i].tid == ev->tid) {
			f->names[i].pid = ev->pid;
			snprintf(f->names[i].comm, sizeof f->names[i].comm, "%s", ev->comm);
			return 0;
		}
	if (f->nnames == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct tracefmt_name *n = realloc(f->names, cap * sizeof *n);
		if (!n)
			return COMPAT_ENOMEM;
		f->names = n;
		f->cap = cap;
	}
	struct tracefmt_name *n = &f->names[f->nnames++];
	n->pid = ev->pid;
	n->tid = ev->tid;
	snprintf(n->comm, sizeof n->comm, "%s", ev->comm);
	return 0;
}

static int dump(struct tracefmt *f, json_t *j, const char *sep)
{
	int rc = 0;
	if (!j)
		return COMPAT_ENOMEM;
	if (sep)
		fputs(sep, f->out);
	if (json_dumpf(j, f->out, JSON_COMPACT | JSON_REAL_PRECISION(15)) < 0)
		rc = COMPAT_EIO;
	json_decref(j);
	return rc;
}

int tracefmt_event(struct tracefmt *f, const struct ptrace_event *ev)
{
	const char *ename = ev->result < 0 ? strerrorname_np((int)-ev->result) : NULL;
	json_t *j = NULL;
	int rc = 0;

	switch (f->kind) {
	case TRACEFMT_TEXT:
		if (fprintf(f->out, "%" PRIu64 " %s %s\n", ev->unix_ns,
			    tracefmt_is_open(ev) ? "Open" : "Lookup", ev->path) < 0)
			rc = COMPAT_EIO;
		break;
	case TRACEFMT_JSONL:
		j = json_pack("{s:I, s:i, s:i, s:s, s:o, s:I}", "t_ns", (json_int_t)ev->t_ns, "pid",
			      (int)ev->pid, "tid", (int)ev->tid, "syscall", ev->syscall, "path",
			      json_path(ev->path), "result", (json_int_t)ev->result);
		if (j && ename)
			json_object_set_new(j, "errno", json_string(ename));
		if ((rc = dump(f, j, NULL)) == 0 && fputc('\n', f->out) == EOF)
			rc = COMPAT_EIO;
		break;
	case TRACEFMT_PERFETTO: {
		if ((rc = name_note(f, ev)) < 0)
			break;
		const char *base = strrchr(ev->path, '/');
		base = base && base[1] ? base + 1 : ev->path;
		json_t *args = json_pack("{s:o, s:I}", "path", json_path(ev->path), "result",
					 (json_int_t)ev->result);
		if (args && ename)
			json_object_set_new(args, "errno", json_string(ename));
		char name[320];
		snprintf(name, sizeof name, "%s %s", ev->syscall, base);
		j = json_pack("{s:o, s:s, s:s, s:f, s:f, s:i, s:i, s:o}", "name", json_path(name), "cat",
			      tracefmt_is_open(ev) ? "open" : "lookup", "ph", "X", "ts",
			      (double)ev->t_ns / 1000.0, "dur", (double)ev->dur_ns / 1000.0, "pid",
			      (int)ev->pid, "tid", (int)ev->tid, "args", args);
		rc = dump(f, j, f->nevents ? ",\n" : "\n");
		break;
	}
	}
	f->nevents++;
	return rc;
}

int tracefmt_finish(struct tracefmt *f)
{
	int rc = 0;
	if (f->kind == TRACEFMT_PERFETTO) {
		unsigned long n = f->nevents;
		for (size_t i = 0; i < f->nnames; i++) {
			const struct tracefmt_name *m = &f->names[i];
			/* process_name once per process, named after its main
			 * thread when that made calls, else the first seen */
			int first = 1;
			for (size_t k = 0; k < i; k++)
				first &= f->names[k].pid != m->pid;
			if (first) {
				const char *pname = m->comm;
				for (size_t k = i; k < f->nnames; k++)
					if (f->names[k].tid == m->pid)
						pname = f->names[k].comm;
				json_t *p = json_pack("{s:s, s:s, s:i, s:{s:s}}", "name", "process_name", "ph",
						      "M", "pid", (int)m->pid, "args", "name", pname);
				if (dump(f, p, n++ ? ",\n" : "\n") < 0)
					rc = COMPAT_EIO;
			}
			json_t *t = json_pack("{s:s, s:s, s:i, s:i, s:{s:s}}", "name", "thread_name", "ph",
					      "M", "pid", (int)m->pid, "tid", (int)m->tid, "args", "name",
					      m->comm);
			if (dump(f, t, n++ ? ",\n" : "\n") < 0)
				rc = COMPAT_EIO;
		}
		fputs("\n]}\n", f->out);
	}
	if (fflush(f->out) == EOF || ferror(f->out))
		rc = COMPAT_EIO;
	free(f->names);
	f->names = NULL;
	f->nnames = f->cap = 0;
	return rc;
}
