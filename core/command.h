/* What runs when a command is executed, without executing it: execvp's
 * search of PATH, the kernel's reading of a "#!" line (fs/binfmt_script.c)
 * and env's lookup of the NAME in "#!/usr/bin/env NAME". check --exec
 * judges the ELF file found here, then execs the command as the kernel
 * would; libcache picks the ABI of a cache the same way.
 *
 * Every error fills err->sys_errno with the errno execve (or env) would
 * have given, so that an applet can answer as a shell does: ENOENT is 127
 * ("command not found"), EACCES, ENOEXEC and ELOOP are 126 ("cannot
 * execute"). sys_errno 0 means something this model does not follow. */
#ifndef COMPAT_COMMAND_H
#define COMPAT_COMMAND_H

#include <stddef.h>

#include "err.h"

/* The kernel reads this many bytes of a file for its "#!" line. */
#define COMMAND_SHEBANG_MAX 256
/* Interpreters that are scripts themselves, followed this deep (the
 * kernel stops with ELOOP a little further). */
#define COMMAND_MAX_DEPTH 4

enum command_kind {
	COMMAND_ELF = 1,	/* starts with the ELF magic */
	COMMAND_SCRIPT,		/* starts with "#!" */
	COMMAND_OTHER,		/* neither: execve says ENOEXEC */
};

/* What kind of file path is, from its first bytes. Only a regular file
 * is read: a directory, FIFO or device is COMPAT_EPERM with sys_errno
 * EACCES, as execve answers (a FIFO is opened without blocking and not
 * read). Returns a command_kind; COMPAT_ENOTFOUND (ENOENT); COMPAT_EPERM
 * (EACCES); COMPAT_EIO (unreadable). */
int command_kind(const char *path, struct cerr *err);

/* cmd as execvp finds it: cmd itself when it holds a '/', else the first
 * entry of path_env (NULL: "/bin:/usr/bin", glibc's default; an empty
 * entry is the current directory) with an executable regular file of that
 * name; a directory or a file without execute permission on the way is
 * passed over, and is the answer's errno when nothing else is found.
 * *found is malloc'd (caller frees). Returns 0; COMPAT_ENOTFOUND (ENOENT);
 * COMPAT_EPERM (EACCES: not executable, or a directory); COMPAT_ENOMEM. */
int command_find(const char *cmd, const char *path_env, char **found, struct cerr *err);

/* The ELF file that runs when path is executed: path itself when it is an
 * ELF file; for a script, the interpreter of its "#!" line, followed
 * through "/usr/bin/env [-S] NAME" (NAME found as env finds it: in
 * path_env) and through interpreters that are scripts themselves.
 * *program is malloc'd (caller frees); *depth (may be NULL) is the number
 * of "#!" lines followed, 0 when path is the ELF file.
 * Returns 0; COMPAT_EINVAL (sys_errno ENOEXEC: neither ELF nor "#!", or a
 * "#!" line without an interpreter; ELOOP: deeper than COMMAND_MAX_DEPTH;
 * 0: an env option this model does not follow); COMPAT_ENOTFOUND
 * (ENOENT: path, an interpreter or env's NAME does not exist);
 * COMPAT_EPERM (EACCES: an interpreter that is not an executable regular
 * file); COMPAT_EIO; COMPAT_ENOMEM. path itself need not be executable. */
int command_program(const char *path, const char *path_env, char **program, unsigned *depth,
		    struct cerr *err);

/* Parse the first len bytes of a file as the kernel parses a "#!" line
 * (only the first COMMAND_SHEBANG_MAX count): the interpreter is the first
 * word after "#!" (spaces and tabs skipped), the rest of the line, trimmed,
 * is one optional argument. buf is modified in place (NUL-terminated
 * words); *interp and *arg point into it, *arg NULL when there is none.
 * A NUL ends the line and the words: "#!" then NUL gives an empty
 * interpreter, as the kernel reads it (no file opens by that name).
 * Returns 0, or COMPAT_EINVAL when buf is not a "#!" line, names no
 * interpreter, or its interpreter does not end within the bytes read. */
int command_parse_shebang(char *buf, size_t len, char **interp, char **arg);

#endif
