/* judge ITERATIONS ARTIFACT...: the server's per-request work without its
 * transport. Builds the host index once (as serve does), then reads,
 * judges and reports every artifact ITERATIONS times, and prints the mean
 * microseconds per request of each stage. A profiling aid for
 * bench/serve.sh's distinct-artifact figure (run it under perf). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/artifact.h"
#include "core/err.h"
#include "core/fsutil.h"
#include "core/hostindex.h"
#include "core/verdict.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	struct index_opts io = { 0 };
	struct host_index *idx;
	struct cerr err = { 0 };
	int iters = argc > 2 ? atoi(argv[1]) : 0, n = argc - 2;
	if (iters < 1) {
		fprintf(stderr, "usage: judge ITERATIONS ARTIFACT...\n");
		return 2;
	}
	if (index_build(&io, &idx, &err) < 0) {
		fprintf(stderr, "judge: %s\n", err.msg);
		return 1;
	}
	char **body = calloc((size_t)n, sizeof *body);
	size_t *len = calloc((size_t)n, sizeof *len);
	for (int i = 0; i < n; i++)
		if (!body || !len || fs_read_file(argv[i + 2], 1 << 24, &body[i], &len[i], &err) < 0) {
			fprintf(stderr, "judge: %s: %s\n", argv[i + 2], err.msg);
			return 1;
		}
	double parse = 0, judge = 0, report = 0;
	long failed = 0;
	for (int k = 0; k < iters; k++)
		for (int i = 0; i < n; i++) {
			struct artifact a;
			struct verdict v;
			size_t jl;
			double t0 = now_us();
			if (artifact_parse(body[i], len[i], argv[i + 2], &a, &err) < 0) {
				failed++;
				continue;
			}
			double t1 = now_us();
			int rc = verdict_check(idx, &a, NULL, &v, &err);
			double t2 = now_us();
			if (rc == 0) {
				free(verdict_to_json(&v, &jl));
				verdict_free(&v);
			} else {
				failed++;
			}
			double t3 = now_us();
			artifact_free(&a);
			parse += t1 - t0;
			judge += t2 - t1;
			report += t3 - t2;
		}
	double per = (double)iters * n;
	printf("%d artifacts x %d: %.2f us per request (read %.2f, judge %.2f, report %.2f), %ld failed\n", n, iters,
	       (parse + judge + report) / per, parse / per, judge / per, report / per, failed);
	return failed != 0;
}
