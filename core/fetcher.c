#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fetcher.h"

struct job {
	uint64_t id;
	fetcher_run_fn *run;
	fetcher_done_fn *done;
	void *arg;
	int cancelled;		/* written under the lock, read by run() atomically */
	struct job *next;
};

struct job_list {
	struct job *head, *tail;
	size_t n;
};

/* What the workers share with the loop; freed by whoever leaves last
 * (the loop in fetcher_destroy, or a worker it stopped waiting for). */
struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job_list todo, running, done;
	int stop, efd, refs;
	size_t own_queued, *queued;	/* atomic: jobs waiting, here or in every fetcher sharing it */
};

struct fetcher {
	struct shared *sh;
	struct ev_loop *ev;
	pthread_t *threads;
	unsigned nthreads;
	size_t max_queue;
	uint64_t next_id;
};

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static struct job *list_pop(struct job_list *l)
{
	struct job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
	}
	return j;
}

/* Remove j (known to be in l). */
static void list_remove(struct job_list *l, struct job *j)
{
	struct job *prev = NULL;
	for (struct job *k = l->head; k; prev = k, k = k->next) {
		if (k != j)
			continue;
		if (prev)
			prev->next = k->next;
		else
			l->head = k->next;
		if (l->tail == k)
			l->tail = prev;
		l->n--;
		return;
	}
}

static struct job *list_find(const struct job_list *l, uint64_t id)
{
	for (struct job *k = l->head; k; k = k->next)
		if (k->id == id)
			return k;
	return NULL;
}

/* Drop one reference (the lock held); frees sh when it was the last. */
static void shared_unref_locked(struct shared *sh)
{
	int last = --sh->refs == 0;
	pthread_mutex_unlock(&sh->mu);
	if (last) {
		pthread_mutex_destroy(&sh->mu);
		pthread_cond_destroy(&sh->cv);
		free(sh);
	}
}

static void *worker(void *p)
{
	struct shared *sh = p;
	pthread_mutex_lock(&sh->mu);
	for (;;) {
		while (!sh->todo.head && !sh->stop)
			pthread_cond_wait(&sh->cv, &sh->mu);
		if (sh->stop)
			break;
		struct job *j = list_pop(&sh->todo);
		__atomic_sub_fetch(sh->queued, 1, __ATOMIC_RELAXED);
		list_push(&sh->running, j);
		pthread_mutex_unlock(&sh->mu);
		j->run(j->arg, &j->cancelled);
		pthread_mutex_lock(&sh->mu);
		list_remove(&sh->running, j);
		if (sh->stop) {
			/* fetcher_destroy stopped waiting for us: nobody is left
			 * to take the result. */
			pthread_mutex_unlock(&sh->mu);
			j->done(j->arg, 1);
			free(j);
			pthread_mutex_lock(&sh->mu);
			break;
		}
		list_push(&sh->done, j);
		uint64_t one = 1;
		if (write(sh->efd, &one, sizeof one) < 0) {
			/* an eventfd counter cannot overflow here */
		}
	}
	shared_unref_locked(sh);
	return NULL;
}

/* The eventfd: finished jobs, delivered one at a time so that a done()
 * may cancel a job finished in the same round. */
static void on_done(struct ev_loop *ev, int fd, void *data, int mask)
{
	struct fetcher *f = data;
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0) {
		/* EAGAIN: another round took them */
	}
	for (;;) {
		pthread_mutex_lock(&f->sh->mu);
		struct job *j = list_pop(&f->sh->done);
		pthread_mutex_unlock(&f->sh->mu);
		if (!j)
			break;
		j->done(j->arg, j->cancelled);
		free(j);
	}
}

