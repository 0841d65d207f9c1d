/* A program that needs nothing (no DT_NEEDED, no libc) and exits 3 from its
 * entry point. Run under a tree's own loader with the exit-0 preload, it
 * exits 0: proof that the preload's constructor runs there before the
 * program does. Built -nostdlib -pie, so it has a PT_INTERP and a dynamic
 * section, and loads under any glibc. */
void _start(void);
void _start(void)
{
	__asm__ volatile("syscall" : : "a"(231 /* exit_group */), "D"(3) : "rcx", "r11", "memory");
	__builtin_unreachable();
}
