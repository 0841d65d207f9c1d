/* The oracle's launcher: `launch PROGRAM [NAME=VALUE...]` runs PROGRAM with
 * exactly the environment NAME=VALUE... (LD_BIND_NOW, LD_PRELOAD), and no
 * argument, by one execve.
 *
 * Not env(1): env uses execvp, which hands a file the kernel refuses
 * (ENOEXEC: another machine's ELF) to /bin/sh, and sh "runs" it. Static and
 * -nostdlib with raw system calls, so the same file starts inside every
 * tree whatever its glibc. When execve fails it says why, as the shell
 * would: "No such file or directory" (exit 127: the file, or its PT_INTERP
 * loader, is absent) or "Exec format error" (exit 126). x86_64 only. */
static long sys3(long n, long a, long b, long c)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return r;
}

static void say(const char *s)
{
	long n = 0;
	while (s[n])
		n++;
	sys3(1 /* write */, 2, (long)s, n);
}

__attribute__((noreturn)) void launch_main(long *sp);
__attribute__((noreturn)) void launch_main(long *sp)
{
	long argc = sp[0];
	char **argv = (char **)(sp + 1);
	if (argc < 2) {
		say("usage: launch PROGRAM [NAME=VALUE...]\n");
		sys3(231 /* exit_group */, 2, 0, 0);
	}
	char *args[2] = { argv[1], 0 };
	long r = sys3(59 /* execve */, (long)argv[1], (long)args, (long)(argv + 2));
	say("launch: ");
	say(argv[1]);
	say(r == -2 ? ": No such file or directory\n" : r == -8 ? ": Exec format error\n" : ": execve failed\n");
	sys3(231, r == -2 ? 127 : 126, 0, 0);
	__builtin_unreachable();
}

/* The kernel starts us with argc at the stack pointer. */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call launch_main\n"
	"	hlt\n");
