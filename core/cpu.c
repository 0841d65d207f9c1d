#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static int have(unsigned reg, unsigned bit)
{
	return (reg >> bit) & 1u;
}

static unsigned long long xgetbv0(void)
{
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

static int level_compute(void)
{
	unsigned a, b, c, d, b7 = 0, c7 = 0, d7 = 0, c81 = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 1;
	if (__get_cpuid_max(0, 0) >= 7)
		__cpuid_count(7, 0, a, b7, c7, d7);
	if (__get_cpuid_max(0x80000000u, 0) >= 0x80000001u) {
		unsigned a8, b8, d8;
		__cpuid(0x80000001u, a8, b8, c81, d8);
	}
	/* v2: CMPXCHG16B, LAHF/SAHF, POPCNT, SSE3, SSE4.1, SSE4.2, SSSE3 */
	if (!(have(c, 13) && have(c81, 0) && have(c, 23) && have(c, 0) && have(c, 19) &&
	      have(c, 20) && have(c, 9)))
		return 1;
	/* v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT, MOVBE, with the OS
	 * saving YMM state (OSXSAVE + XCR0 bits 1,2). */
	int os_ymm = have(c, 27) && (xgetbv0() & 0x6) == 0x6;
	if (!(os_ymm && have(c, 28) && have(b7, 5) && have(b7, 3) && have(b7, 8) && have(c, 29) &&
	      have(c, 12) && have(c81, 5) && have(c, 22)))
		return 2;
	/* v4: AVX512F, BW, CD, DQ, VL, with ZMM state (XCR0 bits 5,6,7). */
	int os_zmm = (xgetbv0() & 0xe6) == 0xe6;
	if (!(os_zmm && have(b7, 16) && have(b7, 30) && have(b7, 28) && have(b7, 17) && have(b7, 31)))
		return 3;
	(void)c7;
	(void)d7;
	return 4;
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
