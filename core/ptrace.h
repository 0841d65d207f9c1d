/* Run a program under ptrace and report the file-system lookups that decide
 * which libraries it loads (DESIGN §7).
 *
 * The child installs a seccomp-bpf filter before it execs the program. The
 * filter returns SECCOMP_RET_TRACE for the traced syscalls only and
 * SECCOMP_RET_ALLOW for everything else, so untraced syscalls never stop the
 * program. A traced syscall stops it twice: at the seccomp stop (the path is
 * read and resolved then, before the syscall can change it) and at its exit
 * (PTRACE_SYSCALL, to learn the result); both read PTRACE_GET_SYSCALL_INFO
 * (Linux >= 5.3).
 *
 * Traced syscalls (x86_64): open, openat, openat2, execve, execveat, stat,
 * lstat, newfstatat, statx, access, faccessat, faccessat2. newfstatat and
 * statx calls with AT_EMPTY_PATH in their flags are let through by the
 * filter: glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH) and names no
 * path. Syscalls of other ABIs (i386 through int 0x80, x32) are allowed
 * untraced: the filter checks arch == AUDIT_ARCH_X86_64 and the x32 bit.
 *
 * The child sets PR_SET_NO_NEW_PRIVS (required for an unprivileged filter),
 * so set-user-ID programs run without their privileges, as under any tracer.
 * Loader-only mode (opts.loader_only): the child's filter traces execve
 * and execveat only; at the exit of each successful exec the tracer makes
 * the process install a second filter (an injected seccomp() syscall) that
 * traces the other syscalls only when they come from the loader's code,
 * i.e. an instruction pointer inside the executable mapping of ld.so,
 * whose address is known only after the exec. Library searches (program
 * start and dlopen, both done by ld.so's own code) are then recorded while
 * the program's own opens and stats run untraced. Filters cannot be
 * removed, so each exec adds one (a filter of an earlier image is ignored
 * by the tracer when it fires outside the current loader); a static
 * program, a loader mapping that straddles a 4 GiB boundary or a signal
 * arriving during the injection leave the process with execs only traced.
 *
 * Forks, vforks, threads and execs are followed (PTRACE_O_TRACEFORK, VFORK,
 * CLONE, EXEC); PTRACE_O_EXITKILL kills the tracees if the tracer dies.
 * Signals are passed on to the tracee. Limitation: a stop signal (SIGTSTP,
 * SIGSTOP) does not keep a traced process stopped (group-stop under
 * PTRACE_TRACEME cannot be held without PTRACE_LISTEN). */
#ifndef COMPAT_PTRACE_H
#define COMPAT_PTRACE_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum ptrace_kind {
	PTRACE_KIND_OPEN = 1,	/* open, openat, openat2 */
	PTRACE_KIND_EXEC,	/* execve, execveat */
	PTRACE_KIND_STAT,	/* stat family and access family */
};

struct ptrace_event {
	uint64_t t_ns;		/* entry, nanoseconds since the trace started */
	uint64_t unix_ns;	/* entry, CLOCK_REALTIME nanoseconds */
	uint64_t dur_ns;	/* entry to exit */
	pid_t tid;		/* the thread that made the call */
	pid_t pid;		/* its process (thread group) */
	const char *comm;	/* the task's name (/proc/TID/comm) */
	const char *syscall;	/* "openat", ... (static) */
	enum ptrace_kind kind;
	const char *path;	/* resolved against dirfd and cwd */
	long result;		/* fd, 0, or -errno */
};

/* Called for each completed traced syscall; everything in *ev is borrowed
 * for the call only. A negative return stops the trace (the tracees are
 * killed) and becomes ptrace_run's return value. */
typedef int (*ptrace_event_fn)(void *ctx, const struct ptrace_event *ev);

struct ptrace_opts {
	char *const *argv;	/* program and arguments; argv[0] is looked up in PATH */
	char *const *envp;	/* environment, or NULL for the caller's */
	ptrace_event_fn on_event;
	void *ctx;
	int loader_only;	/* trace only the dynamic loader's lookups (below) */
	int ignore_interrupts;	/* ignore SIGINT and SIGQUIT in the caller while
				 * tracing (the program keeps the dispositions
				 * the caller had), restored afterwards */
};

struct ptrace_result {
	int status;		/* wait status of the program (the first process) */
	uint64_t start_unix_ns;	/* CLOCK_REALTIME when the trace started */
	uint64_t events;	/* events reported */
	uint64_t entry_ns;	/* when the program (the first process, in its last
				 * image) reached its entry point (AT_ENTRY, after
				 * ld.so has loaded and initialised the libraries,
				 * just before main), ns since the start; 0 if never */
	uint64_t exit_ns;	/* when the first process exited, ns since the start */
};

/* Run argv under the tracer until every traced process has exited. The
 * program keeps the caller's stdin/stdout/stderr and process group, so
 * Ctrl-C reaches it (see ignore_interrupts). Returns 0 (res filled; the program may still have failed,
 * see res->status: exit 127 when it could not be executed, with err filled
 * and COMPAT_ENOTFOUND returned instead); COMPAT_EPERM when ptrace or
 * seccomp is not permitted here (err names yama's ptrace_scope, a
 * container's seccomp profile and CAP_SYS_PTRACE); COMPAT_EIO when fork or
 * waitpid fails; COMPAT_ENOMEM; or the callback's negative code. */
int ptrace_run(const struct ptrace_opts *o, struct ptrace_result *res, struct cerr *err);

/* Exit status a shell would give for a wait status: the exit code, or
 * 128 + signal number. */
int ptrace_exit_code(int status);

#endif
