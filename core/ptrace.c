/* The tracer: seccomp-bpf in the child, ptrace stops only for traced
 * syscalls (see ptrace.h).
 *
 * Stop handling. With PTRACE_O_TRACESECCOMP, a SECCOMP_RET_TRACE syscall
 * stops with SIGTRAP | PTRACE_EVENT_SECCOMP << 8 before it runs; there the
 * path argument is read and resolved (the dirfd and cwd are still the ones
 * the syscall will use). Restarting with PTRACE_SYSCALL gives one more stop,
 * at the syscall's exit (Linux >= 4.8 skips the entry stop after a seccomp
 * stop), reported as SIGTRAP | 0x80 thanks to PTRACE_O_TRACESYSGOOD; then
 * PTRACE_CONT lets the task run free again. A successful execve reports
 * PTRACE_EVENT_EXEC between the two, under the thread-group leader's id
 * (PTRACE_GETEVENTMSG gives the id of the thread that called it).
 *
 * New tasks (fork, vfork, clone) start with a SIGSTOP that may reach us
 * before or after their parent's PTRACE_EVENT_*; a task we have not seen
 * yet is "fresh" and its first SIGSTOP is swallowed. Any other stop is a
 * signal for the tracee: passed on, except group-stops (PTRACE_GETSIGINFO
 * fails), which are resumed with no signal. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "parse.h"
#include "ptrace.h"

#define PATH_BUF (PATH_MAX * 2)
#define X32_SYSCALL_BIT 0x40000000u

struct traced_syscall {
	int nr;
	const char *name;
	enum ptrace_kind kind;
	int dirfd_arg;		/* -1: relative to the cwd */
	int path_arg;
	int empty_path_flags_arg;	/* -1, or the arg whose AT_EMPTY_PATH skips the stop */
};

static const struct traced_syscall traced_x86_64[] = {
	{ SYS_open, "open", PTRACE_KIND_OPEN, -1, 0, -1 },
	{ SYS_openat, "openat", PTRACE_KIND_OPEN, 0, 1, -1 },
	{ SYS_openat2, "openat2", PTRACE_KIND_OPEN, 0, 1, -1 },
	{ SYS_execve, "execve", PTRACE_KIND_EXEC, -1, 0, -1 },
	{ SYS_execveat, "execveat", PTRACE_KIND_EXEC, 0, 1, -1 },
	{ SYS_stat, "stat", PTRACE_KIND_STAT, -1, 0, -1 },
	{ SYS_lstat, "lstat", PTRACE_KIND_STAT, -1, 0, -1 },
	{ SYS_newfstatat, "newfstatat", PTRACE_KIND_STAT, 0, 1, 3 },
	{ SYS_statx, "statx", PTRACE_KIND_STAT, 0, 1, 2 },
	{ SYS_access, "access", PTRACE_KIND_STAT, -1, 0, -1 },
	{ SYS_faccessat, "faccessat", PTRACE_KIND_STAT, 0, 1, -1 },
	{ SYS_faccessat2, "faccessat2", PTRACE_KIND_STAT, 0, 1, -1 },
};

/* i386 programs (int 0x80 or sysenter: arch AUDIT_ARCH_I386), numbers from
 * asm/unistd_32.h. stat/lstat are the old 32-bit-inode calls; glibc uses
 * the *64 ones and statx. */
static const struct traced_syscall traced_i386[] = {
	{ 5, "open", PTRACE_KIND_OPEN, -1, 0, -1 },
	{ 295, "openat", PTRACE_KIND_OPEN, 0, 1, -1 },
	{ 437, "openat2", PTRACE_KIND_OPEN, 0, 1, -1 },
	{ 11, "execve", PTRACE_KIND_EXEC, -1, 0, -1 },
	{ 358, "execveat", PTRACE_KIND_EXEC, 0, 1, -1 },
	{ 106, "stat", PTRACE_KIND_STAT, -1, 0, -1 },
	{ 107, "lstat", PTRACE_KIND_STAT, -1, 0, -1 },
	{ 195, "stat64", PTRACE_KIND_STAT, -1, 0, -1 },
	{ 196, "lstat64", PTRACE_KIND_STAT, -1, 0, -1 },
	{ 300, "fstatat64", PTRACE_KIND_STAT, 0, 1, 3 },
	{ 383, "statx", PTRACE_KIND_STAT, 0, 1, 2 },
	{ 33, "access", PTRACE_KIND_STAT, -1, 0, -1 },
	{ 307, "faccessat", PTRACE_KIND_STAT, 0, 1, -1 },
	{ 439, "faccessat2", PTRACE_KIND_STAT, 0, 1, -1 },
};

