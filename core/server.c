/* Connections, accepting and off-loop work on the event loop.
 *
 * A connection is closed at once (its descriptor leaves the loop, its
 * work is cancelled) but freed only in the loop's before-sleep hook, after
 * the batch of events that closed it: nothing in that batch can reach
 * freed memory through it. Work handed to a worker refers to its
 * connection through a struct pending, which the connection unlinks (and
 * whose job it cancels) when it closes or the stream goes away. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "fetcher.h"
#include "grpc.h"
#include "clock.h"
#include "server.h"

/* Descriptors kept free for everything but client connections: the
 * loop's own, workers' sockets and files, the host index's libraries. */
#define FD_RESERVE 64
#define TICK_MS 250
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_BATCH 64
/* Between the shutdown notice and the final GOAWAY: a round trip. */
#define GOAWAY_DELAY_MS 200
#define TRIM_BYTES (1u << 20)
#define TRIM_FREE (8u << 20)
#define STALE_MS 1000
#define MAX_LOOPS 256

struct server;
struct pending;

/* What the loops share: the bounds the issue calls "total", and the way
 * the control thread (signals, rebuilds) reaches them. Counters atomic. */
struct group {
	struct server *loops;
	unsigned n;
	size_t nconns;			/* connections of all loops (--max-connections) */
	struct h2_budget budget;	/* buffered bytes of all loops (--max-buffer) */
	size_t queued[2];		/* jobs waiting: fetches, directory reads (--max-queue) */
	int draining;			/* set once by the control thread */
	int ctl_fd;			/* eventfd: a loop has ended */
	unsigned started, ended;	/* loop threads (control thread only) */
	struct ev_loop *ctl;
	const struct server_opts *o;
};

/* A connection accepted by one loop and handed to a less busy one. */
struct handoff {
	int fd;
	struct sockaddr_storage peer;
	struct handoff *next;
};

struct conn {
	struct server *srv;
	int fd;
	struct h2_conn *h;
	struct tls_conn *tls;		/* NULL on plaintext connections */
	int handshaking, closed, got_bytes, mask;
	int64_t born_ms;
	char peer[64];			/* the client's address; only with a request log */
	struct pending *work;		/* off-loop jobs of this connection's streams */
	size_t nwork;
	struct conn *prev, *next;	/* newest first */
};

/* A request's work on a worker. conn is NULL once the connection or the
 * stream is gone (then the job is cancelled and only freed). */
struct pending {
	struct conn *conn;
	int32_t stream_id;
	struct service_work *w;
	struct fetcher *pool;
	uint64_t job;
	int64_t started_ms;
	struct pending *prev, *next;
};

/* One loop (one thread): its connections, workers and caches. */
struct server {
	struct group *g;
	struct ev_loop *ev;
	int lfd, reserve_fd;
	struct service svc;		/* this loop's (service_open) */
	int svc_open;
	struct server_opts o;
	struct fetcher *fetch, *scan;
	struct conn *conns, *dead;
	size_t nconns;
	size_t load;			/* atomic: nconns plus connections handed to it */
	int draining, goaway_sent, accept_paused;
	int64_t drain_deadline, goaway_at;
	size_t since_trim;		/* request bytes handled since the last malloc_trim */
	int wake_fd;			/* eventfd: handoffs waiting, or drain */
	pthread_mutex_t inbox_mu;
	struct handoff *inbox;
	pthread_t thread;
	int started, rc;
	struct cerr err;
};

static void conn_flush(struct conn *c);
static void on_conn(struct ev_loop *ev, int fd, void *data, int mask);

static int listen_one(const char *addr, int reuseport, int *fd_out, char *bound, size_t cap, struct cerr *err)
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
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
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
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		snprintf(bound, cap, "[%s]:%d", ip, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(bound, cap, "%s:%d", ip, ntohs(s4->sin_port));
	}
	*fd_out = fd;
out:
	freeaddrinfo(res);
	return rc;
}

