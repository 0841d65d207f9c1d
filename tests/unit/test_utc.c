/* core/utc.c's gmtime_r against glibc's own, reached with dlsym(RTLD_NEXT). */
#include <dlfcn.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

typedef struct tm *(*gmtime_fn)(const time_t *, struct tm *);

static int same(const struct tm *a, const struct tm *b)
{
	return a->tm_sec == b->tm_sec && a->tm_min == b->tm_min && a->tm_hour == b->tm_hour &&
	       a->tm_mday == b->tm_mday && a->tm_mon == b->tm_mon && a->tm_year == b->tm_year &&
	       a->tm_wday == b->tm_wday && a->tm_yday == b->tm_yday && a->tm_isdst == b->tm_isdst &&
	       a->tm_gmtoff == b->tm_gmtoff && strcmp(a->tm_zone, b->tm_zone) == 0;
}

static void test_against_glibc(void)
{
	gmtime_fn glibc = (gmtime_fn)dlsym(RTLD_NEXT, "gmtime_r");
	if (!glibc)
		SKIP("glibc's gmtime_r cannot be reached (static test binary)");
	CHECK(glibc != gmtime_r);	/* ours is the one linked in */
	static const int64_t fixed[] = { 0, -1, 86399, 86400, 951782400 /* 2000-02-29 */, 4107542400 /* 2100-03-01 */,
					 -2208988800 /* 1900-01-01 */, 253402300799 /* 9999-12-31T23:59:59 */,
					 -62135596800 /* 0001-01-01 */, 1767225599, 2147483647, -2147483648LL };
	int bad = 0;
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 200000; i++) {
		int64_t t;
		if (i < (int)(sizeof fixed / sizeof fixed[0])) {
			t = fixed[i];
		} else {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;	/* xorshift: +-2^40 s (~35,000 years) */
			t = (int64_t)(x % (2ull << 40)) - (int64_t)(1ull << 40);
		}
		time_t tt = (time_t)t;
		struct tm a, b;
		if (!gmtime_r(&tt, &a) || !glibc(&tt, &b) || !same(&a, &b)) {
			if (bad++ < 5)
				printf("#   t=%lld differs\n", (long long)t);
		}
	}
	CHECK_INT(bad, 0);
}

int main(void)
{
	RUN(test_against_glibc);
	return check_summary();
}
