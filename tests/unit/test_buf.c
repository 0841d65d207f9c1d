#include <stdlib.h>

#include "check.h"
#include "core/buf.h"
#include "core/cpu.h"
#include "core/err.h"

static void test_bounded_append(void)
{
	struct buf b = { 0 };
	CHECK_INT(buf_append(&b, "abc", 3, 8), 0);
	CHECK_INT(buf_append(&b, "defgh", 5, 8), 0);
	CHECK_INT(b.len, 8);
	CHECK_STR((char *)b.p, "abcdefgh");
	CHECK_INT(buf_append(&b, "i", 1, 8), COMPAT_ELIMIT);	/* nothing appended past the bound */
	CHECK_INT(b.len, 8);
	CHECK_INT(buf_append(&b, "", 0, 8), 0);
	CHECK_INT(buf_append(&b, "x", (size_t)-1, 8), COMPAT_ELIMIT);	/* no overflow in the check */
	buf_free(&b);
	CHECK(b.p == NULL && b.len == 0);
}

/* GLIBC_TUNABLES masks lower the level as ld.so's would. */
static void test_cpu_level_and_tunables(void)
{
	int level = cpu_x86_isa_level();
	CHECK(level >= 1 && level <= 4);
	if (level < 3)
		SKIP("this CPU is below x86-64-v3: GLIBC_TUNABLES has no AVX2 to mask");
	/* A fresh process so that the level is computed again under the mask. */
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 %s/bin/compat check --json - <<'E' | grep -q 'supports x86-64-v2'\n"
		 "{\"version\":\"0.1.0\",\"attributes\":{\"llnl.compatlib.elf.class\":\"ELF64\","
		 "\"llnl.compatlib.elf.machine\":\"x86_64\",\"llnl.compatlib.isa-level\":\"x86-64-v3\"}}\nE",
		 getenv("COMPAT_ROOT") ? getenv("COMPAT_ROOT") : ".");
	CHECK_INT(system(cmd), 0);
}

int main(void)
{
	RUN(test_bounded_append);
	RUN(test_cpu_level_and_tunables);
	return check_summary();
}