int server_listen(const char *addr, unsigned n, int *fds, char *bound, size_t cap, struct cerr *err)
{
	char again[300];
	int rc;
	if (n < 1 || n > MAX_LOOPS)
		return cerr_set(err, COMPAT_EINVAL, "%u listening sockets: from 1 to %d", n, MAX_LOOPS);
	if ((rc = listen_one(addr, n > 1, &fds[0], bound, cap, err)) < 0)
		return rc;
	/* The others on the port the first one got (port 0: any). */
	const char *colon = strrchr(addr, ':'), *port = strrchr(bound, ':');
	snprintf(again, sizeof again, "%.*s%s", (int)(colon - addr), addr, port);
	for (unsigned i = 1; i < n; i++) {
		char b[128];
		if ((rc = listen_one(again, 1, &fds[i], b, sizeof b, err)) < 0) {
			while (i--)
				close(fds[i]);
			return rc;
		}
	}
	return 0;
}

static size_t fd_reserve(size_t limit)
{
	return limit >= 2 * FD_RESERVE ? FD_RESERVE : limit / 2;
}

size_t server_clamp_conns(size_t want, size_t *fd_limit)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		*fd_limit = 1024;
		return want < 1024 - FD_RESERVE ? want : 1024 - FD_RESERVE;
	}
	rlim_t need = (rlim_t)want + FD_RESERVE;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
		struct rlimit nl = { to, rl.rlim_max };
		if (to > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = to;
	}
	size_t limit = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 24) ? (1u << 24) : (size_t)rl.rlim_cur;
	*fd_limit = limit;
	size_t room = limit - fd_reserve(limit);
	return want < room ? want : room;
}

/* ---- connections ---- */

static void conn_set_mask(struct conn *c, int mask)
{
	if (c->closed || mask == c->mask)
		return;
	struct server *s = c->srv;
	ev_file_del(s->ev, c->fd, c->mask & ~mask);
	if (mask & ~c->mask)
		ev_file_add(s->ev, c->fd, mask & ~c->mask, on_conn, c);
	c->mask = mask;
}

static void pending_unlink(struct pending *p)
{
	struct conn *c = p->conn;
	if (!c)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		c->work = p->next;
	if (p->next)
		p->next->prev = p->prev;
	c->nwork--;
	p->conn = NULL;
	p->prev = p->next = NULL;
}

/* The stream or the connection is gone: stop its job. */
static void pending_cancel(struct pending *p)
{
	pending_unlink(p);
	fetcher_cancel(p->pool, p->job);	/* may free p (a job still waiting) */
}

/* A connection counted for s (at accept) is gone. */
static void uncount(struct server *s)
{
	__atomic_sub_fetch(&s->g->nconns, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&s->load, 1, __ATOMIC_RELAXED);
}

/* Close c now; it is freed before the loop sleeps again. */
static void conn_close(struct conn *c)
{
	struct server *s = c->srv;
	if (c->closed)
		return;
	while (c->work)
		pending_cancel(c->work);
	ev_file_del(s->ev, c->fd, EV_READ | EV_WRITE);
	c->closed = 1;
	close(c->fd);
	h2_conn_free(c->h);
	c->h = NULL;
	tls_conn_free(c->tls);
	c->tls = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	uncount(s);
	c->prev = NULL;
	c->next = s->dead;
	s->dead = c;
}

static void conn_events(struct conn *c)
{
	size_t pending;
	h2_conn_output(c->h, &pending);
	conn_set_mask(c, (h2_conn_backlogged(c->h) ? 0 : EV_READ) | (pending ? EV_WRITE : 0));
}

/* Write what is pending; closes c when it is broken or finished. */
static void conn_flush(struct conn *c)
{
	if (c->closed || c->handshaking)
		return;
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
				return conn_close(c);
		} else {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				return conn_close(c);
			}
		}
		h2_conn_consumed(c->h, (size_t)n);
	}
	if (h2_conn_done(c->h))
		return conn_close(c);
	conn_events(c);
}

/* Drive the TLS handshake; 1 done, 0 wait (c may be closed). */
static int conn_handshake(struct conn *c)
{
	int rc = tls_conn_handshake(c->tls, NULL);
	if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
		conn_set_mask(c, rc == TLS_WANT_READ ? EV_READ : EV_WRITE);
		return 0;
	}
	if (rc < 0) {
		conn_close(c);
		return 0;
	}
	c->handshaking = 0;
	c->got_bytes = 1;
	return 1;
}

