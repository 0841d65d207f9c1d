/* Error reporting shared by every core module.
 *
 * Core functions return 0 or a negative COMPAT_E* code and, when given a
 * non-NULL struct cerr, fill it with one line naming the thing at fault
 * (file, field, offset). Applets turn that line into "compat APPLET: msg"
 * and an exit status (cerr_exit_status). */
#ifndef COMPAT_ERR_H
#define COMPAT_ERR_H

enum cerr_code {
	COMPAT_OK = 0,
	COMPAT_EINVAL = -1,   /* bad input: malformed file, JSON, field */
	COMPAT_EIO = -2,      /* could not read or write a file (sys_errno set) */
	COMPAT_ENOMEM = -3,   /* allocation failed or a bound was exceeded */
	COMPAT_ENOTFOUND = -4, /* a looked-up thing does not exist */
	COMPAT_EUNREACH = -5, /* could not reach a server or registry */
	COMPAT_ELIMIT = -6,   /* input larger than a configured limit */
	COMPAT_EPROTO = -7,   /* peer broke the protocol */
	COMPAT_EDIGEST = -8,  /* content does not match its digest */
	COMPAT_EPERM = -9,    /* not permitted (ptrace, registry auth) */
};

struct cerr {
	int code;
	int sys_errno;
	char msg[320];
};

/* Fill err (if non-NULL) with code and a printf-style message; returns code,
 * so callers can write "return cerr_set(err, COMPAT_EINVAL, ...)". */
int cerr_set(struct cerr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As cerr_set, appending ": strerror(errno)" and recording errno. */
int cerr_sys(struct cerr *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Exit status for an error code (DESIGN §1): 2 bad input, 3 unreachable. */
int cerr_exit_status(int code);

#endif
