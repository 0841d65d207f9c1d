#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ev.h"

struct ev_file {
	int mask;		/* EV_NONE: not registered */
	uint32_t gen;		/* bumped on each new registration of this fd */
	ev_file_fn *fn;
	void *data;
};

struct ev_timer {
	int64_t id;		/* 0: deleted, swept after the timers ran */
	int64_t when;		/* clock_now_ms() */
	ev_timer_fn *fn;
	void *data;
};

struct ev_signal {
	ev_signal_fn *fn;
	void *data;
};

struct ev_loop {
	int ep, setsize, stop;
	struct ev_file *files;
	struct epoll_event *fired;
	struct ev_timer *timers;
	size_t ntimers, timers_cap;
	int64_t next_timer_id;
	int sfd;		/* signalfd, -1 until the first ev_signal_add */
	sigset_t sigs;
	struct ev_signal sig[65];
	ev_hook_fn *before_sleep;
	void *before_sleep_data;
};

#define MAX_FIRED 128

int ev_create(struct ev_loop **out, int setsize, struct cerr *err)
{
	struct ev_loop *l = calloc(1, sizeof *l);
	*out = NULL;
	if (!l || setsize <= 0)
		goto oom;
	l->ep = l->sfd = -1;
	l->setsize = setsize;
	l->next_timer_id = 1;
	sigemptyset(&l->sigs);
	l->files = calloc((size_t)setsize, sizeof *l->files);
	l->fired = calloc(MAX_FIRED, sizeof *l->fired);
	if (!l->files || !l->fired)
		goto oom;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	if (l->ep < 0) {
		int rc = cerr_sys(err, COMPAT_EIO, "epoll_create1");
		ev_destroy(l);
		return rc;
	}
	*out = l;
	return 0;
oom:
	ev_destroy(l);
	return cerr_set(err, COMPAT_ENOMEM, "out of memory");
}

void ev_destroy(struct ev_loop *l)
{
	if (!l)
		return;
	if (l->ep >= 0)
		close(l->ep);
	if (l->sfd >= 0)
		close(l->sfd);
	free(l->files);
	free(l->fired);
	free(l->timers);
	free(l);
}

static uint32_t epoll_mask(int mask)
{
	return (mask & EV_READ ? EPOLLIN : 0) | (mask & EV_WRITE ? EPOLLOUT : 0);
}

int ev_file_add(struct ev_loop *l, int fd, int mask, ev_file_fn *fn, void *data)
{
	if (fd < 0 || fd >= l->setsize)
		return COMPAT_ELIMIT;
	struct ev_file *f = &l->files[fd];
	int op = f->mask == EV_NONE ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	int nmask = f->mask | mask;
	uint32_t gen = op == EPOLL_CTL_ADD ? f->gen + 1 : f->gen;
	struct epoll_event ev = { .events = epoll_mask(nmask), .data.u64 = (uint64_t)gen << 32 | (uint32_t)fd };
	if (op == EPOLL_CTL_MOD && nmask == f->mask && f->fn == fn && f->data == data)
		return 0;
	if (epoll_ctl(l->ep, op, fd, &ev) < 0)
		return COMPAT_EIO;
	f->gen = gen;
	f->mask = nmask;
	f->fn = fn;
	f->data = data;
	return 0;
}

void ev_file_del(struct ev_loop *l, int fd, int mask)
{
	if (fd < 0 || fd >= l->setsize || l->files[fd].mask == EV_NONE)
		return;
	struct ev_file *f = &l->files[fd];
	int nmask = f->mask & ~mask;
	if (nmask == f->mask)
		return;
	if (nmask == EV_NONE) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
		f->mask = EV_NONE;
		f->fn = NULL;
		f->data = NULL;
		return;
	}
	struct epoll_event ev = { .events = epoll_mask(nmask), .data.u64 = (uint64_t)f->gen << 32 | (uint32_t)fd };
	epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev);
	f->mask = nmask;
}

int ev_file_mask(const struct ev_loop *l, int fd)
{
	return fd < 0 || fd >= l->setsize ? EV_NONE : l->files[fd].mask;
}

int64_t ev_timer_add(struct ev_loop *l, int64_t ms, ev_timer_fn *fn, void *data)
{
	if (l->ntimers == l->timers_cap) {
		size_t ncap = l->timers_cap ? l->timers_cap * 2 : 8;
		struct ev_timer *nt = realloc(l->timers, ncap * sizeof *nt);
		if (!nt)
			return COMPAT_ENOMEM;
		l->timers = nt;
		l->timers_cap = ncap;
	}
	struct ev_timer *t = &l->timers[l->ntimers++];
	t->id = l->next_timer_id++;
	t->when = clock_now_ms() + (ms > 0 ? ms : 0);
	t->fn = fn;
	t->data = data;
	return t->id;
}

