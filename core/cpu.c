#include <stdlib.h>
#include <string.h>

#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* The features the x86-64 levels are made of, by the names glibc uses in
 * GLIBC_TUNABLES=glibc.cpu.hwcaps=-NAME,... (which masks them for ld.so's
 * glibc-hwcaps choice too; honouring it keeps us in step with the loader). */
enum feat {
	F_CX16, F_LAHF, F_POPCNT, F_SSE3, F_SSE4_1, F_SSE4_2, F_SSSE3,
	F_AVX, F_AVX2, F_BMI1, F_BMI2, F_F16C, F_FMA, F_LZCNT, F_MOVBE,
	F_AVX512F, F_AVX512BW, F_AVX512CD, F_AVX512DQ, F_AVX512VL, F_COUNT
};

static const char *const feat_names[F_COUNT] = {
	"CMPXCHG16B", "LAHF64_SAHF64", "POPCNT", "SSE3", "SSE4_1", "SSE4_2", "SSSE3",
	"AVX", "AVX2", "BMI1", "BMI2", "F16C", "FMA", "LZCNT", "MOVBE",
	"AVX512F", "AVX512BW", "AVX512CD", "AVX512DQ", "AVX512VL",
};

static int bit(unsigned reg, unsigned b)
{
	return (reg >> b) & 1u;
}

static unsigned long long xgetbv0(void)
{
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

/* Clear features named "-NAME" in glibc.cpu.hwcaps of GLIBC_TUNABLES. */
static void apply_tunables(unsigned char *have)
{
	const char *t = getenv("GLIBC_TUNABLES");
	const char *key = "glibc.cpu.hwcaps=";
	const char *p = t ? strstr(t, key) : NULL;
	if (!p)
		return;
	p += strlen(key);
	while (*p && *p != ':') {
		size_t n = strcspn(p, ",:");
		if (*p == '-')
			for (int f = 0; f < F_COUNT; f++)
				if (strlen(feat_names[f]) == n - 1 && strncmp(p + 1, feat_names[f], n - 1) == 0)
					have[f] = 0;
		p += n;
		if (*p == ',')
			p++;
	}
}

static int level_compute(void)
{
	unsigned a, b, c, d, b7 = 0, c7 = 0, d7 = 0, c81 = 0, t1, t2, t3;
	unsigned char have[F_COUNT];
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 1;
	if (__get_cpuid_max(0, 0) >= 7)
		__cpuid_count(7, 0, t1, b7, c7, d7);
	if ((unsigned)__get_cpuid_max(0x80000000u, 0) >= 0x80000001u)
		__cpuid(0x80000001u, t1, t2, c81, t3);
	int os_ymm = bit(c, 27) && (xgetbv0() & 0x6) == 0x6;
	int os_zmm = os_ymm && (xgetbv0() & 0xe6) == 0xe6;
	have[F_CX16] = bit(c, 13);
	have[F_LAHF] = bit(c81, 0);
	have[F_POPCNT] = bit(c, 23);
	have[F_SSE3] = bit(c, 0);
	have[F_SSE4_1] = bit(c, 19);
	have[F_SSE4_2] = bit(c, 20);
	have[F_SSSE3] = bit(c, 9);
	have[F_AVX] = os_ymm && bit(c, 28);
	have[F_AVX2] = os_ymm && bit(b7, 5);
	have[F_BMI1] = bit(b7, 3);
	have[F_BMI2] = bit(b7, 8);
	have[F_F16C] = os_ymm && bit(c, 29);
	have[F_FMA] = os_ymm && bit(c, 12);
	have[F_LZCNT] = bit(c81, 5);
	have[F_MOVBE] = bit(c, 22);
	have[F_AVX512F] = os_zmm && bit(b7, 16);
	have[F_AVX512BW] = os_zmm && bit(b7, 30);
	have[F_AVX512CD] = os_zmm && bit(b7, 28);
	have[F_AVX512DQ] = os_zmm && bit(b7, 17);
	have[F_AVX512VL] = os_zmm && bit(b7, 31);
	(void)c7;
	(void)d7;
	apply_tunables(have);
	static const enum feat lv[3][9] = {
		{ F_CX16, F_LAHF, F_POPCNT, F_SSE3, F_SSE4_1, F_SSE4_2, F_SSSE3, F_SSE3, F_SSE3 },
		{ F_AVX, F_AVX2, F_BMI1, F_BMI2, F_F16C, F_FMA, F_LZCNT, F_MOVBE, F_AVX },
		{ F_AVX512F, F_AVX512BW, F_AVX512CD, F_AVX512DQ, F_AVX512VL, F_AVX512F, F_AVX512F,
		  F_AVX512F, F_AVX512F },
	};
	int level = 1;
	for (int l = 0; l < 3; l++) {
		for (int k = 0; k < 9; k++)
			if (!have[lv[l][k]])
				return level;
		level++;
	}
	return level;
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
