/* A tiny unit-test harness. A test file defines static void test_X(void)
 * functions and a main() that calls RUN(test_X) for each, then
 * return check_summary(). Output is one TAP-like line per test
 * ("ok - name", "not ok - name", "skip - name: reason"), which tests/run.sh
 * counts. A test that cannot run here calls SKIP("reason") and returns: it is
 * counted as skipped, never as passed. A failed CHECK before the SKIP still
 * fails the test. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failed_now, check_passed, check_failed, check_skipped;
static const char *check_skip_now;

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

/* Leave the current test, counted as skipped with this reason. */
#define SKIP(reason)                                                         \
	do {                                                                 \
		check_skip_now = (reason);                                   \
		return;                                                      \
	} while (0)

#define RUN(fn)                                                              \
	do {                                                                 \
		check_failed_now = 0;                                        \
		check_skip_now = NULL;                                       \
		fn();                                                        \
		if (check_failed_now) {                                      \
			printf("not ok - %s\n", #fn);                        \
			check_failed++;                                      \
		} else if (check_skip_now) {                                 \
			printf("skip - %s: %s\n", #fn, check_skip_now);       \
			check_skipped++;                                     \
		} else {                                                     \
			printf("ok - %s\n", #fn);                            \
			check_passed++;                                      \
		}                                                            \
	} while (0)

static inline int check_summary(void)
{
	return check_failed ? 1 : 0;
}

#endif
