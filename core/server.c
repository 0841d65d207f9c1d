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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct server;
struct pending;

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

struct server {
	struct ev_loop *ev;
	int lfd, reserve_fd;
	struct service *svc;
	struct server_opts o;
	struct h2_budget budget;
	struct fetcher *fetch, *scan;
	struct conn *conns, *dead;
	size_t nconns;
	int draining, goaway_sent, accept_paused;
	int64_t drain_deadline, goaway_at;
	size_t since_trim;		/* request bytes handled since the last malloc_trim */
};

static void conn_flush(struct conn *c);
static void on_conn(struct ev_loop *ev, int fd, void *data, int mask);

int server_listen(const char *addr, int *fd_out, char *bound, size_t cap, struct cerr *err)
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
	service_work_finish(c->srv->svc, p->w, &r);
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
	service_call(c->srv->svc, path, msg, len, &r);
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
		if (s->nconns >= s->o.max_conns && !evict_one(s)) {
			close(fd);	/* full of connections at work */
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_new(s, fd, &peer);
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
	if (s->svc->dirs)
		dircache_expire(s->svc->dirs, now);
	if (!s->draining && s->o.stale && s->o.stale(s->o.ctx) && s->o.reload(s->o.ctx) == 0 && s->svc->dirs)
		dircache_clear(s->svc->dirs);
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
	s->svc->serving = 0;
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

static void on_signal(struct ev_loop *ev, int signo, void *data)
{
	struct server *s = data;
	if (signo == SIGHUP) {
		if (s->o.reload && s->o.reload(s->o.ctx) == 0 && s->svc->dirs)
			dircache_clear(s->svc->dirs);
	} else {
		start_drain(s);
	}
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

int server_run(int listen_fd, struct service *svc, const struct server_opts *o, struct cerr *err)
{
	struct server s = { .lfd = listen_fd, .reserve_fd = -1, .svc = svc, .o = *o };
	size_t fd_limit;
	int rc = 0;
	s.o.max_conns = server_clamp_conns(o->max_conns, &fd_limit);
	s.budget.max = o->max_buffer;
	s.o.lim.budget = &s.budget;
	signal(SIGPIPE, SIG_IGN);
	json_object_seed(0);	/* jansson's one global, set before a worker uses it */
	if ((rc = ev_create(&s.ev, (int)fd_limit + 16, err)) < 0)
		goto out;
	if ((rc = ev_signal_add(s.ev, SIGTERM, on_signal, &s)) < 0 || (rc = ev_signal_add(s.ev, SIGINT, on_signal, &s)) < 0 ||
	    (rc = ev_signal_add(s.ev, SIGHUP, on_signal, &s)) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "signalfd");
		goto out;
	}
	if ((rc = fetcher_create(&s.fetch, s.ev, o->fetch_workers, o->max_queue, err)) < 0 ||
	    (rc = fetcher_create(&s.scan, s.ev, o->scan_workers, o->max_queue, err)) < 0)
		goto out;
	if ((rc = dircache_new(&svc->dirs, 16, 20000, 30000)) < 0) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	s.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if ((rc = ev_file_add(s.ev, s.lfd, EV_READ, on_accept, &s)) < 0 ||
	    ev_timer_add(s.ev, TICK_MS, on_tick, &s) < 0) {
		rc = cerr_set(err, rc < 0 ? rc : COMPAT_ENOMEM, "cannot watch the listening socket");
		goto out;
	}
	ev_set_before_sleep(s.ev, before_sleep, &s);
	svc->serving = 1;
	rc = ev_run(s.ev, err);
out:
	while (s.conns)
		conn_close(s.conns);
	/* Workers still busy are not waited for past the drain deadline. */
	int64_t left = s.draining ? s.drain_deadline - clock_now_ms() : 0;
	fetcher_destroy(s.fetch, left > 100 ? left : 100);
	fetcher_destroy(s.scan, left > 100 ? left : 100);
	if (s.ev)
		before_sleep(s.ev, &s);	/* frees the closed connections */
	dircache_free(svc->dirs);
	svc->dirs = NULL;
	if (s.reserve_fd >= 0)
		close(s.reserve_fd);
	if (s.lfd >= 0)
		close(s.lfd);
	ev_destroy(s.ev);
	return rc;
}