void ev_timer_del(struct ev_loop *l, int64_t id)
{
	for (size_t i = 0; i < l->ntimers; i++)
		if (l->timers[i].id == id)
			l->timers[i].id = 0;
}

int ev_signal_add(struct ev_loop *l, int signo, ev_signal_fn *fn, void *data)
{
	if (signo <= 0 || signo > 64)
		return COMPAT_EINVAL;
	sigaddset(&l->sigs, signo);
	if (pthread_sigmask(SIG_BLOCK, &l->sigs, NULL) != 0)
		return COMPAT_EIO;
	int fd = signalfd(l->sfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return COMPAT_EIO;
	l->sig[signo].fn = fn;
	l->sig[signo].data = data;
	if (l->sfd < 0) {
		l->sfd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = UINT64_MAX };
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			return COMPAT_EIO;
	}
	return 0;
}

void ev_set_before_sleep(struct ev_loop *l, ev_hook_fn *fn, void *data)
{
	l->before_sleep = fn;
	l->before_sleep_data = data;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = 1;
}

static void read_signals(struct ev_loop *l)
{
	struct signalfd_siginfo si;
	while (read(l->sfd, &si, sizeof si) == (ssize_t)sizeof si)
		if (si.ssi_signo <= 64 && l->sig[si.ssi_signo].fn)
			l->sig[si.ssi_signo].fn(l, (int)si.ssi_signo, l->sig[si.ssi_signo].data);
}

/* Milliseconds until the next timer (-1: none). */
static int wait_ms(const struct ev_loop *l)
{
	int64_t now = clock_now_ms(), best = -1;
	for (size_t i = 0; i < l->ntimers; i++) {
		if (!l->timers[i].id)
			continue;
		int64_t d = l->timers[i].when - now;
		if (d < 0)
			d = 0;
		if (best < 0 || d < best)
			best = d;
	}
	return best > 1000000 ? 1000000 : (int)best;
}

static void run_timers(struct ev_loop *l)
{
	int64_t now = clock_now_ms();
	/* Timers added by a callback wait for the next round (n is fixed). */
	size_t n = l->ntimers;
	for (size_t i = 0; i < n; i++) {
		struct ev_timer *t = &l->timers[i];
		if (!t->id || t->when > now)
			continue;
		int64_t id = t->id;
		ev_timer_fn *fn = t->fn;
		void *data = t->data;
		int64_t again = fn(l, id, data);
		t = &l->timers[i];	/* the array may have moved */
		if (t->id != id)
			continue;	/* deleted by its callback */
		if (again == EV_NOMORE)
			t->id = 0;
		else
			t->when = clock_now_ms() + (again > 0 ? again : 0);
	}
	size_t k = 0;
	for (size_t i = 0; i < l->ntimers; i++)
		if (l->timers[i].id)
			l->timers[k++] = l->timers[i];
	l->ntimers = k;
}

int ev_run(struct ev_loop *l, struct cerr *err)
{
	l->stop = 0;
	while (!l->stop) {
		if (l->before_sleep)
			l->before_sleep(l, l->before_sleep_data);
		if (l->stop)
			break;
		int n = epoll_wait(l->ep, l->fired, MAX_FIRED, wait_ms(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cerr_sys(err, COMPAT_EIO, "epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			uint64_t u = l->fired[i].data.u64;
			uint32_t ev = l->fired[i].events;
			if (u == UINT64_MAX) {
				read_signals(l);
				continue;
			}
			int fd = (int)(uint32_t)u;
			uint32_t gen = (uint32_t)(u >> 32);
			struct ev_file *f = &l->files[fd];
			int mask = (ev & (EPOLLIN | EPOLLERR | EPOLLHUP) ? EV_READ : 0) | (ev & EPOLLOUT ? EV_WRITE : 0);
			/* Deleted (or deleted and registered anew) earlier in this
			 * batch: this event is not for the current owner. */
			if (f->mask == EV_NONE || f->gen != gen)
				continue;
			/* An error or hang-up goes to whichever side is watched. */
			mask = ev & (EPOLLERR | EPOLLHUP) ? f->mask : mask & f->mask;
			if (mask)
				f->fn(l, fd, f->data, mask);
		}
		run_timers(l);
	}
	return 0;
}
