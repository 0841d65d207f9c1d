#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

int cerr_set(struct cerr *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
		err->sys_errno = 0;
	}
	return code;
}

int cerr_sys(struct cerr *err, int code, const char *fmt, ...)
{
	int saved = errno;
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < sizeof err->msg)
			snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(saved));
		err->code = code;
		err->sys_errno = saved;
	}
	errno = saved;
	return code;
}

int cerr_exit_status(int code)
{
	return code == COMPAT_EUNREACH ? 3 : 2;
}
