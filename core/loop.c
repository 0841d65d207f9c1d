#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

struct conn {
	int fd;
	struct h2_conn *h;
	struct tls_conn *tls;		/* NULL on plaintext connections */
	int handshaking;
	int64_t born_ms, active_ms;
	int got_bytes, reading, writing;
	int closed;			/* closed, freed after the current batch of events */
	struct conn *prev, *next;
};

/* A registry fetch in flight: queued for the worker, then done. conn is
 * cleared (under the lock) when the connection closes first. */
struct job {
	struct conn *conn;
	int32_t stream_id;
	struct service_fetch *f;
	struct job *next;
};

/* One worker thread runs the blocking fetches; results come back to the
 * loop through an eventfd, and the loop answers the streams. */
struct fetcher {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, *running, *done;
	int efd, stop, started;
};

struct loop {
	int ep, lfd, sfd;
	struct fetcher fx;
	struct service *svc;
	const struct loop_opts *o;
	struct conn *conns;
	struct conn *dead;		/* closed during this batch of events (linked by next) */
	size_t nconns;
	int draining;
	int64_t drain_deadline;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int loop_listen(const char *addr, int *fd_out, char *bound, size_t cap, struct cerr *err)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || !colon[1])
		return cerr_set(err, COMPAT_EINVAL, "%s: expected HOST:PORT", addr);
	size_t hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof host)
		return cerr_set(err, COMPAT_EINVAL, "%s: host too long", addr);
	memcpy(host, addr, hl);
	host[hl] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &res);
	if (g != 0)
		return cerr_set(err, COMPAT_EINVAL, "%s: %s", addr, gai_strerror(g));
	int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0, rc = 0;
	if (fd < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "socket");
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 512) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", addr);
		close(fd);
		goto out;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		port = ntohs(s6->sin6_port);
		snprintf(bound, cap, "[%s]:%d", ip, port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		port = ntohs(s4->sin_port);
		snprintf(bound, cap, "%s:%d", ip, port);
	}
	*fd_out = fd;
out:
	freeaddrinfo(res);
	return rc;
}

static void set_events(struct loop *l, struct conn *c, int want_read, int want_write)
{
	if (want_read == c->reading && want_write == c->writing)
		return;
	struct epoll_event ev = { .events = (want_read ? EPOLLIN : 0) | (want_write ? EPOLLOUT : 0),
				  .data.ptr = c };
	epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->reading = want_read;
	c->writing = want_write;
}

static void conn_events(struct loop *l, struct conn *c)
{
	int want_read = !l->draining || h2_conn_streams(c->h) > 0;
	want_read = want_read && !h2_conn_backlogged(c->h);
	size_t pending;
	h2_conn_output(c->h, &pending);
	set_events(l, c, want_read, pending > 0);
}

static void orphan_jobs(struct fetcher *fx, struct conn *c)
{
	if (!fx->started)
		return;
	pthread_mutex_lock(&fx->mu);
	for (struct job *j = fx->todo; j; j = j->next)
		if (j->conn == c)
			j->conn = NULL;
	if (fx->running && fx->running->conn == c)
		fx->running->conn = NULL;
	for (struct job *j = fx->done; j; j = j->next)
		if (j->conn == c)
			j->conn = NULL;
	pthread_mutex_unlock(&fx->mu);
}

/* Close c now, free it after the batch: a later event of the same
 * epoll_wait batch may still name it (it is skipped, c->closed). */
static void conn_close(struct loop *l, struct conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	orphan_jobs(&l->fx, c);
	epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	h2_conn_free(c->h);
	c->h = NULL;
	tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nconns--;
	c->prev = NULL;
	c->next = l->dead;
	l->dead = c;
}

static void free_dead(struct loop *l)
{
	while (l->dead) {
		struct conn *c = l->dead;
		l->dead = c->next;
		free(c);
	}
}

/* Write what is pending; 0 ok, -1 the connection is gone. */
static int conn_flush(struct loop *l, struct conn *c)
{
	for (;;) {
		size_t len;
		const uint8_t *p = h2_conn_output(c->h, &len);
		if (!len)
			break;
		ssize_t n;
		if (c->tls) {
			n = tls_conn_write(c->tls, p, len, NULL);
			if (n == TLS_WANT_WRITE || n == TLS_WANT_READ)
				break;
			if (n <= 0)
				return -1;
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				return -1;
			}
		}
		h2_conn_consumed(c->h, (size_t)n);
	}
	if (h2_conn_done(c->h))
		return -1;
	conn_events(l, c);
	return 0;
}

/* Drive the TLS handshake; 1 done, 0 wait, -1 failed. */
static int conn_handshake(struct loop *l, struct conn *c)
{
	int rc = tls_conn_handshake(c->tls, NULL);
	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
		set_events(l, c, rc == TLS_WANT_READ, rc == TLS_WANT_WRITE);
		return 0;
	}
	if (rc < 0)
		return -1;
	c->handshaking = 0;
	return 1;
}

