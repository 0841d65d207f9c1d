#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <sys/platform/x86.h>

/* glibc's loader has already run cpuid at start-up and keeps what it found,
 * with the features GLIBC_TUNABLES=glibc.cpu.hwcaps=-NAME,... masks
 * cleared (that mask also steers its glibc-hwcaps choice): ask it, rather
 * than run cpuid again. In a virtual machine every cpuid traps to the
 * hypervisor (5 us each on the benchmark VM, 30 us for the six a level
 * needs); a lookup of glibc's copy costs nanoseconds. "Active" is glibc's
 * "usable": the CPU has it and the kernel saves its registers (AVX needs
 * XCR0's YMM bits, AVX-512 its ZMM ones), as get-isa-level.h requires. */
static int level_compute(void)
{
	int v2 = CPU_FEATURE_ACTIVE(CMPXCHG16B) && CPU_FEATURE_ACTIVE(LAHF64_SAHF64) && CPU_FEATURE_ACTIVE(POPCNT) &&
		 CPU_FEATURE_ACTIVE(SSE3) && CPU_FEATURE_ACTIVE(SSE4_1) && CPU_FEATURE_ACTIVE(SSE4_2) &&
		 CPU_FEATURE_ACTIVE(SSSE3);
	int v3 = CPU_FEATURE_ACTIVE(AVX) && CPU_FEATURE_ACTIVE(AVX2) && CPU_FEATURE_ACTIVE(BMI1) &&
		 CPU_FEATURE_ACTIVE(BMI2) && CPU_FEATURE_ACTIVE(F16C) && CPU_FEATURE_ACTIVE(FMA) &&
		 CPU_FEATURE_ACTIVE(LZCNT) && CPU_FEATURE_ACTIVE(MOVBE) && CPU_FEATURE_ACTIVE(OSXSAVE);
	int v4 = CPU_FEATURE_ACTIVE(AVX512F) && CPU_FEATURE_ACTIVE(AVX512BW) && CPU_FEATURE_ACTIVE(AVX512CD) &&
		 CPU_FEATURE_ACTIVE(AVX512DQ) && CPU_FEATURE_ACTIVE(AVX512VL);
	return !v2 ? 1 : !v3 ? 2 : !v4 ? 3 : 4;
}

int cpu_x86_isa_level(void)
{
	static int level;
	if (!level)
		level = level_compute();
	return level;
}
#else
int cpu_x86_isa_level(void)
{
	return 0;
}
#endif
