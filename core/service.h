/* The gRPC methods compat serves, on decoded bytes (no I/O): given a
 * method path and one request message, produce a status and one response
 * message. The h2 module frames them; the loop moves the bytes. */
#ifndef COMPAT_SERVICE_H
#define COMPAT_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "hostindex.h"

#define SERVICE_NAME "convergedcomputing.org.grpc.v1.CompatibilityService"

struct service {
	struct host_index *idx;		/* owned by the caller; may be replaced on reload */
	const char *const *allow;	/* registry hosts allowed in uri requests */
	size_t nallow;
	int serving;			/* health: 1 SERVING, 0 NOT_SERVING (draining) */
};

struct service_fetch;	/* a registry fetch, run off the event loop */

struct service_reply {
	int status;		/* grpc_status */
	char message[256];	/* for grpc-message when status != 0 */
	uint8_t *body;		/* encoded response message (malloc'd; NULL with an error status) */
	size_t len;
	struct service_fetch *fetch;	/* non-NULL: no answer yet; run the fetch, then finish */
};

/* The blocking part of a uri request: fetch the artifact (through the
 * cache). Runs on a worker thread; touches nothing of the service. */
void service_fetch_run(struct service_fetch *f);

/* Back on the loop: judge what was fetched and fill *r (as service_call
 * would). Frees f. */
void service_fetch_finish(struct service *s, struct service_fetch *f, struct service_reply *r);

/* Drop a fetch whose stream is gone. */
void service_fetch_free(struct service_fetch *f);

/* Run the method at path ("/package.Service/Method") on msg. Always fills
 * *r (caller frees r->body); unknown methods give GRPC_UNIMPLEMENTED,
 * undecodable messages GRPC_INVALID_ARGUMENT. A request naming an allowed
 * registry uri comes back with r->fetch set: the caller runs it off the
 * loop (service_fetch_run) and then calls service_fetch_finish. */
void service_call(struct service *s, const char *path, const uint8_t *msg, size_t len,
		  struct service_reply *r);

/* 1 when path names a method this service has. */
int service_has_method(const char *path);

#endif