struct traced_abi {
	uint32_t arch;		/* AUDIT_ARCH_* */
	const struct traced_syscall *calls;
	size_t n;
};

static const struct traced_abi abi_x86_64 = { AUDIT_ARCH_X86_64, traced_x86_64,
					       sizeof traced_x86_64 / sizeof traced_x86_64[0] };
static const struct traced_abi abi_i386 = { AUDIT_ARCH_I386, traced_i386,
					     sizeof traced_i386 / sizeof traced_i386[0] };

struct task {
	pid_t tid, pid;		/* pid (thread group) is 0 until read */
	int fresh;		/* its first SIGSTOP is still to come */
	int in_syscall;		/* stopped at a seccomp stop, exit stop pending */
	const struct traced_syscall *sc;
	uint64_t t_entry;
	char comm[17];
	char *path;		/* PATH_BUF bytes, resolved at entry */
	uint64_t loader_lo, loader_hi;	/* loader-only: the loader's text, 0 if unknown */
	int elf32;		/* its image is an i386 program */
	uint64_t entry;		/* main process: the breakpoint's address, 0 if none */
	unsigned char entry_byte;	/* the byte it replaced */
};

struct tracer {
	const struct ptrace_opts *o;
	struct task *tasks;
	size_t ntasks, cap, last;
	int64_t t0_ns;			/* clock_now_ns() at the start */
	uint64_t start_unix_ns;
	pid_t main_pid;
	int main_status, main_done;
	uint64_t events;
	uint64_t entry_ns, exit_ns;	/* see struct ptrace_result */
};

/* Child-to-parent report of a failed set-up step, through a CLOEXEC pipe. */
enum child_stage { STAGE_TRACEME = 1, STAGE_NNP, STAGE_SECCOMP, STAGE_EXEC };
struct child_report {
	int stage, err;
};

/* Jump targets while the filter is built, patched into offsets at the end. */
#define J_ALLOW 0xfe
#define J_TRACE 0xfd
#define J_MATCH 0xff	/* a traced syscall: TRACE, or the loader-only IP test */
#define FILTER_CAP 128

enum filter_mode {
	FILTER_ALL,		/* every traced syscall */
	FILTER_EXEC,		/* x86-64: execve, execveat only (loader-only, before
				 * exec); i386: all (no filter can be injected there) */
	FILTER_LOADER,		/* x86-64: the others, from instruction pointers in
				 * [lo, hi); i386: none */
};

/* The number tests of one ABI (nr is in the accumulator): a match jumps to
 * J_MATCH; falling through means "not traced". */
static size_t filter_calls(struct sock_filter *f, size_t n, size_t cap, const struct traced_abi *abi,
			   enum filter_mode mode)
{
	for (size_t i = 0; i < abi->n && n + 8 < cap; i++) {
		const struct traced_syscall *s = &abi->calls[i];
		if (abi == &abi_x86_64 && ((mode == FILTER_EXEC && s->kind != PTRACE_KIND_EXEC) ||
					   (mode == FILTER_LOADER && s->kind == PTRACE_KIND_EXEC)))
			continue;
		if (s->empty_path_flags_arg < 0) {
			f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)s->nr,
							      J_MATCH, 0);
			continue;
		}
		/* nr matches: load the flags' low word (little endian) and let
		 * AT_EMPTY_PATH calls (fstat) through; otherwise nr stays. */
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)s->nr, 0, 2);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			offsetof(struct seccomp_data, args) + 8 * (unsigned)s->empty_path_flags_arg);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, AT_EMPTY_PATH,
						      J_ALLOW, J_MATCH);
	}
	return n;
}

/* Build the filter into f (cap >= FILTER_CAP). For FILTER_LOADER, lo and
 * hi must share their upper 32 bits (checked by the caller). The syscall
 * number is tested before anything but the arch, so that for every
 * untraced number the result is a constant ALLOW that the kernel's seccomp
 * action cache (Linux >= 5.11) answers without running the filter.
 * Layout: arch x86-64 -> its section; arch i386 -> its section; anything
 * else (x32 numbers included) -> ALLOW. */
