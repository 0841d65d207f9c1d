#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/clock.h"
#include "core/fetcher.h"

/* A job that runs until its gate opens (or it is cancelled). */
struct job {
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	int *gate;		/* 1: run() may return */
	int ran, saw_cancel, done_calls, done_cancelled, done_on_loop;
	int *finished;		/* counts done() calls, to stop the loop */
	int stop_at;
	struct ev_loop *l;
};

static pthread_t loop_thread;

static void run(void *arg, const int *cancelled)
{
	struct job *j = arg;
	pthread_mutex_lock(j->mu);
	while (!*j->gate && !__atomic_load_n(cancelled, __ATOMIC_RELAXED)) {
		pthread_mutex_unlock(j->mu);
		usleep(1000);
		pthread_mutex_lock(j->mu);
	}
	j->ran = 1;
	j->saw_cancel = __atomic_load_n(cancelled, __ATOMIC_RELAXED);
	pthread_mutex_unlock(j->mu);
}

static void done(void *arg, int cancelled)
{
	struct job *j = arg;
	j->done_cancelled = cancelled;
	j->done_on_loop = pthread_equal(pthread_self(), loop_thread);
	/* last, and atomic: a worker may run this while the test reads it */
	__atomic_add_fetch(&j->done_calls, 1, __ATOMIC_SEQ_CST);
	if (j->finished && ++*j->finished == j->stop_at)
		ev_stop(j->l);
}