static void conn_read(struct conn *c)
{
	uint8_t buf[65536];
	if (c->handshaking && !conn_handshake(c))
		return;
	for (int rounds = 0; rounds < 16 && !c->closed && !h2_conn_backlogged(c->h); rounds++) {
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
		if (n == 0)
			return conn_close(c);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return conn_close(c);
		}
		c->got_bytes = 1;
		c->srv->since_trim += (size_t)n;
		if (h2_conn_feed(c->h, buf, (size_t)n) < 0)
			break;	/* broken: flush the GOAWAY, then close */
		/* A short read emptied the socket: no recv() just to hear
		 * EAGAIN (epoll is level-triggered: more bytes wake us). TLS
		 * may hold decrypted records back: it reads on. */
		if (!c->tls && (size_t)n < sizeof buf)
			break;
	}
	conn_flush(c);
}

static void on_conn(struct ev_loop *ev, int fd, void *data, int mask)
{
	struct conn *c = data;
	if (c->closed)
		return;
	if ((mask & EV_READ) || c->handshaking)
		conn_read(c);
	else if (mask & EV_WRITE)
		conn_flush(c);
}

/* ---- work off the loop ---- */

static void start_work(struct conn *c, int32_t id, struct service_work *w, int stage);

static void run_work(void *arg, const int *cancelled)
{
	struct pending *p = arg;
	service_work_run(p->w, cancelled);
}

static void reply(struct conn *c, int32_t id, struct service_reply *r)
{
	if (r->work)
		return start_work(c, id, r->work, r->stage);
	if (c->srv->o.log)
		h2_conn_note(c->h, id, r->verdict);
	h2_conn_reply(c->h, id, r->status, r->message, r->body, r->len);
}

/* Back on the loop (or, cancelled, on a worker the server stopped
 * waiting for: then only free). */
static void work_done(void *arg, int cancelled)
{
	struct pending *p = arg;
	struct conn *c = p->conn;
	if (cancelled || !c) {
		service_work_free(p->w);
		free(p);
		return;
	}
	pending_unlink(p);
	struct service_reply r;
	service_work_finish(&c->srv->svc, p->w, &r);
	reply(c, p->stream_id, &r);
	free(p);
	conn_flush(c);
}

static void start_work(struct conn *c, int32_t id, struct service_work *w, int stage)
{
	struct server *s = c->srv;
	struct pending *p = calloc(1, sizeof *p);
	char m[200];
	int rc = COMPAT_ENOMEM;
	if (c->nwork >= s->o.max_jobs_per_conn) {
		snprintf(m, sizeof m, "this connection has %zu requests waiting for a registry or a directory "
			 "already; try again when they are answered", c->nwork);
		rc = COMPAT_ELIMIT;
	} else if (p) {
		p->conn = c;
		p->stream_id = id;
		p->w = w;
		p->pool = stage == SERVICE_FETCH ? s->fetch : s->scan;
		p->started_ms = clock_now_ms();
		if ((rc = fetcher_submit(p->pool, run_work, work_done, p, &p->job)) == COMPAT_ELIMIT)
			snprintf(m, sizeof m, "the server's queue of %s is full; try again later",
				 stage == SERVICE_FETCH ? "registry fetches" : "directory reads");
	}
	if (rc < 0) {
		free(p);
		service_work_free(w);
		h2_conn_reply(c->h, id, GRPC_RESOURCE_EXHAUSTED, rc == COMPAT_ELIMIT ? m : "out of memory", NULL, 0);
		return;
	}
	p->next = c->work;
	if (c->work)
		c->work->prev = p;
	c->work = p;
	c->nwork++;
}

/* h2's handler: a complete request. */
static void on_request(void *ctx, struct h2_conn *h, int32_t id, const char *path, const uint8_t *msg,
		       size_t len)
{
	struct conn *c = ctx;
	struct service_reply r;
	service_call(&c->srv->svc, path, msg, len, &r);
	reply(c, id, &r);
}

/* h2's handler: server reflection is a streaming call. */
static int on_streaming(void *ctx, const char *path)
{
	return service_is_streaming(path);
}