static size_t filter_build(struct sock_filter *f, size_t cap, enum filter_mode mode, uint64_t lo,
			   uint64_t hi)
{
	size_t n = 0, to_i386, to_allow[2];
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	to_i386 = n;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 0, 0, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, J_ALLOW, 0);
	n = filter_calls(f, n, cap, &abi_x86_64, mode);
	to_allow[0] = n;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 0, 0, 0);
	size_t i386 = n;	/* the accumulator still holds the arch here */
	if (mode != FILTER_LOADER) {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, J_ALLOW);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
		n = filter_calls(f, n, cap, &abi_i386, mode);
	}
	to_allow[1] = n;
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 0, 0, 0);
	size_t match = n;
	if (mode == FILTER_LOADER) {
		/* lo <= instruction pointer < hi; little endian: low word first */
		unsigned ip = offsetof(struct seccomp_data, instruction_pointer);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip + 4);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(lo >> 32), 0, J_ALLOW);
		f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)lo, 0, J_ALLOW);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)hi, J_ALLOW, J_TRACE);
	} else {
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA | BPF_K, 1, 0, 0);	/* to TRACE */
	}
	size_t allow = n, trace = n + 1;
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	f[to_i386].k = (uint32_t)(i386 - to_i386 - 1);
	for (int k = 0; k < 2; k++)
		f[to_allow[k]].k = (uint32_t)(allow - to_allow[k] - 1);
	for (size_t i = 0; i < allow; i++) {
		if (BPF_CLASS(f[i].code) != BPF_JMP || BPF_OP(f[i].code) == BPF_JA)
			continue;
		uint8_t *jumps[2] = { &f[i].jt, &f[i].jf };
		for (int k = 0; k < 2; k++) {
			size_t to = *jumps[k] == J_ALLOW ? allow : *jumps[k] == J_TRACE ? trace
				  : *jumps[k] == J_MATCH ? match : 0;
			if (to)
				*jumps[k] = (uint8_t)(to - i - 1);
		}
	}
	return n;
}

static void child_report(int fd, int stage, int e)
{
	struct child_report r = { stage, e };
	ssize_t w = write(fd, &r, sizeof r);
	(void)w;
	_exit(127);
}

/* In the forked child: only async-signal-safe calls until exec. */
static void child_run(const struct ptrace_opts *o, struct sock_fprog *prog, int fd)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		child_report(fd, STAGE_TRACEME, errno);
	raise(SIGSTOP);	/* the parent sets the options meanwhile */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_report(fd, STAGE_NNP, errno);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog) < 0)
		child_report(fd, STAGE_SECCOMP, errno);
	if (o->envp)
		execvpe(o->argv[0], o->argv, o->envp);
	else
		execvp(o->argv[0], o->argv);
	child_report(fd, STAGE_EXEC, errno);
}

static uint64_t now_ns(const struct tracer *t)
{
	return (uint64_t)(clock_now_ns() - t->t0_ns);
}

static struct task *task_find(struct tracer *t, pid_t tid)
{
	if (t->last < t->ntasks && t->tasks[t->last].tid == tid)
		return &t->tasks[t->last];
	for (size_t i = 0; i < t->ntasks; i++)
		if (t->tasks[i].tid == tid) {
			t->last = i;
			return &t->tasks[i];
		}
	return NULL;
}

/* The task for tid, added (fresh) when new; NULL when out of memory. */
static struct task *task_get(struct tracer *t, pid_t tid)
{
	struct task *k = task_find(t, tid);
	if (k)
		return k;
	if (t->ntasks == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct task *n = realloc(t->tasks, cap * sizeof *n);
		if (!n)
			return NULL;
		t->tasks = n;
		t->cap = cap;
	}
	k = &t->tasks[t->ntasks];
	memset(k, 0, sizeof *k);
	k->tid = tid;
	k->fresh = 1;
	t->last = t->ntasks++;
	return k;
}

static void task_remove(struct tracer *t, pid_t tid)
{
	struct task *k = task_find(t, tid);
	if (!k)
		return;
	free(k->path);
	*k = t->tasks[--t->ntasks];
	t->last = 0;
}

static void task_read_comm(struct task *k)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/comm", (int)k->tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, k->comm, sizeof k->comm - 1) : -1;
	if (fd >= 0)
		close(fd);
	k->comm[n > 0 ? n : 0] = 0;
	char *nl = strchr(k->comm, '\n');
	if (nl)
		*nl = 0;
}

