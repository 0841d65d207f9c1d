/* The server's event loop: one thread, epoll, non-blocking sockets. It
 * owns the listening socket and the connections (each an h2_conn) and is
 * the only server code that touches file descriptors. */
#ifndef COMPAT_LOOP_H
#define COMPAT_LOOP_H

#include <stddef.h>

#include "err.h"
#include "h2.h"
#include "service.h"
#include "tls.h"

struct loop_opts {
	struct tls_config *tls;		/* NULL: plaintext h2c */
	size_t max_conns;		/* more are accepted and closed at once */
	int idle_ms;			/* a connection with no request in flight is closed after this */
	int handshake_ms;		/* a connection that sent nothing is closed after this */
	int drain_ms;			/* SIGTERM: how long in-flight requests may take */
	struct h2_limits lim;
	int (*reload)(void *ctx);	/* SIGHUP, or stale() said so: rebuild the index */
	int (*stale)(void *ctx);	/* polled about once a second */
	void *ctx;
};

/* Bind and listen on "HOST:PORT" ("[::]:50051", "127.0.0.1:0"); [::] takes
 * IPv4 too. The address actually bound goes to bound ("[::]:50051").
 * Returns 0, COMPAT_EINVAL (bad address), COMPAT_EIO. */
int loop_listen(const char *addr, int *fd, char *bound, size_t cap, struct cerr *err);

/* Serve until SIGTERM/SIGINT (blocked here and read through a signalfd),
 * then stop accepting, finish in-flight requests and return 0. */
int loop_run(int listen_fd, struct service *svc, const struct loop_opts *o, struct cerr *err);

#endif