int fetcher_create(struct fetcher **out, struct ev_loop *ev, unsigned nthreads, size_t max_queue,
		   struct cerr *err)
{
	struct fetcher *f = calloc(1, sizeof *f);
	struct shared *sh = calloc(1, sizeof *sh);
	int rc = 0;
	*out = NULL;
	if (!f || !sh || !nthreads || !(f->threads = calloc(nthreads, sizeof *f->threads))) {
		free(sh);
		if (f)
			free(f->threads);
		free(f);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	f->sh = sh;
	f->ev = ev;
	f->max_queue = max_queue;
	f->next_id = 1;
	sh->refs = 1;
	sh->queued = &sh->own_queued;
	sh->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sh->efd < 0 || pthread_mutex_init(&sh->mu, NULL) != 0 || pthread_cond_init(&sh->cv, NULL) != 0) {
		rc = cerr_sys(err, COMPAT_EIO, "fetch queue");
		if (sh->efd >= 0)
			close(sh->efd);
		free(f->threads);
		free(f);
		free(sh);
		return rc;
	}
	if ((rc = ev_file_add(ev, sh->efd, EV_READ, on_done, f)) < 0) {
		cerr_set(err, rc, "fetch queue: cannot watch its eventfd");
		goto fail;
	}
	/* Workers take no signals: the loop reads them from its signalfd. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_mutex_lock(&sh->mu);
		sh->refs++;
		pthread_mutex_unlock(&sh->mu);
		int e = pthread_create(&f->threads[i], NULL, worker, sh);
		if (e != 0) {
			pthread_mutex_lock(&sh->mu);
			sh->refs--;
			pthread_mutex_unlock(&sh->mu);
			errno = e;
			rc = cerr_sys(err, COMPAT_EIO, "fetch worker");
			break;
		}
		f->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		goto fail;
	*out = f;
	return 0;
fail:
	fetcher_destroy(f, 0);
	return rc;
}

int fetcher_submit(struct fetcher *f, fetcher_run_fn *run, fetcher_done_fn *done, void *arg,
		   uint64_t *id)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return COMPAT_ENOMEM;
	pthread_mutex_lock(&f->sh->mu);
	if (__atomic_add_fetch(f->sh->queued, 1, __ATOMIC_RELAXED) > f->max_queue) {
		__atomic_sub_fetch(f->sh->queued, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&f->sh->mu);
		free(j);
		return COMPAT_ELIMIT;
	}
	j->id = f->next_id++;
	j->run = run;
	j->done = done;
	j->arg = arg;
	list_push(&f->sh->todo, j);
	pthread_cond_signal(&f->sh->cv);
	pthread_mutex_unlock(&f->sh->mu);
	if (id)
		*id = j->id;
	return 0;
}

void fetcher_cancel(struct fetcher *f, uint64_t id)
{
	struct shared *sh = f->sh;
	pthread_mutex_lock(&sh->mu);
	struct job *j = list_find(&sh->todo, id);
	if (j) {
		list_remove(&sh->todo, j);
		__atomic_sub_fetch(sh->queued, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&sh->mu);
		j->done(j->arg, 1);
		free(j);
		return;
	}
	if (!(j = list_find(&sh->running, id)))
		j = list_find(&sh->done, id);
	if (j)
		__atomic_store_n(&j->cancelled, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&sh->mu);
}

void fetcher_share_queue(struct fetcher *f, size_t *queued)
{
	pthread_mutex_lock(&f->sh->mu);
	if (!f->sh->todo.n)
		f->sh->queued = queued;
	pthread_mutex_unlock(&f->sh->mu);
}

size_t fetcher_queued(struct fetcher *f)
{
	pthread_mutex_lock(&f->sh->mu);
	size_t n = f->sh->todo.n;
	pthread_mutex_unlock(&f->sh->mu);
	return n;
}

int fetcher_destroy(struct fetcher *f, int64_t wait_ms)
{
	if (!f)
		return 0;
	struct shared *sh = f->sh;
	struct job_list drop = { 0 };
	struct job *j;
	int rc = 0;
	ev_file_del(f->ev, sh->efd, EV_READ | EV_WRITE);
	pthread_mutex_lock(&sh->mu);
	sh->stop = 1;
	while ((j = list_pop(&sh->todo))) {
		__atomic_sub_fetch(sh->queued, 1, __ATOMIC_RELAXED);
		list_push(&drop, j);
	}
	while ((j = list_pop(&sh->done)))
		list_push(&drop, j);
	for (j = sh->running.head; j; j = j->next)
		__atomic_store_n(&j->cancelled, 1, __ATOMIC_RELAXED);
	close(sh->efd);		/* workers write it only while !stop */
	sh->efd = -1;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	while ((j = list_pop(&drop))) {
		j->done(j->arg, 1);
		free(j);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	for (unsigned i = 0; i < f->nthreads; i++)
		if (pthread_timedjoin_np(f->threads[i], NULL, &until) != 0) {
			pthread_detach(f->threads[i]);
			rc = COMPAT_ELIMIT;
		}
	pthread_mutex_lock(&sh->mu);
	shared_unref_locked(sh);
	free(f->threads);
	free(f);
	return rc;
}