static void task_read_pid(struct task *k)
{
	char p[64], buf[512];
	snprintf(p, sizeof p, "/proc/%d/status", (int)k->tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	k->pid = k->tid;
	if (n <= 0)
		return;
	buf[n] = 0;
	const char *s = strstr(buf, "\nTgid:");
	if (s)
		k->pid = (pid_t)strtol(s + 6, NULL, 10);
}

/* Read a NUL-terminated string from the tracee, page by page so that a
 * string ending just before an unmapped page is still read. */
static int tracee_read_string(pid_t tid, uint64_t addr, char *out, size_t cap)
{
	size_t got = 0;
	while (got + 1 < cap) {
		size_t page_left = 4096 - (size_t)((addr + got) & 4095);
		size_t want = cap - 1 - got < page_left ? cap - 1 - got : page_left;
		struct iovec local = { out + got, want };
		struct iovec remote = { (void *)(uintptr_t)(addr + got), want };
		ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
		if (n <= 0)
			return -1;
		char *z = memchr(out + got, 0, (size_t)n);
		if (z)
			return 0;
		got += (size_t)n;
	}
	out[cap - 1] = 0;
	return 0;
}

/* Resolve the syscall's path against its dirfd (or the cwd) into k->path. */
static void task_resolve_path(struct task *k, const uint64_t *args)
{
	const struct traced_syscall *s = k->sc;
	char *out = k->path, rel[PATH_MAX], link[64];
	if (tracee_read_string(k->tid, args[s->path_arg], rel, sizeof rel) < 0) {
		snprintf(out, PATH_BUF, "(unreadable)");
		return;
	}
	if (rel[0] == '/') {
		memcpy(out, rel, strlen(rel) + 1);
		return;
	}
	int dirfd = s->dirfd_arg < 0 ? AT_FDCWD : (int)args[s->dirfd_arg];
	if (dirfd == AT_FDCWD)
		snprintf(link, sizeof link, "/proc/%d/cwd", (int)k->tid);
	else
		snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)k->tid, dirfd);
	ssize_t n = readlink(link, out, PATH_MAX);
	if (n < 0) {
		snprintf(out, PATH_BUF, "%s", rel);
		return;
	}
	out[n] = 0;
	const char *r = rel;
	while (r[0] == '.' && r[1] == '/')
		r += 2;
	if (!strcmp(r, "."))
		r++;
	if (*r)
		snprintf(out + n, PATH_BUF - (size_t)n, "%s%s", n > 1 ? "/" : "", r);
}

static int tracer_resume(pid_t tid, int in_syscall, int sig, struct cerr *err)
{
	/* ESRCH: the task died meanwhile (killed, or its process exec'd);
	 * waitpid reports it. */
	if (ptrace(in_syscall ? PTRACE_SYSCALL : PTRACE_CONT, tid, NULL, (void *)(long)sig) < 0 &&
	    errno != ESRCH)
		return cerr_sys(err, COMPAT_EIO, "ptrace: resuming task %d", (int)tid);
	return 0;
}

/* Loader-only mode. The loader's executable mapping(s) in the freshly
 * exec'd image: executable, file-backed, not the program itself. At this
 * point (the execve's exit) nothing else is mapped but the vdso. */
static int task_find_loader(pid_t tid, uint64_t *lo, uint64_t *hi)
{
	char p[64], exe[PATH_MAX], line[PATH_MAX + 128];
	snprintf(p, sizeof p, "/proc/%d/exe", (int)tid);
	ssize_t n = readlink(p, exe, sizeof exe - 1);
	if (n < 0)
		return -1;
	exe[n] = 0;
	snprintf(p, sizeof p, "/proc/%d/maps", (int)tid);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	*lo = UINT64_MAX;
	*hi = 0;
	while (fgets(line, sizeof line, f)) {
		/* "lo-hi perms offset dev inode   path" */
		const char *q;
		int ok1, ok2 = 0;
		uint64_t a = parse_hex(line, &q, &ok1), b = ok1 && *q == '-' ? parse_hex(q + 1, &q, &ok2) : 0;
		if (!ok1 || !ok2 || *q != ' ' || strlen(q) < 6)
			continue;
		const char *perms = q + 1;
		q += 5;
		for (int field = 0; field < 3 && *q; field++) {
			q += strspn(q, " ");
			q += strcspn(q, " \n");
		}
		char *path = line + (q - line) + strspn(q, " "), *nl = strchr(path, '\n');
		if (nl)
			*nl = 0;
		if (perms[2] != 'x' || path[0] != '/' || !strcmp(path, exe))
			continue;
		*lo = a < *lo ? a : *lo;
		*hi = b > *hi ? b : *hi;
	}
	fclose(f);
	return *hi ? 0 : -1;	/* a static program has no loader */
}