/* h2's handler, with a request log: a request ended. */
static void on_done(void *ctx, struct h2_conn *h, int32_t id, const struct h2_call *call)
{
	struct conn *c = ctx;
	c->srv->o.log(c->srv->o.ctx, c->peer, call);
}

/* h2's handler: the stream of a request went away. */
static void on_cancel(void *ctx, struct h2_conn *h, int32_t id)
{
	struct conn *c = ctx;
	for (struct pending *p = c->work; p; p = p->next)
		if (p->stream_id == id)
			return pending_cancel(p);
}

/* ---- accepting ---- */

/* Which connection goes when a new one finds the server full: one with
 * no request in progress, in this order: never used for a request (a TLS
 * handshake, a preface, nothing), then one whose requests are all still
 * arriving (the slow-sender pattern), then an idle one that has been
 * served; the oldest (longest idle) first. Returns the rank, 0 for
 * "never". */
static int evict_rank(const struct conn *c, int64_t *since)
{
	*since = c->born_ms * 1000000;
	if (c->handshaking || !h2_conn_requests(c->h))
		return 3;
	if (h2_conn_pending(c->h))
		return 0;	/* at work for its client */
	if (h2_conn_streams(c->h))
		return 2;
	*since = h2_conn_idle_since(c->h);
	return 1;
}

/* 1 when a connection was closed to make room. */
static int evict_one(struct server *s)
{
	struct conn *best = NULL;
	int64_t best_t = 0;
	int best_rank = 0;
	for (struct conn *c = s->conns; c; c = c->next) {
		int64_t t;
		int rank = evict_rank(c, &t);
		if (rank > best_rank || (rank == best_rank && rank && t < best_t)) {
			best = c;
			best_rank = rank;
			best_t = t;
		}
	}
	if (!best)
		return 0;
	if (!best->handshaking) {
		h2_conn_terminate(best->h, best_rank == 2 ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_NO_ERROR);
		conn_flush(best);	/* one try at the GOAWAY */
	}
	conn_close(best);
	return 1;
}

static int64_t resume_accept(struct ev_loop *ev, int64_t id, void *data);
static void on_accept(struct ev_loop *ev, int fd, void *data, int mask);

static void pause_accept(struct server *s)
{
	if (s->accept_paused || s->lfd < 0)
		return;
	ev_file_del(s->ev, s->lfd, EV_READ);
	if (ev_timer_add(s->ev, ACCEPT_PAUSE_MS, resume_accept, s) > 0)
		s->accept_paused = 1;
	else
		ev_file_add(s->ev, s->lfd, EV_READ, on_accept, s);
}

static int64_t resume_accept(struct ev_loop *ev, int64_t id, void *data)
{
	struct server *s = data;
	s->accept_paused = 0;
	if (!s->draining && s->lfd >= 0)
		ev_file_add(s->ev, s->lfd, EV_READ, on_accept, s);
	return EV_NOMORE;
}

/* Out of descriptors: give the reserve up for a moment to accept and
 * close the waiting client (it sees the connection close instead of
 * hanging), then take it back. */
static void shed_one(struct server *s)
{
	if (s->reserve_fd >= 0) {
		close(s->reserve_fd);
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* "1.2.3.4:5", "[::1]:5" (an IPv4-mapped address as IPv4). */
static void format_peer(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, sizeof ip);
			snprintf(out, cap, "%s:%d", ip, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
			snprintf(out, cap, "[%s]:%d", ip, ntohs(s6->sin6_port));
		}
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		snprintf(out, cap, "%s:%d", ip, ntohs(s4->sin_port));
	} else {
		snprintf(out, cap, "-");
	}
}

