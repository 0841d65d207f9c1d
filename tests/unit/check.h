/* A tiny unit-test harness. A test file defines static void test_X(void)
 * functions and a main() that calls RUN(test_X) for each, then
 * return check_summary(). Output is one TAP-like line per test
 * ("ok - name" / "not ok - name"), which tests/run.sh counts. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_now, check_passed, check_failed;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("#   %s:%d: CHECK(%s) failed\n", __FILE__,    \
			       __LINE__, #cond);                             \
			check_failed_now = 1;                                \
		}                                                            \
	} while (0)

#define CHECK_INT(a, b)                                                      \
	do {                                                                 \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_) {                                  \
			printf("#   %s:%d: %s == %s failed: %lld != %lld\n",  \
			       __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
			check_failed_now = 1;                                \
		}                                                            \
	} while (0)

#define CHECK_STR(a, b)                                                      \
	do {                                                                 \
		const char *check_a_ = (a), *check_b_ = (b);                 \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) { \
			printf("#   %s:%d: %s == %s failed: \"%s\" != \"%s\"\n", \
			       __FILE__, __LINE__, #a, #b,                   \
			       check_a_ ? check_a_ : "(null)",               \
			       check_b_ ? check_b_ : "(null)");              \
			check_failed_now = 1;                                \
		}                                                            \
	} while (0)

#define RUN(fn)                                                              \
	do {                                                                 \
		check_failed_now = 0;                                        \
		fn();                                                        \
		printf("%s - %s\n", check_failed_now ? "not ok" : "ok", #fn); \
		if (check_failed_now)                                        \
			check_failed++;                                      \
		else                                                         \
			check_passed++;                                      \
	} while (0)

static inline int check_summary(void)
{
	return check_failed ? 1 : 0;
}

#endif