/* Address of a syscall instruction (0f 05) in [lo, hi) of the tracee. */
static uint64_t tracee_find_syscall_insn(pid_t tid, uint64_t lo, uint64_t hi)
{
	char p[64];
	unsigned char buf[65536];
	snprintf(p, sizeof p, "/proc/%d/mem", (int)tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	uint64_t found = 0;
	for (uint64_t a = lo; fd >= 0 && !found && a < hi; a += sizeof buf - 1) {
		size_t want = hi - a < sizeof buf ? (size_t)(hi - a) : sizeof buf;
		ssize_t n = pread(fd, buf, want, (off_t)a);
		for (ssize_t i = 0; i + 1 < n && !found; i++)
			if (buf[i] == 0x0f && buf[i + 1] == 0x05)
				found = a + (uint64_t)i;
		if (n <= 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	return found;
}

/* Make the tracee install the FILTER_LOADER filter for its loader: at the
 * exit stop of its execve, point it at a syscall instruction with
 * seccomp(SECCOMP_SET_MODE_FILTER) set up in its registers and the filter
 * written below its stack pointer (the stack's VMA reaches 128 KiB below
 * the initial stack), run that one syscall, restore the registers.
 * Returns 0; -1 when the process stays with the exec-only filter
 * (static program, no syscall instruction, a signal came in between:
 * *sig then holds it for delivery); -2 when the task died meanwhile (its
 * wait status is in *gone_status; k must not be resumed). */
static int task_inject_filter(struct task *k, int *sig, int *gone_status)
{
	struct user_regs_struct saved, r;
	struct sock_filter f[FILTER_CAP];
	uint64_t lo, hi, insn;
	int st;

	*sig = 0;
	k->loader_lo = k->loader_hi = 0;
	if (task_find_loader(k->tid, &lo, &hi) < 0 || (lo >> 32) != ((hi - 1) >> 32) ||
	    (hi >> 32) != (lo >> 32) || !(insn = tracee_find_syscall_insn(k->tid, lo, hi)))
		return -1;
	size_t n = filter_build(f, sizeof f / sizeof f[0], FILTER_LOADER, lo, hi);
	if (ptrace(PTRACE_GETREGS, k->tid, NULL, &saved) < 0)
		return -1;
	uint64_t addr = (saved.rsp - 16384) & ~(uint64_t)15;
	struct { uint64_t len, filter; } prog = { n, addr + 16 };
	struct iovec local[2] = { { &prog, sizeof prog }, { f, n * sizeof f[0] } };
	struct iovec remote = { (void *)(uintptr_t)addr, sizeof prog + n * sizeof f[0] };
	if (process_vm_writev(k->tid, local, 2, &remote, 1, 0) != (ssize_t)remote.iov_len)
		return -1;
	r = saved;
	r.rax = SYS_seccomp;
	r.orig_rax = (uint64_t)-1;
	r.rdi = SECCOMP_SET_MODE_FILTER;
	r.rsi = 0;
	r.rdx = addr;
	r.rip = insn;
	if (ptrace(PTRACE_SETREGS, k->tid, NULL, &r) < 0)
		return -1;
	/* entry stop, then exit stop of the injected call */
	for (int stop = 0; stop < 2; stop++) {
		if (ptrace(PTRACE_SYSCALL, k->tid, NULL, NULL) < 0)
			return -1;
		while (waitpid(k->tid, &st, __WALL) < 0)
			if (errno != EINTR)
				return -1;
		if (!WIFSTOPPED(st)) {
			*gone_status = st;	/* killed meanwhile */
			return -2;
		}
		if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
			if (stop == 0)
				*sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
			ptrace(PTRACE_SETREGS, k->tid, NULL, &saved);
			return -1;
		}
	}
	int ok = ptrace(PTRACE_GETREGS, k->tid, NULL, &r) == 0 && r.rax == 0;
	if (ptrace(PTRACE_SETREGS, k->tid, NULL, &saved) < 0)
		return -1;
	if (!ok)
		return -1;
	k->loader_lo = lo;
	k->loader_hi = hi;
	return 0;
}

/* The ELF class of the task's new image: 1 when it is 32-bit. */
static int task_read_elf32(pid_t tid)
{
	char p[64];
	unsigned char ident[EI_NIDENT];
	snprintf(p, sizeof p, "/proc/%d/exe", (int)tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, ident, sizeof ident) : -1;
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)sizeof ident && !memcmp(ident, ELFMAG, SELFMAG) && ident[EI_CLASS] == ELFCLASS32;
}

/* AT_ENTRY of the task's image (auxv words of its class), or 0. */
static uint64_t task_read_entry(pid_t tid, int elf32)
{
	char p[64];
	unsigned char buf[4096];
	snprintf(p, sizeof p, "/proc/%d/auxv", (int)tid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
	if (fd >= 0)
		close(fd);
	size_t w = elf32 ? 4 : 8;
	for (size_t at = 0; n > 0 && at + 2 * w <= (size_t)n; at += 2 * w) {
		uint64_t type = 0, val = 0;
		memcpy(&type, buf + at, w);	/* little endian */
		memcpy(&val, buf + at + w, w);
		if (type == AT_NULL)
			break;
		if (type == AT_ENTRY)
			return val;
	}
	return 0;
}

static int tracee_mem_byte(pid_t tid, uint64_t addr, unsigned char *old, unsigned char new)
{
	char p[64];
	snprintf(p, sizeof p, "/proc/%d/mem", (int)tid);
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = (old && pread(fd, old, 1, (off_t)addr) != 1) || pwrite(fd, &new, 1, (off_t)addr) != 1 ? -1 : 0;
	close(fd);
	return rc;
}

/* The main process has just exec'd: put a breakpoint (int3) on its entry
 * point, so that the time it takes to get there (ld.so's work: loading
 * and initialising every library) is known. Not fatal when it fails. */
static void task_arm_entry(struct task *k)
{
	k->entry = 0;
	uint64_t entry = task_read_entry(k->tid, k->elf32);
	if (entry && tracee_mem_byte(k->tid, entry, &k->entry_byte, 0xcc) == 0)
		k->entry = entry;
}

/* A SIGTRAP stop: 1 when it was the entry breakpoint (the byte and the
 * instruction pointer are put back, the time noted), else 0. */
static int task_hit_entry(struct tracer *t, struct task *k)
{
	struct user_regs_struct r;
	if (!k->entry || ptrace(PTRACE_GETREGS, k->tid, NULL, &r) < 0 || r.rip != k->entry + 1)
		return 0;
	t->entry_ns = now_ns(t);
	r.rip = k->entry;
	tracee_mem_byte(k->tid, k->entry, NULL, k->entry_byte);
	ptrace(PTRACE_SETREGS, k->tid, NULL, &r);
	k->entry = 0;
	return 1;
}

static int on_seccomp_stop(struct tracer *t, struct task *k, struct cerr *err)
{
	struct __ptrace_syscall_info si;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, k->tid, (void *)sizeof si, &si) < 0) {
		if (errno == ESRCH)
			return 0;
		return cerr_sys(err, COMPAT_EIO, "PTRACE_GET_SYSCALL_INFO (needs Linux 5.3 or later)");
	}
	const struct traced_abi *abi = si.arch == AUDIT_ARCH_X86_64 ? &abi_x86_64
				     : si.arch == AUDIT_ARCH_I386 ? &abi_i386 : NULL;
	k->sc = NULL;
	for (size_t i = 0; abi && i < abi->n; i++)
		if ((uint64_t)abi->calls[i].nr == si.seccomp.nr)
			k->sc = &abi->calls[i];
	if (!k->sc || si.op != PTRACE_SYSCALL_INFO_SECCOMP)
		return tracer_resume(k->tid, 0, 0, err);
	/* Loader-only: a filter left from an earlier image of this process
	 * may match code that is no loader now. */
	if (t->o->loader_only && k->sc->kind != PTRACE_KIND_EXEC && k->loader_hi &&
	    (si.instruction_pointer < k->loader_lo || si.instruction_pointer >= k->loader_hi))
		return tracer_resume(k->tid, 0, 0, err);
	if (!k->path && !(k->path = malloc(PATH_BUF)))
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	k->t_entry = now_ns(t);
	task_resolve_path(k, si.seccomp.args);
	k->in_syscall = 1;
	return tracer_resume(k->tid, 1, 0, err);
}

