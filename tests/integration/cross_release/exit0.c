/* The oracle's preload object: exits 0 from its constructor.
 *
 * ld.so runs constructors only after it has loaded every object, checked
 * every version need and (with LD_BIND_NOW=1) bound every symbol. A process
 * that reaches this constructor would have loaded; one that dies before it
 * tells why in ld.so's own words. Built -nostdlib with a raw exit_group
 * system call: no DT_NEEDED, no symbol versions, so any glibc's loader (2.31
 * in Debian 11 and later) preloads it. x86_64 only, as the trees are. */
__attribute__((constructor)) static void exit_now(void)
{
	__asm__ volatile("syscall" : : "a"(231 /* exit_group */), "D"(0) : "rcx", "r11", "memory");
	__builtin_unreachable();
}
