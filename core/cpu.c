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
/* CPU_FEATURE_ACTIVE without its (1 << 31) in int, which UBSan rightly
 * refuses for AVX512VL and the other bit-31 features: the same look-up,
 * through the same glibc function, with an unsigned shift. */
static int active(unsigned index)
{
	const struct cpuid_feature *f = __x86_get_cpuid_feature_leaf(index / (8 * sizeof(unsigned) * 4));
	unsigned reg = index & (8 * sizeof(unsigned) * 4 - 1), bit = reg & (8 * sizeof(unsigned) - 1);
	return (f->active_array[reg / (8 * sizeof(unsigned))] & (1u << bit)) != 0;
}

static int level_compute(void)
{
	int v2 = active(x86_cpu_CMPXCHG16B) && active(x86_cpu_LAHF64_SAHF64) && active(x86_cpu_POPCNT) &&
		 active(x86_cpu_SSE3) && active(x86_cpu_SSE4_1) && active(x86_cpu_SSE4_2) &&
		 active(x86_cpu_SSSE3);
	int v3 = active(x86_cpu_AVX) && active(x86_cpu_AVX2) && active(x86_cpu_BMI1) &&
		 active(x86_cpu_BMI2) && active(x86_cpu_F16C) && active(x86_cpu_FMA) &&
		 active(x86_cpu_LZCNT) && active(x86_cpu_MOVBE) && active(x86_cpu_OSXSAVE);
	int v4 = active(x86_cpu_AVX512F) && active(x86_cpu_AVX512BW) && active(x86_cpu_AVX512CD) &&
		 active(x86_cpu_AVX512DQ) && active(x86_cpu_AVX512VL);
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