static void conn_new(struct server *s, int fd, const struct sockaddr_storage *peer)
{
	struct conn *c = calloc(1, sizeof *c);
	struct h2_handler hd = { .request = on_request, .cancel = on_cancel, .streaming = on_streaming,
				 .done = s->o.log ? on_done : NULL, .ctx = c };
	if (!c || h2_conn_new(&c->h, &s->o.lim, &hd) < 0)
		goto fail;
	if (s->o.log)
		format_peer(peer, c->peer, sizeof c->peer);
	c->srv = s;
	c->fd = fd;
	c->born_ms = clock_now_ms();
	if (s->o.tls) {
		if (tls_conn_new(&c->tls, s->o.tls, fd, NULL, NULL) < 0)
			goto fail;
		c->handshaking = 1;
	}
	if (ev_file_add(s->ev, fd, EV_READ, on_conn, c) < 0)
		goto fail;
	c->mask = EV_READ;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (!c->handshaking)
		conn_flush(c);	/* our SETTINGS; over TLS they wait for the handshake */
	return;
fail:
	if (c) {
		h2_conn_free(c->h);
		tls_conn_free(c->tls);
	}
	free(c);
	close(fd);
	uncount(s);
}

/* The loop with the fewest connections (s itself on a tie): connections
 * are spread evenly whichever socket the kernel gave them to. */
static struct server *least_loaded(struct server *s)
{
	struct server *best = s;
	size_t best_load = __atomic_load_n(&s->load, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < s->g->n; i++) {
		struct server *t = &s->g->loops[i];
		size_t l = __atomic_load_n(&t->load, __ATOMIC_RELAXED);
		if (l < best_load) {
			best = t;
			best_load = l;
		}
	}
	return best;
}

static void wake(struct server *t)
{
	uint64_t one = 1;
	if (write(t->wake_fd, &one, sizeof one) < 0) {
		/* an eventfd counter cannot overflow here */
	}
}

/* Give fd to loop t (counted for it already); 0, or -1 out of memory. */
static int hand_over(struct server *t, int fd, const struct sockaddr_storage *peer)
{
	struct handoff *h = malloc(sizeof *h);
	if (!h)
		return -1;
	h->fd = fd;
	h->peer = *peer;
	pthread_mutex_lock(&t->inbox_mu);
	h->next = t->inbox;
	t->inbox = h;
	pthread_mutex_unlock(&t->inbox_mu);
	wake(t);
	return 0;
}

static void on_accept(struct ev_loop *ev, int lfd, void *data, int mask)
{
	struct server *s = data;
	for (int i = 0; i < ACCEPT_BATCH && !s->draining; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof peer;
		int fd = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				shed_one(s);
				pause_accept(s);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				pause_accept(s);	/* ENOBUFS, ENOMEM: let it pass */
			}
			return;
		}
		/* --max-connections counts every loop's; this loop makes
		 * room among its own. */
		if (__atomic_load_n(&s->g->nconns, __ATOMIC_RELAXED) >= s->o.max_conns && !evict_one(s)) {
			close(fd);	/* full of connections at work */
			continue;
		}
		__atomic_add_fetch(&s->g->nconns, 1, __ATOMIC_RELAXED);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct server *t = least_loaded(s);
		__atomic_add_fetch(&t->load, 1, __ATOMIC_RELAXED);
		if (t == s || hand_over(t, fd, &peer) < 0) {
			if (t != s) {
				__atomic_sub_fetch(&t->load, 1, __ATOMIC_RELAXED);
				__atomic_add_fetch(&s->load, 1, __ATOMIC_RELAXED);
			}
			conn_new(s, fd, &peer);
		}
	}
}

/* ---- time ---- */

static void start_drain(struct server *s);

static int64_t on_tick(struct ev_loop *ev, int64_t id, void *data)
{
	struct server *s = data;
	int64_t now = clock_now_ms();
	for (struct conn *c = s->conns, *n; c; c = n) {
		n = c->next;
		if ((c->handshaking || !c->got_bytes) && now - c->born_ms > s->o.handshake_ms) {
			conn_close(c);
			continue;
		}
		if (c->handshaking)
			continue;
		/* Work that takes too long is given up (a hung file system,
		 * a registry that trickles). */
		for (struct pending *p = c->work, *pn; p; p = pn) {
			pn = p->next;
			if (now - p->started_ms <= s->o.job_ms)
				continue;
			int32_t sid = p->stream_id;
			pending_cancel(p);
			char m[120];
			snprintf(m, sizeof m, "the registry or the library directories did not answer within %d ms",
				 s->o.job_ms);
			h2_conn_reply(c->h, sid, GRPC_DEADLINE_EXCEEDED, m, NULL, 0);
		}
		h2_conn_tick(c->h, now * 1000000);
		int64_t idle = h2_conn_idle_since(c->h);
		if (idle && now - idle / 1000000 > s->o.idle_ms)
			h2_conn_terminate(c->h, NGHTTP2_NO_ERROR);
		conn_flush(c);
	}
	service_refresh(&s->svc);	/* an idle loop lets an old index go */
	if (s->svc.dirs)
		dircache_expire(s->svc.dirs, now);
	/* Large requests leave freed heap behind: give it back once there
	 * is enough of it (trimming each time costs page faults later). */
	if (s->since_trim > TRIM_BYTES) {
		s->since_trim = 0;
		if (mallinfo2().fordblks > TRIM_FREE)
			malloc_trim(0);
	}
	return TICK_MS;
}