static int64_t give_up(struct ev_loop *l, int64_t id, void *data)
{
	*(int *)data = 1;
	ev_stop(l);
	return EV_NOMORE;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void test_run_and_done_on_loop(void)
{
	struct ev_loop *l;
	struct fetcher *f;
	int gate = 1, finished = 0, timed_out = 0;
	struct job jobs[5];
	loop_thread = pthread_self();
	CHECK_INT(ev_create(&l, 256, NULL), 0);
	CHECK_INT(fetcher_create(&f, l, 2, 8, NULL), 0);
	for (int i = 0; i < 5; i++) {
		jobs[i] = (struct job){ .mu = &mu, .cv = &cv, .gate = &gate, .finished = &finished, .stop_at = 5, .l = l };
		CHECK_INT(fetcher_submit(f, run, done, &jobs[i], NULL), 0);
	}
	ev_timer_add(l, 5000, give_up, &timed_out);
	CHECK_INT(ev_run(l, NULL), 0);
	CHECK(!timed_out);
	for (int i = 0; i < 5; i++) {
		CHECK(jobs[i].ran);
		CHECK_INT(jobs[i].done_calls, 1);
		CHECK_INT(jobs[i].done_cancelled, 0);
		CHECK(jobs[i].done_on_loop);
	}
	CHECK_INT(fetcher_destroy(f, 1000), 0);
	ev_destroy(l);
}

/* One worker held by a job: the queue takes max_queue more, then refuses;
 * cancelling a waiting job calls its done at once; a running one sees the
 * flag and its done says cancelled. */
static void test_bounded_queue_and_cancel(void)
{
	struct ev_loop *l;
	struct fetcher *f;
	int gate = 0, finished = 0, timed_out = 0;
	struct job held = { .mu = &mu, .cv = &cv, .gate = &gate }, q[3];
	uint64_t held_id, ids[3];
	loop_thread = pthread_self();
	CHECK_INT(ev_create(&l, 256, NULL), 0);
	CHECK_INT(fetcher_create(&f, l, 1, 2, NULL), 0);
	CHECK_INT(fetcher_submit(f, run, done, &held, &held_id), 0);
	for (int i = 0; i < 200 && !__atomic_load_n(&held.ran, __ATOMIC_RELAXED) && fetcher_queued(f); i++)
		usleep(1000);	/* the worker takes it */
	CHECK_INT(fetcher_queued(f), 0);
	for (int i = 0; i < 3; i++)
		q[i] = (struct job){ .mu = &mu, .cv = &cv, .gate = &gate, .finished = &finished, .stop_at = 3, .l = l };
	CHECK_INT(fetcher_submit(f, run, done, &q[0], &ids[0]), 0);
	CHECK_INT(fetcher_submit(f, run, done, &q[1], &ids[1]), 0);
	CHECK_INT(fetcher_submit(f, run, done, &q[2], &ids[2]), COMPAT_ELIMIT);
	CHECK_INT(q[2].done_calls, 0);	/* refused: still the caller's */
	fetcher_cancel(f, ids[0]);
	CHECK_INT(q[0].done_calls, 1);	/* dropped while waiting: done now */
	CHECK_INT(q[0].done_cancelled, 1);
	CHECK(!q[0].ran);
	/* The held job: cancelled while it runs. */
	held.finished = &finished;
	held.stop_at = 2;
	held.l = l;
	finished = 0;
	q[1].finished = &finished;
	q[1].stop_at = 2;
	fetcher_cancel(f, held_id);
	pthread_mutex_lock(&mu);
	gate = 1;
	pthread_mutex_unlock(&mu);
	ev_timer_add(l, 5000, give_up, &timed_out);
	CHECK_INT(ev_run(l, NULL), 0);
	CHECK(!timed_out);
	CHECK(held.ran);
	CHECK_INT(held.done_calls, 1);
	CHECK_INT(held.done_cancelled, 1);
	CHECK_INT(q[1].done_calls, 1);
	CHECK_INT(q[1].done_cancelled, 0);
	CHECK_INT(fetcher_destroy(f, 1000), 0);
	ev_destroy(l);
}

/* A job that ignores its cancel flag. */
static void run_stubborn(void *arg, const int *cancelled)
{
	struct job *j = arg;
	pthread_mutex_lock(j->mu);
	while (!*j->gate)
		pthread_cond_wait(j->cv, j->mu);
	j->ran = 1;
	pthread_mutex_unlock(j->mu);
}

/* A job that does not end does not hold destroy past its wait; when it
 * ends at last, its done runs (cancelled) on its own thread. */
static void test_destroy_does_not_wait_forever(void)
{
	struct ev_loop *l;
	struct fetcher *f;
	static int gate;		/* outlive this test: the worker uses them */
	static struct job stuck;
	gate = 0;
	stuck = (struct job){ .mu = &mu, .cv = &cv, .gate = &gate };
	struct job waiting = { .mu = &mu, .cv = &cv, .gate = &gate };
	loop_thread = pthread_self();
	CHECK_INT(ev_create(&l, 256, NULL), 0);
	CHECK_INT(fetcher_create(&f, l, 1, 4, NULL), 0);
	CHECK_INT(fetcher_submit(f, run_stubborn, done, &stuck, NULL), 0);
	for (int i = 0; i < 200 && fetcher_queued(f); i++)
		usleep(1000);
	CHECK_INT(fetcher_submit(f, run, done, &waiting, NULL), 0);
	int64_t t0 = clock_now_ms();
	CHECK_INT(fetcher_destroy(f, 200), COMPAT_ELIMIT);
	CHECK(clock_now_ms() - t0 < 2000);
	CHECK_INT(waiting.done_calls, 1);	/* dropped from the queue */
	CHECK_INT(waiting.done_cancelled, 1);
	CHECK_INT(stuck.done_calls, 0);
	pthread_mutex_lock(&mu);
	gate = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 2000 && !__atomic_load_n(&stuck.done_calls, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	CHECK_INT(__atomic_load_n(&stuck.done_calls, __ATOMIC_SEQ_CST), 1);
	CHECK_INT(stuck.done_cancelled, 1);
	CHECK(!stuck.done_on_loop);
	ev_destroy(l);
}

int main(void)
{
	RUN(test_run_and_done_on_loop);
	RUN(test_bounded_queue_and_cancel);
	RUN(test_destroy_does_not_wait_forever);
	return check_summary();
}
