#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "command.h"

/* glibc's execvp searches this when PATH is unset (confstr _CS_PATH). */
#define DEFAULT_PATH "/bin:/usr/bin"

/* cerr_set, with the errno execve would have given. */
static int fail(struct cerr *err, int code, int sys_errno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct cerr *err, int code, int sys_errno, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		va_end(ap);
		err->code = code;
		err->sys_errno = sys_errno;
	}
	return code;
}

/* The first bytes of a regular file (opened without blocking, so a FIFO
 * swapped in after the stat cannot hang us). Returns the count or a code. */
static int read_head(const char *path, char *buf, size_t cap, struct cerr *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return fail(err, COMPAT_ENOTFOUND, ENOENT, "%s: No such file or directory", path);
		if (errno == EACCES)
			return fail(err, COMPAT_EPERM, EACCES, "%s: Permission denied", path);
		return cerr_sys(err, COMPAT_EIO, "%s", path);
	}
	int rc = 0;
	size_t got = 0;
	if (fstat(fd, &st) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(err, COMPAT_EPERM, EACCES, "%s: %s", path,
			  S_ISDIR(st.st_mode) ? "Is a directory" : "not a regular file");
		goto out;
	}
	while (got < cap) {
		ssize_t r = read(fd, buf + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = cerr_sys(err, COMPAT_EIO, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	rc = (int)got;
out:
	close(fd);
	return rc;
}

static enum command_kind kind_of(const char *buf, int n)
{
	if (n >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0)
		return COMMAND_ELF;
	if (n >= 2 && buf[0] == '#' && buf[1] == '!')
		return COMMAND_SCRIPT;
	return COMMAND_OTHER;
}

int command_kind(const char *path, struct cerr *err)
{
	char buf[SELFMAG];
	int n = read_head(path, buf, sizeof buf, err);
	return n < 0 ? n : (int)kind_of(buf, n);
}

static int spacetab(char c)
{
	return c == ' ' || c == '\t';
}

/* The kernel's helpers (fs/binfmt_script.c): first..last inclusive. */
static char *next_non_spacetab(char *first, const char *last)
{
	for (; first <= last; first++)
		if (!spacetab(*first))
			return first;
	return NULL;
}

static char *next_terminator(char *first, const char *last)
{
	for (; first <= last; first++)
		if (spacetab(*first) || !*first)
			return first;
	return NULL;
}

int command_parse_shebang(char *buf, size_t len, char **interp, char **arg)
{
	if (len > COMMAND_SHEBANG_MAX)
		len = COMMAND_SHEBANG_MAX;
	if (len < 2 || buf[0] != '#' || buf[1] != '!')
		return COMPAT_EINVAL;
	memset(buf + len, 0, COMMAND_SHEBANG_MAX - len);	/* as the kernel's zeroed buffer */
	char *buf_end = buf + COMMAND_SHEBANG_MAX - 1, *i_end = NULL;
	for (char *p = buf; p < buf + COMMAND_SHEBANG_MAX && *p; p++)
		if (*p == '\n') {
			i_end = p;
			break;
		}
	if (!i_end) {
		/* No end of line: the interpreter's name must end within the
		 * bytes read, or it may have been cut. */
		if (!(i_end = next_non_spacetab(buf + 2, buf_end)) || !next_terminator(i_end, buf_end))
			return COMPAT_EINVAL;
		i_end = buf_end;
	}
	while (spacetab(i_end[-1]))
		i_end--;
	char *i_name = next_non_spacetab(buf + 2, i_end);
	if (!i_name || i_name == i_end)
		return COMPAT_EINVAL;
	char *i_sep = next_terminator(i_name, i_end), *i_arg = NULL;
	if (i_sep && *i_sep)
		i_arg = next_non_spacetab(i_sep, i_end);
	*i_end = '\0';
	if (i_sep)
		*i_sep = '\0';
	*interp = i_name;
	*arg = i_arg && *i_arg ? i_arg : NULL;
	return 0;
}

int command_find(const char *cmd, const char *path_env, char **found, struct cerr *err)
{
	struct stat st;
	*found = NULL;
	if (!*cmd)
		return fail(err, COMPAT_ENOTFOUND, ENOENT, "'%s': command not found", cmd);
	if (strchr(cmd, '/')) {
		if (stat(cmd, &st) < 0)
			return errno == EACCES ? fail(err, COMPAT_EPERM, EACCES, "%s: Permission denied", cmd)
					       : fail(err, COMPAT_ENOTFOUND, ENOENT, "%s: No such file or directory", cmd);
		if (S_ISDIR(st.st_mode))
			return fail(err, COMPAT_EPERM, EACCES, "%s: Is a directory", cmd);
		if (!S_ISREG(st.st_mode) || access(cmd, X_OK) < 0)
			return fail(err, COMPAT_EPERM, EACCES, "%s: Permission denied", cmd);
		if (!(*found = strdup(cmd)))
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		return 0;
	}
	const char *p = path_env ? path_env : DEFAULT_PATH;
	int denied = 0;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *cand;
		/* as execvp: an empty entry is the current directory */
		if (asprintf(&cand, "%.*s/%s", len ? (int)len : 1, len ? p : ".", cmd) < 0)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		if (stat(cand, &st) == 0) {
			if (S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
				*found = cand;
				return 0;
			}
			denied = 1;
		} else if (errno == EACCES) {
			denied = 1;
		}
		free(cand);
		if (!end)
			break;
		p = end + 1;
	}
	return denied ? fail(err, COMPAT_EPERM, EACCES, "%s: Permission denied (found in PATH, not executable)", cmd)
		      : fail(err, COMPAT_ENOTFOUND, ENOENT, "%s: command not found", cmd);
}

/* "#!/usr/bin/env ARG": the command env runs. Without -S the whole ARG is
 * one name (env gets it as one argument); with -S it is split at spaces,
 * and assignments, -i and -u NAME before the command are passed over.
 * Returns the name (into words), or NULL: not a form followed here. */
static const char *env_command(char *arg)
{
	if (strncmp(arg, "-S", 2) != 0)
		return arg[0] == '-' || strchr(arg, '=') ? NULL : arg;
	char *save, *w = strtok_r(arg + 2, " \t", &save);
	for (; w; w = strtok_r(NULL, " \t", &save)) {
		if (strpbrk(w, "\"'\\$#"))
			return NULL;	/* env -S quoting and expansion */
		if (!strcmp(w, "-i") || !strcmp(w, "-") || !strcmp(w, "--ignore-environment") ||
		    !strncmp(w, "--unset=", 8) || (!strncmp(w, "-u", 2) && w[2]))
			continue;
		if (!strcmp(w, "-u")) {
			if (!strtok_r(NULL, " \t", &save))
				return NULL;
			continue;
		}
		if (w[0] == '-')
			return NULL;
		if (strchr(w, '='))
			continue;
		return w;
	}
	return NULL;
}

int command_program(const char *path, const char *path_env, char **program, unsigned *depth,
		    struct cerr *err)
{
	char buf[COMMAND_SHEBANG_MAX];
	char *cur = strdup(path);
	unsigned d = 0;
	int rc;
	*program = NULL;
	if (!cur)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	for (;;) {
		/* path itself may be unexecutable (check PATH judges a file
		 * it is handed); every interpreter must be executable. */
		if (d > 0 && access(cur, X_OK) < 0 && errno != ENOENT && errno != ENOTDIR) {
			rc = fail(err, COMPAT_EPERM, EACCES, "%s: Permission denied (the interpreter is not executable)",
				  cur);
			goto out;
		}
		int n = read_head(cur, buf, sizeof buf, err);
		if (n < 0) {
			rc = n;
			goto out;
		}
		enum command_kind k = kind_of(buf, n);
		if (k == COMMAND_ELF)
			break;
		if (k == COMMAND_OTHER) {
			rc = fail(err, COMPAT_EINVAL, ENOEXEC, "%s: neither an ELF file nor a '#!' script (Exec format error)",
				  cur);
			goto out;
		}
		char *interp, *arg;
		if (command_parse_shebang(buf, (size_t)n, &interp, &arg) < 0) {
			rc = fail(err, COMPAT_EINVAL, ENOEXEC, "%s: its '#!' line names no interpreter (Exec format error)",
				  cur);
			goto out;
		}
		if (++d > COMMAND_MAX_DEPTH) {
			rc = fail(err, COMPAT_EINVAL, ELOOP, "%s: more than %d '#!' interpreters in a row", path, COMMAND_MAX_DEPTH);
			goto out;
		}
		const char *slash = strrchr(interp, '/');
		char *next = NULL;
		if (!strcmp(slash ? slash + 1 : interp, "env")) {
			/* env's own file must be there for it to run at all */
			if (access(interp, X_OK) < 0) {
				rc = errno == ENOENT || errno == ENOTDIR
					     ? fail(err, COMPAT_ENOTFOUND, ENOENT, "%s: its interpreter %s: No such file or directory", cur, interp)
					     : fail(err, COMPAT_EPERM, EACCES, "%s: its interpreter %s: Permission denied", cur, interp);
				goto out;
			}
			const char *name = arg ? env_command(arg) : NULL;
			if (!name) {
				rc = fail(err, COMPAT_EINVAL, 0, "%s: '#!%s' is not followed (env without a command, or with options other than -S, -i, -u)",
					  cur, interp);
				goto out;
			}
			if ((rc = command_find(name, path_env, &next, err)) < 0)
				goto out;
		} else {
			struct stat st;
			if (stat(interp, &st) < 0 && (errno == ENOENT || errno == ENOTDIR)) {
				rc = fail(err, COMPAT_ENOTFOUND, ENOENT, "%s: its interpreter %s: No such file or directory", cur,
					  interp);
				goto out;
			}
			if (!(next = strdup(interp))) {
				rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
				goto out;
			}
		}
		free(cur);
		cur = next;
	}
	*program = cur;
	cur = NULL;
	rc = 0;
out:
	free(cur);
	if (depth)
		*depth = d;
	return rc;
}