static int64_t on_drain_tick(struct ev_loop *ev, int64_t id, void *data)
{
	struct server *s = data;
	int64_t now = clock_now_ms();
	if (!s->goaway_sent && now >= s->goaway_at) {
		s->goaway_sent = 1;
		for (struct conn *c = s->conns, *n; c; c = n) {
			n = c->next;
			h2_conn_shutdown(c->h);
			conn_flush(c);
		}
	}
	if (s->conns && now >= s->drain_deadline) {
		/* Out of time: the requests still in progress are told. */
		for (struct conn *c = s->conns, *n; c; c = n) {
			n = c->next;
			while (c->work) {
				int32_t sid = c->work->stream_id;
				pending_cancel(c->work);
				h2_conn_reply(c->h, sid, GRPC_UNAVAILABLE, "the server is shutting down", NULL, 0);
			}
			conn_flush(c);	/* the answers first: a terminating session sends nothing more */
			if (c->closed)
				continue;
			h2_conn_terminate(c->h, NGHTTP2_NO_ERROR);
			conn_flush(c);
			conn_close(c);
		}
	}
	if (!s->conns) {
		ev_stop(s->ev);
		return EV_NOMORE;
	}
	return 50;
}

/* Stop accepting; tell every client (GOAWAY), let requests finish. */
static void start_drain(struct server *s)
{
	if (s->draining)
		return;
	s->draining = 1;
	s->svc.serving = 0;
	int64_t now = clock_now_ms();
	s->drain_deadline = now + s->o.drain_ms;
	s->goaway_at = now + GOAWAY_DELAY_MS;
	if (s->lfd >= 0) {
		ev_file_del(s->ev, s->lfd, EV_READ);
		close(s->lfd);	/* new clients are refused, not left waiting */
		s->lfd = -1;
	}
	for (struct conn *c = s->conns, *n; c; c = n) {
		n = c->next;
		if (c->handshaking) {
			conn_close(c);
			continue;
		}
		h2_conn_shutdown_notice(c->h);
		conn_flush(c);
	}
	if (ev_timer_add(s->ev, 0, on_drain_tick, s) < 0)
		ev_stop(s->ev);
}

/* The eventfd of a loop: connections handed to it, or the drain. */
static void on_wake(struct ev_loop *ev, int fd, void *data, int mask)
{
	struct server *s = data;
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0) {
		/* EAGAIN: taken in an earlier round */
	}
	pthread_mutex_lock(&s->inbox_mu);
	struct handoff *h = s->inbox;
	s->inbox = NULL;
	pthread_mutex_unlock(&s->inbox_mu);
	while (h) {
		struct handoff *next = h->next;
		if (s->draining) {
			close(h->fd);
			uncount(s);
		} else {
			conn_new(s, h->fd, &h->peer);
		}
		free(h);
		h = next;
	}
	if (__atomic_load_n(&s->g->draining, __ATOMIC_ACQUIRE))
		start_drain(s);
}

/* Before the loop sleeps: TLS records already decrypted (the socket will
 * not signal them again), then the connections closed in this round. */
static void before_sleep(struct ev_loop *ev, void *data)
{
	struct server *s = data;
	if (s->o.tls)
		for (struct conn *c = s->conns, *n; c; c = n) {
			n = c->next;
			if (c->tls && !c->handshaking && tls_conn_pending(c->tls) && !h2_conn_backlogged(c->h))
				conn_read(c);
		}
	while (s->dead) {
		struct conn *c = s->dead;
		s->dead = c->next;
		free(c);
	}
}

