/* Client connections for compat's clients (check --host, the registry):
 * resolve, connect with a deadline, and move bytes over the socket or TLS.
 * Blocking with poll() deadlines: clients only, never the server loop. */
#ifndef COMPAT_NET_H
#define COMPAT_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "tls.h"

struct net_conn {
	int fd;
	struct tls_conn *tls;	/* NULL: plaintext */
	struct tls_config *cfg;	/* owned when TLS */
	int64_t deadline;	/* CLOCK_MONOTONIC ms */
	const int *cancelled;	/* set after net_connect: non-zero ends a wait early (read atomically) */
};

/* Split "host:port" or "[v6]:port" (default_port when there is none). */
int net_split_host(const char *addr, const char *default_port, char *host, size_t hcap, char *port,
		   size_t pcap, struct cerr *err);

/* Connect to addr within timeout_ms; with ca_file (or use_tls and the
 * system bundle), TLS offering alpn and checking tls_name (default: the
 * host). Returns 0; COMPAT_EUNREACH with the address in the message. */
int net_connect(struct net_conn *c, const char *addr, const char *default_port, int timeout_ms,
		int use_tls, const char *ca_file, const char *const *alpn, const char *tls_name,
		struct cerr *err);

/* Send all of buf: 0; COMPAT_EUNREACH (the connection failed, errno
 * set); COMPAT_ELIMIT (the deadline passed, or *cancelled was set). */
int net_send_all(struct net_conn *c, const void *buf, size_t len);

/* > 0 bytes, 0 closed, or as net_send_all: COMPAT_EUNREACH, COMPAT_ELIMIT. */
ssize_t net_recv(struct net_conn *c, void *buf, size_t len);

void net_close(struct net_conn *c);

#endif
