/* The client side of the service (compat check --host): one unary
 * CheckCompatibility call over HTTP/2 (h2c) with nghttp2 and nanopb. A
 * client, so blocking with poll() and a deadline is fine here. */
#ifndef COMPAT_RPCCLIENT_H
#define COMPAT_RPCCLIENT_H

#include <stddef.h>

#include "err.h"
#include "verdict.h"

struct rpc_opts {
	const char *const *library_path;	/* sent as CompatRequest.library_path */
	size_t nlibrary_path;
	int timeout_ms;				/* whole call; 0: 10 s */
	const char *tls_ca;			/* non-NULL: TLS (ALPN h2), trusting this CA file */
	const char *tls_name;			/* name checked in the server's certificate; NULL: the host */
};

/* Ask the server at addr ("host:port", "[v6]:port") to judge payload (an
 * artifact's JSON). Fills *v (verdict_free) from the reply: the JSON report
 * when the server sends compat's, else the Response's findings.
 * Returns 0; COMPAT_EUNREACH (cannot connect: the address is in the
 * message); COMPAT_EPROTO (gRPC error status, bad reply, deadline);
 * COMPAT_EINVAL (the server could not read the artifact, or denied it). */
int rpc_check_remote(const char *addr, const struct rpc_opts *o, const char *payload, size_t len,
		     struct verdict *v, struct cerr *err);

#endif