static void *loop_main(void *arg)
{
	struct server *s = arg;
	char name[16];
	snprintf(name, sizeof name, "loop %u", (unsigned)(s - s->g->loops));
	pthread_setname_np(pthread_self(), name);	/* for top, perf, tests */
	s->rc = ev_run(s->ev, &s->err);
	uint64_t one = 1;
	if (write(s->g->ctl_fd, &one, sizeof one) < 0) {
		/* an eventfd counter cannot overflow here */
	}
	return NULL;
}

/* Set one loop up (on the control thread, before any loop runs). */
static int loop_open(struct group *g, struct server *s, int lfd, const struct service *svc, struct cerr *err)
{
	const struct server_opts *o = g->o;
	size_t fd_limit;
	int rc;
	s->g = g;
	s->lfd = lfd;
	s->reserve_fd = -1;
	s->wake_fd = -1;
	s->o = *o;
	s->o.max_conns = server_clamp_conns(o->max_conns, &fd_limit);
	s->o.lim.budget = &g->budget;
	pthread_mutex_init(&s->inbox_mu, NULL);
	if ((rc = ev_create(&s->ev, (int)fd_limit + 16, err)) < 0)
		return rc;
	/* The workers of each kind, split between the loops; one queue bound. */
	unsigned fw = (o->fetch_workers + g->n - 1) / g->n, sw = (o->scan_workers + g->n - 1) / g->n;
	if ((rc = fetcher_create(&s->fetch, s->ev, fw ? fw : 1, o->max_queue, err)) < 0 ||
	    (rc = fetcher_create(&s->scan, s->ev, sw ? sw : 1, o->max_queue, err)) < 0)
		return rc;
	fetcher_share_queue(s->fetch, &g->queued[0]);
	fetcher_share_queue(s->scan, &g->queued[1]);
	if (service_open(&s->svc, svc) < 0)
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	s->svc_open = 1;
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		return cerr_sys(err, COMPAT_EIO, "eventfd");
	if ((rc = ev_file_add(s->ev, s->lfd, EV_READ, on_accept, s)) < 0 ||
	    (rc = ev_file_add(s->ev, s->wake_fd, EV_READ, on_wake, s)) < 0 ||
	    ev_timer_add(s->ev, TICK_MS, on_tick, s) < 0)
		return cerr_set(err, rc < 0 ? rc : COMPAT_ENOMEM, "cannot watch the listening socket");
	ev_set_before_sleep(s->ev, before_sleep, s);
	s->svc.serving = 1;
	return 0;
}

static void loop_close(struct server *s)
{
	if (!s->g)
		return;
	while (s->conns)
		conn_close(s->conns);
	/* Workers still busy are not waited for past the drain deadline. */
	int64_t left = s->draining ? s->drain_deadline - clock_now_ms() : 0;
	fetcher_destroy(s->fetch, left > 100 ? left : 100);
	fetcher_destroy(s->scan, left > 100 ? left : 100);
	if (s->ev)
		before_sleep(s->ev, s);	/* frees the closed connections */
	while (s->inbox) {
		struct handoff *h = s->inbox;
		s->inbox = h->next;
		close(h->fd);
		free(h);
	}
	if (s->svc_open)
		service_close(&s->svc);
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->lfd >= 0)
		close(s->lfd);
	ev_destroy(s->ev);
	pthread_mutex_destroy(&s->inbox_mu);
}

/* ---- the control thread: signals, rebuilds, the end ---- */

static void group_drain(struct group *g)
{
	if (__atomic_exchange_n(&g->draining, 1, __ATOMIC_ACQ_REL))
		return;
	for (unsigned i = 0; i < g->n; i++)
		wake(&g->loops[i]);
}

static void on_signal(struct ev_loop *ev, int signo, void *data)
{
	struct group *g = data;
	if (signo == SIGHUP) {
		if (g->o->reload)
			g->o->reload(g->o->ctx);	/* the loops take the new index themselves */
	} else {
		group_drain(g);
	}
}

