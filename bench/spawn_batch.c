/* spawn_batch N REPS CMD [ARGS...]: REPS times, start N copies of CMD at
 * once (stdout and stderr to /dev/null) and wait for all of them; print the
 * median wall time of a batch in microseconds, and how many runs failed
 * (exit status not 0). N = 1 times single starts. Used by bench/cache.sh
 * for the concurrent-start (Spindle) scenario; no interpreter in the timing. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: spawn_batch N REPS CMD [ARGS...]\n");
		return 2;
	}
	int n = atoi(argv[1]), reps = atoi(argv[2]), failed = 0;
	if (n < 1 || n > 256 || reps < 1 || reps > 1000)
		return 2;
	double *t = calloc((size_t)reps, sizeof *t);
	pid_t *pids = calloc((size_t)n, sizeof *pids);
	if (!t || !pids)
		return 1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (int r = 0; r < reps; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < n; i++)
			if (posix_spawnp(&pids[i], argv[3], &fa, NULL, argv + 3, environ) != 0) {
				perror(argv[3]);
				return 2;
			}
		for (int i = 0; i < n; i++) {
			int st;
			waitpid(pids[i], &st, 0);
			failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[r] = (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp);
	printf("%.1f %d\n", t[reps / 2], failed);
	return 0;
}
