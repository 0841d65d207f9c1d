/* The gRPC server on an event loop (ev.h): accepting, connections (each an
 * h2_conn, over TLS when configured), and the work requests hand off the
 * loop (fetcher.h). It owns every socket; h2 and the service see bytes.
 *
 * Bounds it keeps (each configurable, see compat serve --help and
 * docs/serve.md): connections (clamped to the descriptor limit; when full,
 * the oldest connection with no request in progress is evicted), buffered
 * request and reply bytes per connection and in total (h2.h), a deadline
 * for requests that never complete, idle and handshake timeouts, off-loop
 * jobs per connection, queued jobs, and how long a job may take. accept()
 * backs off when descriptors run out, with a reserve descriptor to turn the
 * waiting client away. SIGTERM/SIGINT drain gracefully within drain_ms.
 *
 * Everything lives in the server_run call (no globals). It runs one event
 * loop per thread, each with its own listening socket (SO_REUSEPORT), its
 * connections, workers and struct service (service_open: its caches, its
 * reference to the shared host index); a new connection goes to the loop
 * with the fewest. Bounds on the whole server (connections, buffered
 * bytes, queued jobs) are counted across loops; those per connection stay
 * per connection. The calling thread is the control thread: it takes the
 * signals (SIGTERM/SIGINT: every loop drains; SIGHUP: reload), polls
 * stale() and waits for the loops to end. */
#ifndef COMPAT_SERVER_H
#define COMPAT_SERVER_H

#include <stddef.h>

#include "err.h"
#include "h2.h"
#include "service.h"
#include "tls.h"

struct server_opts {
	struct tls_config *tls;		/* NULL: plaintext h2c */
	size_t max_conns;		/* connections at once (see server_clamp_conns) */
	int idle_ms;			/* a connection with no stream open is closed after this */
	int handshake_ms;		/* a connection silent (or in its TLS handshake) this long is closed */
	int drain_ms;			/* SIGTERM: how long in-flight requests may take */
	int job_ms;			/* off-loop work of one request: DEADLINE_EXCEEDED after this */
	struct h2_limits lim;		/* per connection (lim.budget is set by the server) */
	size_t max_buffer;		/* buffered bytes of all connections, beyond their reserves */
	unsigned fetch_workers;		/* threads for registry fetches */
	unsigned scan_workers;		/* threads for request-named directories */
	size_t max_queue;		/* jobs waiting for a worker, per kind */
	size_t max_jobs_per_conn;	/* off-loop jobs in progress per connection */
	int (*reload)(void *ctx);	/* SIGHUP, or stale() said so: rebuild the index (control thread) */
	int (*stale)(void *ctx);	/* polled about once a second (control thread) */
	/* A request log (compat serve --log): called once per request when
	 * its stream ends, however it ends, with the client's address
	 * ("127.0.0.1:5000", "[::1]:5000") and what became of the request
	 * (call->note: the enum service_verdict of its answer). NULL: no log,
	 * and no work done for one. Called from every loop's thread. */
	void (*log)(void *ctx, const char *peer, const struct h2_call *call);
	void *ctx;
};

/* Bind n sockets (one per loop, 1 to 256; SO_REUSEPORT when n > 1) to
 * "HOST:PORT" ("[::]:50051", "127.0.0.1:0": all on the port the first
 * got) and listen, into fds[0..n). [::] takes IPv4 too. The address
 * actually bound goes to bound ("[::]:50051"). Returns 0, COMPAT_EINVAL
 * (bad address), COMPAT_EIO. */
int server_listen(const char *addr, unsigned n, int *fds, char *bound, size_t cap, struct cerr *err);

/* Raise the soft descriptor limit as far as want connections need (and
 * the hard limit allows); returns how many connections the limit leaves
 * room for (want, or fewer), and the limit in *fd_limit. */
size_t server_clamp_conns(size_t want, size_t *fd_limit);

/* Serve with n loops, loop i on listen_fds[i] (all taken: closed when
 * draining starts), until SIGTERM/SIGINT (read through a signalfd of the
 * calling thread, which blocks them), then drain every loop: stop
 * accepting, GOAWAY, finish in-flight requests within o->drain_ms, close.
 * Workers still busy then are not waited for. svc is the template of each
 * loop's service (service_open); its idx, or the index of its slot, must
 * be a full index (it is shared). o->reload and o->stale run on the
 * calling thread: reload publishes a new index in svc->slot, and each loop
 * takes it before its next request. Each loop has ceil(fetch_workers / n)
 * and ceil(scan_workers / n) workers. Returns 0, COMPAT_EINVAL,
 * COMPAT_ENOMEM, COMPAT_EIO. */
int server_run(const int *listen_fds, unsigned n, struct service *svc, const struct server_opts *o,
	       struct cerr *err);

#endif