static int on_syscall_exit(struct tracer *t, struct task *k, struct cerr *err)
{
	struct __ptrace_syscall_info si;
	int rc = 0;
	if (!k->in_syscall || !k->sc)
		return tracer_resume(k->tid, 0, 0, err);
	k->in_syscall = 0;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, k->tid, (void *)sizeof si, &si) < 0)
		return errno == ESRCH ? 0 : cerr_sys(err, COMPAT_EIO, "PTRACE_GET_SYSCALL_INFO");
	if (si.op == PTRACE_SYSCALL_INFO_EXIT) {
		if (!k->pid)
			task_read_pid(k);
		if (!k->comm[0])
			task_read_comm(k);
		struct ptrace_event ev = {
			.t_ns = k->t_entry,
			.unix_ns = t->start_unix_ns + k->t_entry,
			.dur_ns = now_ns(t) - k->t_entry,
			.tid = k->tid,
			.pid = k->pid,
			.comm = k->comm,
			.syscall = k->sc->name,
			.kind = k->sc->kind,
			.path = k->path,
			.result = (long)si.exit.rval,
		};
		t->events++;
		if (t->o->on_event && (rc = t->o->on_event(t->o->ctx, &ev)) < 0)
			return rc;
		/* An i386 image gets no injected filter: the first one
		 * traces all of its lookups (FILTER_EXEC). */
		if (t->o->loader_only && k->sc->kind == PTRACE_KIND_EXEC && si.exit.rval == 0 && !k->elf32) {
			int sig = 0, gone = 0;
			if (task_inject_filter(k, &sig, &gone) == -2) {
				/* its exit was reaped here, not by the loop */
				if (k->tid == t->main_pid && !t->main_done) {
					t->main_status = gone;
					t->main_done = 1;
					t->exit_ns = now_ns(t);
				}
				task_remove(t, k->tid);
				return 0;
			}
			return tracer_resume(k->tid, 0, sig, err);
		}
	}
	return tracer_resume(k->tid, 0, 0, err);
}