static void conn_read(struct loop *l, struct conn *c)
{
	uint8_t buf[65536];
	if (c->handshaking) {
		int h = conn_handshake(l, c);
		if (h < 0)
			conn_close(l, c);
		if (h <= 0)
			return;
		c->got_bytes = 1;
	}
	for (int rounds = 0; rounds < 16 && !h2_conn_backlogged(c->h); rounds++) {
		ssize_t n;
		if (c->tls) {
			n = tls_conn_read(c->tls, buf, sizeof buf, NULL);
			if (n == TLS_WANT_READ || n == TLS_WANT_WRITE)
				break;
			if (n < 0)
				n = 0;	/* a TLS error ends the connection */
		} else {
			n = recv(c->fd, buf, sizeof buf, 0);
		}
		if (n == 0) {
			conn_close(l, c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_close(l, c);
			return;
		}
		c->got_bytes = 1;
		c->active_ms = now_ms();
		if (h2_conn_feed(c->h, buf, (size_t)n) < 0)
			break;	/* broken: flush the GOAWAY, then close */
	}
	if (conn_flush(l, c) < 0)
		conn_close(l, c);
}

static void *worker(void *arg)
{
	struct fetcher *fx = arg;
	pthread_mutex_lock(&fx->mu);
	for (;;) {
		while (!fx->todo && !fx->stop)
			pthread_cond_wait(&fx->cv, &fx->mu);
		if (fx->stop)
			break;
		struct job *j = fx->todo;
		fx->todo = j->next;
		fx->running = j;
		pthread_mutex_unlock(&fx->mu);
		service_fetch_run(j->f);
		pthread_mutex_lock(&fx->mu);
		fx->running = NULL;
		j->next = fx->done;
		fx->done = j;
		uint64_t one = 1;
		if (write(fx->efd, &one, sizeof one) < 0) {
			/* the counter cannot overflow here; nothing to do */
		}
	}
	pthread_mutex_unlock(&fx->mu);
	return NULL;
}

static void submit(void *ctx, struct h2_conn *h, int32_t id, struct service_fetch *f)
{
	struct loop *l = ctx;
	struct job *j = calloc(1, sizeof *j);
	struct conn *c = l->conns;
	while (c && c->h != h)
		c = c->next;
	if (!j || !c) {
		free(j);
		h2_conn_fetch_done(h, id, f);	/* answers with the fetch's error: nothing fetched */
		return;
	}
	j->conn = c;
	j->stream_id = id;
	j->f = f;
	pthread_mutex_lock(&l->fx.mu);
	struct job **tail = &l->fx.todo;
	while (*tail)
		tail = &(*tail)->next;
	*tail = j;
	pthread_cond_signal(&l->fx.cv);
	pthread_mutex_unlock(&l->fx.mu);
}

/* Fetches the worker finished: answer their streams on the loop. */
static void complete_jobs(struct loop *l)
{
	uint64_t n;
	if (read(l->fx.efd, &n, sizeof n) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&l->fx.mu);
	struct job *done = l->fx.done;
	l->fx.done = NULL;
	pthread_mutex_unlock(&l->fx.mu);
	while (done) {
		struct job *j = done;
		done = j->next;
		if (j->conn) {
			struct conn *c = j->conn;
			h2_conn_fetch_done(c->h, j->stream_id, j->f);
			if (conn_flush(l, c) < 0) {
				for (struct job *k = done; k; k = k->next)
					if (k->conn == c)
						k->conn = NULL;
				conn_close(l, c);
			}
		} else {
			service_fetch_free(j->f);
		}
		free(j);
	}
}

static int fetcher_start(struct loop *l)
{
	struct fetcher *fx = &l->fx;
	json_object_seed(0);	/* jansson's one global, set before a second thread uses it */
	fx->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fx->efd < 0 || pthread_mutex_init(&fx->mu, NULL) != 0 || pthread_cond_init(&fx->cv, NULL) != 0)
		return -1;
	if (pthread_create(&fx->thread, NULL, worker, fx) != 0)
		return -1;
	fx->started = 1;
	return 0;
}

static void fetcher_stop(struct fetcher *fx)
{
	if (fx->started) {
		pthread_mutex_lock(&fx->mu);
		fx->stop = 1;
		pthread_cond_broadcast(&fx->cv);
		pthread_mutex_unlock(&fx->mu);
		pthread_join(fx->thread, NULL);
		struct job *lists[] = { fx->todo, fx->done };
		for (int k = 0; k < 2; k++)
			while (lists[k]) {
				struct job *j = lists[k];
				lists[k] = j->next;
				service_fetch_free(j->f);
				free(j);
			}
		pthread_mutex_destroy(&fx->mu);
		pthread_cond_destroy(&fx->cv);
	}
	if (fx->efd > 0)
		close(fx->efd);
}

