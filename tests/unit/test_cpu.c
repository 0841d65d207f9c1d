/* The x86-64 level compat sees must be the one glibc's loader uses to pick
 * glibc-hwcaps subdirectories, under every GLIBC_TUNABLES mask: ld.so
 * --help prints its choice ("x86-64-v3 (supported, searched)"). Each mask
 * needs a fresh process (glibc reads the tunables at start-up), so this
 * test runs itself again with "level" as its argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/cpu.h"

#define LDSO "/lib64/ld-linux-x86-64.so.2"

static const char *self;

/* The highest level `ld.so --help` marks "supported" under mask; 1 when
 * none is; -1 when ld.so cannot be run. */
static int ldso_level(const char *mask)
{
	char cmd[512], line[256];
	snprintf(cmd, sizeof cmd, "GLIBC_TUNABLES='%s' " LDSO " --help 2>/dev/null", mask);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	int level = 1, seen = 0;
	while (fgets(line, sizeof line, p)) {
		int l;
		if (sscanf(line, " x86-64-v%d", &l) == 1) {
			seen = 1;
			if (strstr(line, "supported") && l > level)
				level = l;
		}
	}
	return pclose(p) == 0 && seen ? level : -1;
}

/* cpu_x86_isa_level() in a new process started under mask. */
static int our_level(const char *mask)
{
	char cmd[1024], line[64];
	snprintf(cmd, sizeof cmd, "GLIBC_TUNABLES='%s' '%s' level", mask, self);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	int level = -1;
	if (!fgets(line, sizeof line, p) || sscanf(line, "%d", &level) != 1)
		level = -1;
	return pclose(p) == 0 ? level : -1;
}

static void test_level_is_the_loaders(void)
{
	/* Masks of each level's features, and two names ld.so does not
	 * mask (so neither may compat: the old cpuid code did). */
	static const char *const masks[] = {
		"", "glibc.cpu.hwcaps=-AVX2", "glibc.cpu.hwcaps=-AVX512F", "glibc.cpu.hwcaps=-SSE4_2",
		"glibc.cpu.hwcaps=-MOVBE,-AVX512VL", "glibc.cpu.hwcaps=-CMPXCHG16B",
		"glibc.cpu.hwcaps=-LAHF64_SAHF64", "glibc.cpu.hwcaps=-BMI2",
	};
#if !defined(__x86_64__)
	SKIP("not an x86_64 build: no x86-64 levels");
#endif
	if (access(LDSO, X_OK) != 0 || ldso_level("") < 0)
		SKIP("no runnable " LDSO " to compare with");
	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		int want = ldso_level(masks[i]), got = our_level(masks[i]);
		if (want != got)
			printf("#   GLIBC_TUNABLES='%s': ld.so x86-64-v%d, compat x86-64-v%d\n", masks[i], want, got);
		CHECK_INT(got, want);
	}
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "level") == 0) {
		printf("%d\n", cpu_x86_isa_level());
		return 0;
	}
	self = argv[0];
	RUN(test_level_is_the_loaders);
	return check_summary();
}
