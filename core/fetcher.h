/* Blocking work off the event loop: a few worker threads and a bounded
 * queue. A job's run() goes on a worker; its done() comes back on the loop
 * thread (through an eventfd registered on the loop). A job whose client
 * left is cancelled: dropped at once while it waits, its result discarded
 * when it is already running. Nothing here knows what the work is.
 *
 * Ownership: arg belongs to the job from fetcher_submit until done(arg,
 * cancelled) is called, exactly once; done frees it. */
#ifndef COMPAT_FETCHER_H
#define COMPAT_FETCHER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ev.h"

/* On a worker. *cancelled becomes non-zero (read it with
 * __atomic_load_n) when the job is cancelled while it runs: long work may
 * stop early. */
typedef void fetcher_run_fn(void *arg, const int *cancelled);

/* On the loop thread, after run (cancelled 0), or when the job was
 * cancelled (1; run may not have run). After fetcher_destroy gave up
 * waiting for a job, done(arg, 1) runs on its worker instead: it must then
 * only free. */
typedef void fetcher_done_fn(void *arg, int cancelled);

struct fetcher;

/* nthreads workers, at most max_queue jobs waiting (running ones aside).
 * Returns 0, COMPAT_ENOMEM, COMPAT_EIO (eventfd, thread). */
int fetcher_create(struct fetcher **out, struct ev_loop *ev, unsigned nthreads, size_t max_queue,
		   struct cerr *err);

/* Queue a job; *id names it for fetcher_cancel. Returns 0, COMPAT_ELIMIT
 * (the queue is full: nothing queued, arg still the caller's), COMPAT_ENOMEM. */
int fetcher_submit(struct fetcher *f, fetcher_run_fn *run, fetcher_done_fn *done, void *arg,
		   uint64_t *id);

/* Cancel job id: a waiting job is removed and done(arg, 1) called before
 * this returns; a running or finished one gets done(arg, 1) later. An
 * unknown id (already done) is ignored. */
void fetcher_cancel(struct fetcher *f, uint64_t id);

/* Count f's waiting jobs in *queued (atomic, zero to start with), which
 * other fetchers may share: max_queue then bounds the jobs waiting in all
 * of them together (the server's loops each have their workers, and one
 * --max-queue). Call before the first submit; *queued must outlive f. */
void fetcher_share_queue(struct fetcher *f, size_t *queued);

/* Jobs waiting for a worker (not counting running ones). */
size_t fetcher_queued(struct fetcher *f);

/* Cancel everything and stop: waiting jobs are dropped now, running ones
 * are waited for up to wait_ms, then left to finish on their own (their
 * threads detached; done(arg, 1) runs there). Returns 0, or COMPAT_ELIMIT
 * when some job was still running at the deadline. */
int fetcher_destroy(struct fetcher *f, int64_t wait_ms);

#endif