static void accept_all(struct loop *l)
{
	for (;;) {
		int fd = accept4(l->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;	/* EAGAIN, or out of descriptors: try on the next event */
		if (l->nconns >= l->o->max_conns) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (!c || h2_conn_new(&c->h, l->svc, &l->o->lim) < 0) {
			free(c);
			close(fd);
			continue;
		}
		h2_conn_set_fetcher(c->h, submit, l);
		c->fd = fd;
		c->born_ms = c->active_ms = now_ms();
		if (l->o->tls) {
			if (tls_conn_new(&c->tls, l->o->tls, fd, NULL, NULL) < 0) {
				h2_conn_free(c->h);
				free(c);
				close(fd);
				continue;
			}
			c->handshaking = 1;
		}
		c->reading = 1;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			h2_conn_free(c->h);
			free(c);
			close(fd);
			continue;
		}
		c->next = l->conns;
		if (l->conns)
			l->conns->prev = c;
		l->conns = c;
		l->nconns++;
		if (c->handshaking)
			continue;	/* our SETTINGS go out once TLS is up */
		if (conn_flush(l, c) < 0)
			conn_close(l, c);
	}
}

static void start_drain(struct loop *l)
{
	if (l->draining)
		return;
	l->draining = 1;
	l->svc->serving = 0;
	l->drain_deadline = now_ms() + l->o->drain_ms;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, l->lfd, NULL);
	for (struct conn *c = l->conns, *n; c; c = n) {
		n = c->next;
		if (c->handshaking) {
			conn_close(l, c);
			continue;
		}
		h2_conn_shutdown(c->h);
		if (conn_flush(l, c) < 0)
			conn_close(l, c);
	}
}

static void tick(struct loop *l)
{
	int64_t now = now_ms();
	for (struct conn *c = l->conns, *n; c; c = n) {
		n = c->next;
		h2_conn_tick(c->h, now * 1000000);
		int idle = h2_conn_streams(c->h) == 0 && now - c->active_ms > l->o->idle_ms;
		int mute = !c->got_bytes && now - c->born_ms > l->o->handshake_ms;
		if (mute) {
			conn_close(l, c);
			continue;
		}
		if (c->handshaking)
			continue;
		if (idle)
			h2_conn_shutdown(c->h);
		if (conn_flush(l, c) < 0 || (idle && h2_conn_streams(c->h) == 0))
			conn_close(l, c);
	}
	if (!l->draining && l->o->stale && l->o->stale(l->o->ctx))
		l->o->reload(l->o->ctx);
}

int loop_run(int listen_fd, struct service *svc, const struct loop_opts *o, struct cerr *err)
{
	struct loop l = { .lfd = listen_fd, .svc = svc, .o = o, .ep = -1, .sfd = -1, .fx = { .efd = -1 } };
	sigset_t mask;
	int rc = 0;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	l.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	l.ep = epoll_create1(EPOLL_CLOEXEC);
	if (l.sfd < 0 || l.ep < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "epoll/signalfd");
		goto out;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l.lfd };
	struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &l.sfd };
	if (epoll_ctl(l.ep, EPOLL_CTL_ADD, l.lfd, &ev) < 0 || epoll_ctl(l.ep, EPOLL_CTL_ADD, l.sfd, &sev) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "epoll_ctl");
		goto out;
	}
	if (fetcher_start(&l) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "fetch worker");
		goto out;
	}
	struct epoll_event fev = { .events = EPOLLIN, .data.ptr = &l.fx.efd };
	if (epoll_ctl(l.ep, EPOLL_CTL_ADD, l.fx.efd, &fev) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "epoll_ctl");
		goto out;
	}
	svc->serving = 1;
	int64_t next_tick = now_ms() + 1000;
	for (;;) {
		if (l.draining && (!l.conns || now_ms() > l.drain_deadline))
			break;
		struct epoll_event evs[64];
		int n = epoll_wait(l.ep, evs, 64, 250);
		if (n < 0 && errno != EINTR) {
			rc = cerr_sys(err, COMPAT_EIO, "epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == &l.lfd) {
				if (!l.draining)
					accept_all(&l);
			} else if (evs[i].data.ptr == &l.fx.efd) {
				complete_jobs(&l);
			} else if (evs[i].data.ptr == &l.sfd) {
				struct signalfd_siginfo si;
				while (read(l.sfd, &si, sizeof si) == sizeof si) {
					if (si.ssi_signo == SIGHUP && o->reload)
						o->reload(o->ctx);
					else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
						start_drain(&l);
				}
			} else {
				struct conn *c = evs[i].data.ptr;
				if (c->closed)
					continue;	/* closed earlier in this batch */
				if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || c->handshaking)
					conn_read(&l, c);	/* may close c */
				else if ((evs[i].events & EPOLLOUT) && conn_flush(&l, c) < 0)
					conn_close(&l, c);
			}
		}
		/* TLS may hold decrypted records the socket no longer signals. */
		if (o->tls)
			for (struct conn *c = l.conns, *nx; c; c = nx) {
				nx = c->next;
				if (c->tls && !c->handshaking && tls_conn_pending(c->tls) &&
				    !h2_conn_backlogged(c->h))
					conn_read(&l, c);
			}
		if (now_ms() >= next_tick) {
			tick(&l);
			next_tick = now_ms() + 1000;
		}
		free_dead(&l);
	}
out:
	while (l.conns)
		conn_close(&l, l.conns);
	free_dead(&l);
	fetcher_stop(&l.fx);
	if (l.ep >= 0)
		close(l.ep);
	if (l.sfd >= 0)
		close(l.sfd);
	return rc;
}