static int64_t on_stale_tick(struct ev_loop *ev, int64_t id, void *data)
{
	struct group *g = data;
	if (!__atomic_load_n(&g->draining, __ATOMIC_ACQUIRE) && g->o->stale && g->o->stale(g->o->ctx) &&
	    g->o->reload)
		g->o->reload(g->o->ctx);
	return STALE_MS;
}

/* A loop ended: when all have, so has the server. A loop that failed
 * takes the others down with it (drained). */
static void on_loop_end(struct ev_loop *ev, int fd, void *data, int mask)
{
	struct group *g = data;
	uint64_t n;
	if (read(fd, &n, sizeof n) < 0)
		return;
	g->ended += (unsigned)n;
	group_drain(g);
	if (g->ended >= g->started)
		ev_stop(ev);
}

int server_run(const int *listen_fds, unsigned nloops, struct service *svc, const struct server_opts *o,
	       struct cerr *err)
{
	struct group g = { .n = nloops, .ctl_fd = -1, .o = o };
	int rc = 0;
	g.budget.max = o->max_buffer;
	signal(SIGPIPE, SIG_IGN);
	json_object_seed(0);	/* jansson's one global, set before another thread uses it */
	if (nloops < 1 || nloops > MAX_LOOPS || !(g.loops = calloc(nloops, sizeof *g.loops))) {
		for (unsigned i = 0; i < nloops && i < MAX_LOOPS; i++)
			close(listen_fds[i]);
		return cerr_set(err, nloops ? COMPAT_ENOMEM : COMPAT_EINVAL, "cannot set %u loops up", nloops);
	}
	for (unsigned i = 0; i < nloops; i++) {
		g.loops[i].lfd = listen_fds[i];
		g.loops[i].reserve_fd = g.loops[i].wake_fd = -1;
	}
	/* The signals are this thread's: blocked here before the loops
	 * start, they are blocked in every loop and worker. */
	if ((rc = ev_create(&g.ctl, 64, err)) < 0)
		goto out;
	if (ev_signal_add(g.ctl, SIGTERM, on_signal, &g) < 0 || ev_signal_add(g.ctl, SIGINT, on_signal, &g) < 0 ||
	    ev_signal_add(g.ctl, SIGHUP, on_signal, &g) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "signalfd");
		goto out;
	}
	if ((g.ctl_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "eventfd");
		goto out;
	}
	if ((rc = ev_file_add(g.ctl, g.ctl_fd, EV_READ, on_loop_end, &g)) < 0 ||
	    (rc = (int)ev_timer_add(g.ctl, STALE_MS, on_stale_tick, &g)) < 0) {
		cerr_set(err, rc, "cannot watch the loops");
		goto out;
	}
	for (unsigned i = 0; i < nloops; i++)
		if ((rc = loop_open(&g, &g.loops[i], listen_fds[i], svc, err)) < 0)
			goto out;
	for (unsigned i = 0; i < nloops; i++) {
		int e = pthread_create(&g.loops[i].thread, NULL, loop_main, &g.loops[i]);
		if (e != 0) {
			errno = e;
			rc = cerr_sys(err, COMPAT_EIO, "loop thread");
			group_drain(&g);
			break;
		}
		g.loops[i].started = 1;
		g.started++;
	}
	if (g.started && (rc == 0 || g.ended < g.started)) {
		int crc = ev_run(g.ctl, rc < 0 ? NULL : err);
		if (rc == 0)
			rc = crc;
	}
	for (unsigned i = 0; i < nloops; i++)
		if (g.loops[i].started) {
			pthread_join(g.loops[i].thread, NULL);
			if (rc == 0 && g.loops[i].rc < 0) {
				rc = g.loops[i].rc;
				if (err)
					*err = g.loops[i].err;
			}
		}
out:
	for (unsigned i = 0; i < nloops; i++) {
		if (!g.loops[i].g) {	/* never set up: only its socket */
			if (g.loops[i].lfd >= 0)
				close(g.loops[i].lfd);
			continue;
		}
		loop_close(&g.loops[i]);
	}
	free(g.loops);
	if (g.ctl_fd >= 0)
		close(g.ctl_fd);
	ev_destroy(g.ctl);
	return rc;
}
