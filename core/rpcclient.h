/* The client side of the service (compat check --host): unary
 * CheckCompatibility calls over HTTP/2 (h2c or TLS with ALPN h2) with
 * nghttp2 and nanopb. Several servers are asked at once from one poll()
 * loop, one connection each, each with its own deadline (the fleet
 * question: which of these nodes can run it?). A client, so it may block
 * in poll() and in name resolution; it is never used by the server. */
#ifndef COMPAT_RPCCLIENT_H
#define COMPAT_RPCCLIENT_H

#include <stddef.h>

#include "err.h"
#include "verdict.h"

#define RPC_DEFAULT_PORT "50051"	/* the prototype's port */
#define RPC_MAX_HOSTS 1024		/* asked at once */

struct rpc_opts {
	const char *const *library_path;	/* sent as CompatRequest.library_path */
	size_t nlibrary_path;
	int timeout_ms;				/* per host, for the whole call; 0: 10 s */
	const char *tls_ca;			/* non-NULL: TLS (ALPN h2), trusting this CA file */
	const char *tls_name;			/* name checked in the server's certificate; NULL: the host */
};

/* One server's answer. rc is 0 (v holds the verdict: verdict_free) or the
 * error of rpc_check_remote (err says why, naming the address). */
struct rpc_result {
	int rc;
	struct cerr err;
	struct verdict v;
};

/* Ask the server at addr ("host", "host:port", "[v6]:port"; the port
 * defaults to 50051) to judge payload (an artifact's JSON). Fills *v
 * (verdict_free) from the reply: the JSON report when the server sends
 * compat's, else the Response's findings.
 * Returns 0; COMPAT_EUNREACH (cannot connect, TLS handshake failed,
 * connection lost: the address and, where it helps, a hint are in the
 * message); COMPAT_EPROTO (gRPC error status, bad reply, deadline);
 * COMPAT_EINVAL (the server could not read the artifact, or denied it);
 * COMPAT_ELIMIT (payload over 4 MiB); COMPAT_ENOMEM. */
int rpc_check_remote(const char *addr, const struct rpc_opts *o, const char *payload, size_t len,
		     struct verdict *v, struct cerr *err);

/* The same question to n servers at once. res[i] answers addrs[i] (the
 * caller frees each res[i].v with verdict_free). Returns 0 when every
 * call was made (each may still have failed: see res[i].rc), or
 * COMPAT_EINVAL (n is 0 or over RPC_MAX_HOSTS), COMPAT_ELIMIT,
 * COMPAT_ENOMEM (then res holds nothing to free). */
int rpc_check_many(const char *const *addrs, size_t n, const struct rpc_opts *o, const char *payload,
		   size_t len, struct rpc_result *res, struct cerr *err);

#endif
