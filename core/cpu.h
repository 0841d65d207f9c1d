/* What this CPU can run: its x86-64 ISA level (x86-64-v1..v4), read with
 * cpuid/xgetbv as glibc's loader does for glibc-hwcaps. */
#ifndef COMPAT_CPU_H
#define COMPAT_CPU_H

/* 1..4 on x86_64 (1 = baseline); 0 on other architectures. */
int cpu_x86_isa_level(void);

#endif