static int on_exec(struct tracer *t, struct task *k, struct cerr *err)
{
	unsigned long former = 0;
	if (ptrace(PTRACE_GETEVENTMSG, k->tid, NULL, &former) == 0 && (pid_t)former != k->tid) {
		/* A non-leader thread exec'd: it now has the leader's id and
		 * carries the pending syscall. */
		struct task *f = task_find(t, (pid_t)former);
		if (f) {
			pid_t tid = k->tid;
			k = task_find(t, tid);
			free(k->path);
			k->path = f->path;
			k->sc = f->sc;
			k->t_entry = f->t_entry;
			k->in_syscall = f->in_syscall;
			f->path = NULL;
			task_remove(t, (pid_t)former);
			k = task_find(t, tid);
		}
	}
	k->fresh = 0;
	k->pid = k->tid;
	task_read_comm(k);
	k->elf32 = task_read_elf32(k->tid);
	k->loader_lo = k->loader_hi = 0;
	if (k->tid == t->main_pid)
		task_arm_entry(k);
	return tracer_resume(k->tid, k->in_syscall, 0, err);
}

static int on_signal_stop(struct task *k, int sig, struct cerr *err)
{
	siginfo_t si;
	if (sig == SIGSTOP && k->fresh) {
		k->fresh = 0;
		return tracer_resume(k->tid, 0, 0, err);
	}
	k->fresh = 0;
	if (ptrace(PTRACE_GETSIGINFO, k->tid, NULL, &si) < 0)
		sig = 0;	/* group-stop: see the header's limitation */
	return tracer_resume(k->tid, k->in_syscall, sig, err);
}

static int tracer_loop(struct tracer *t, struct cerr *err)
{
	for (;;) {
		int st, rc = 0;
		pid_t tid = waitpid(-1, &st, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return 0;
			return cerr_sys(err, COMPAT_EIO, "waitpid");
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (tid == t->main_pid && !t->main_done) {
				t->main_status = st;
				t->main_done = 1;
				t->exit_ns = now_ns(t);
			}
			task_remove(t, tid);
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		struct task *k = task_get(t, tid);
		if (!k)
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		int sig = WSTOPSIG(st), event = st >> 16;
		if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
			k->fresh = 0;
			rc = on_seccomp_stop(t, k, err);
		} else if (sig == (SIGTRAP | 0x80)) {
			rc = on_syscall_exit(t, k, err);
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXEC) {
			rc = on_exec(t, k, err);
		} else if (sig == SIGTRAP && event) {
			/* FORK, VFORK, CLONE (the new task is added when it first
			 * stops, fresh) or VFORK_DONE. */
			unsigned long child = 0;
			uint64_t lo = k->loader_lo, hi = k->loader_hi;
			struct task *c = NULL;
			k->fresh = 0;
			if (event != PTRACE_EVENT_VFORK_DONE &&
			    ptrace(PTRACE_GETEVENTMSG, tid, NULL, &child) == 0 && child &&
			    !(c = task_get(t, (pid_t)child)))
				return cerr_set(err, COMPAT_ENOMEM, "out of memory");
			if (c) {
				c->loader_lo = lo;	/* same image, same loader */
				c->loader_hi = hi;
			}
			k = task_find(t, tid);
			rc = tracer_resume(tid, k->in_syscall, 0, err);
		} else if (sig == SIGTRAP && !event && task_hit_entry(t, k)) {
			rc = tracer_resume(tid, 0, 0, err);
		} else {
			rc = on_signal_stop(k, sig, err);
		}
		if (rc < 0)
			return rc;
	}
}

