#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/clock.h"
#include "core/ev.h"

struct counts {
	int a, b, c;
	int fd_b;		/* b's descriptor, deleted and reused by a's callback */
	int new_fd[2];
	struct ev_loop *l;
};

static void on_c(struct ev_loop *l, int fd, void *data, int mask)
{
	struct counts *k = data;
	k->c++;
}

static void on_b(struct ev_loop *l, int fd, void *data, int mask)
{
	struct counts *k = data;
	k->b++;
}

/* a's callback closes b and opens a new pipe, which gets b's number
 * back: b's event of the same batch must reach neither b nor the new one. */
static void on_a(struct ev_loop *l, int fd, void *data, int mask)
{
	struct counts *k = data;
	char ch;
	k->a++;
	if (read(fd, &ch, 1) < 0)
		return;
	ev_file_del(l, k->fd_b, EV_READ);
	close(k->fd_b);
	if (pipe(k->new_fd) == 0) {
		ev_file_add(l, k->new_fd[0], EV_READ, on_c, k);
		if (write(k->new_fd[1], "x", 1) < 0)
			return;
	}
	ev_stop(l);
}

static void test_deleted_in_batch(void)
{
	struct ev_loop *l;
	int pa[2], pb[2];
	CHECK_INT(ev_create(&l, 1024, NULL), 0);
	CHECK_INT(pipe(pa), 0);
	CHECK_INT(pipe(pb), 0);
	struct counts k = { .fd_b = pb[0], .l = l };
	CHECK_INT(ev_file_add(l, pa[0], EV_READ, on_a, &k), 0);
	CHECK_INT(ev_file_add(l, pb[0], EV_READ, on_b, &k), 0);
	/* Both ready before the loop waits: one batch, a first. */
	CHECK(write(pa[1], "x", 1) == 1);
	CHECK(write(pb[1], "x", 1) == 1);
	CHECK_INT(ev_run(l, NULL), 0);
	CHECK_INT(k.a, 1);
	CHECK_INT(k.b, 0);
	CHECK_INT(k.new_fd[0], pb[0]);	/* the number was reused */
	CHECK_INT(k.c, 0);		/* and b's stale event did not reach it */
	/* The new registration works on the next round. */
	ev_file_del(l, pa[0], EV_READ);
	CHECK_INT(ev_file_mask(l, k.new_fd[0]), EV_READ);
	close(pa[0]);
	close(pa[1]);
	close(pb[1]);
	close(k.new_fd[0]);
	close(k.new_fd[1]);
	ev_destroy(l);
}

static int64_t ticks_left;
static int64_t on_tick(struct ev_loop *l, int64_t id, void *data)
{
	int *n = data;
	(*n)++;
	if (--ticks_left == 0) {
		ev_stop(l);
		return EV_NOMORE;
	}
	return 1;
}

static int64_t never(struct ev_loop *l, int64_t id, void *data)
{
	int *n = data;
	(*n)++;
	return EV_NOMORE;
}

static void test_timers(void)
{
	struct ev_loop *l;
	int n = 0, m = 0;
	CHECK_INT(ev_create(&l, 64, NULL), 0);
	ticks_left = 3;
	int64_t t0 = clock_now_ms();
	CHECK(ev_timer_add(l, 5, on_tick, &n) > 0);
	int64_t id = ev_timer_add(l, 1, never, &m);
	CHECK(id > 0);
	ev_timer_del(l, id);	/* deleted before it runs */
	CHECK_INT(ev_run(l, NULL), 0);
	CHECK_INT(n, 3);
	CHECK_INT(m, 0);
	CHECK(clock_now_ms() - t0 >= 5);
	ev_destroy(l);
}

static void on_usr1(struct ev_loop *l, int signo, void *data)
{
	*(int *)data = signo;
	ev_stop(l);
}

static void test_signal(void)
{
	struct ev_loop *l;
	int got = 0;
	CHECK_INT(ev_create(&l, 64, NULL), 0);
	CHECK_INT(ev_signal_add(l, SIGUSR1, on_usr1, &got), 0);
	kill(getpid(), SIGUSR1);	/* blocked: waits in the signalfd */
	CHECK_INT(ev_run(l, NULL), 0);
	CHECK_INT(got, SIGUSR1);
	ev_destroy(l);
}

static void test_bounds(void)
{
	struct ev_loop *l;
	CHECK_INT(ev_create(&l, 8, NULL), 0);
	CHECK_INT(ev_file_add(l, 8, EV_READ, on_b, NULL), COMPAT_ELIMIT);
	CHECK_INT(ev_file_add(l, -1, EV_READ, on_b, NULL), COMPAT_ELIMIT);
	CHECK_INT(ev_file_mask(l, 3), EV_NONE);
	ev_destroy(l);
}

int main(void)
{
	RUN(test_deleted_in_batch);
	RUN(test_timers);
	RUN(test_signal);
	RUN(test_bounds);
	return check_summary();
}