static int report_child(const struct child_report *r, const char *prog, struct cerr *err)
{
	errno = r->err;
	switch (r->stage) {
	case STAGE_TRACEME:
		return cerr_set(err, COMPAT_EPERM,
				"ptrace is not permitted here (%s): see /proc/sys/kernel/yama/ptrace_scope, "
				"or the container's seccomp profile and CAP_SYS_PTRACE",
				strerror(r->err));
	case STAGE_NNP:
	case STAGE_SECCOMP:
		return cerr_set(err, COMPAT_EPERM,
				"cannot install the seccomp filter (%s): the kernel or the container's "
				"seccomp profile forbids it",
				strerror(r->err));
	default:
		return cerr_set(err, COMPAT_ENOTFOUND, "cannot run %s: %s", prog, strerror(r->err));
	}
}

int ptrace_exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

/* Stop the trace early: kill every traced task (PTRACE_O_EXITKILL only
 * acts when the tracer dies) and reap them all, including tasks not seen
 * yet (a fork's child whose first stop is still queued): each is killed
 * when waitpid reports it, until no child is left. */
static void tracer_kill_all(struct tracer *t)
{
	int st;
	if (t->main_pid > 0 && !t->main_done)
		kill(t->main_pid, SIGKILL);
	for (size_t i = 0; i < t->ntasks; i++)
		kill(t->tasks[i].tid, SIGKILL);
	for (;;) {
		pid_t pid = waitpid(-1, &st, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;	/* ECHILD: all reaped */
		}
		if (WIFSTOPPED(st))
			kill(pid, SIGKILL);
	}
}

int ptrace_run(const struct ptrace_opts *o, struct ptrace_result *res, struct cerr *err)
{
	struct sock_filter f[FILTER_CAP];
	struct sock_fprog prog = { .len = 0, .filter = f };
	struct tracer t = { .o = o };
	struct child_report report = { 0, 0 };
	struct timespec rt;
	struct sigaction old_int, old_quit;
	int pipefd[2] = { -1, -1 }, rc = 0, st, ignoring = 0;
	pid_t pid;

	memset(res, 0, sizeof *res);
	prog.len = (unsigned short)filter_build(f, sizeof f / sizeof f[0],
						 o->loader_only ? FILTER_EXEC : FILTER_ALL, 0, 0);
	if (!o->argv || !o->argv[0])
		return cerr_set(err, COMPAT_EINVAL, "no program to run");
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cerr_sys(err, COMPAT_EIO, "pipe");
	t.t0_ns = clock_now_ns();
	clock_gettime(CLOCK_REALTIME, &rt);
	res->start_unix_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	t.start_unix_ns = res->start_unix_ns;
	pid = fork();
	if (pid < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "fork");
		goto out;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_run(o, &prog, pipefd[1]);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	t.main_pid = pid;
	if (o->ignore_interrupts) {
		struct sigaction ign = { .sa_handler = SIG_IGN };
		sigaction(SIGINT, &ign, &old_int);
		sigaction(SIGQUIT, &ign, &old_quit);
		ignoring = 1;
	}

	/* The child's own SIGSTOP, or its exit when PTRACE_TRACEME failed. */
	while (waitpid(pid, &st, __WALL) < 0) {
		if (errno != EINTR) {
			rc = cerr_sys(err, COMPAT_EIO, "waitpid");
			goto out;
		}
	}
	if (!WIFSTOPPED(st)) {
		if (read(pipefd[0], &report, sizeof report) == (ssize_t)sizeof report)
			rc = report_child(&report, o->argv[0], err);
		else
			rc = cerr_set(err, COMPAT_EIO, "the traced child ended before it started");
		res->status = st;
		goto out;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
				  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP |
				  PTRACE_O_EXITKILL)) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "PTRACE_SETOPTIONS");
		tracer_kill_all(&t);
		goto out;
	}
	struct task *k = task_get(&t, pid);
	if (!k) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		tracer_kill_all(&t);
		goto out;
	}
	k->fresh = 0;
	k->pid = pid;
	if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "ptrace");
		tracer_kill_all(&t);
		goto out;
	}
	rc = tracer_loop(&t, err);
	if (rc < 0) {
		tracer_kill_all(&t);
		goto out;
	}
	res->status = t.main_status;
	res->start_unix_ns = t.start_unix_ns;
	res->events = t.events;
	res->entry_ns = t.entry_ns;
	res->exit_ns = t.exit_ns;
	if (WIFEXITED(t.main_status) && WEXITSTATUS(t.main_status) == 127 &&
	    read(pipefd[0], &report, sizeof report) == (ssize_t)sizeof report)
		rc = report_child(&report, o->argv[0], err);
out:
	if (ignoring) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
	}
	for (size_t i = 0; i < t.ntasks; i++)
		free(t.tasks[i].path);
	free(t.tasks);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return rc;
}
