/* The gRPC methods compat serves, on decoded bytes (no sockets): given a
 * method path and one request message, produce a status and one response
 * message. The h2 module frames them; the server module moves the bytes.
 *
 * What a request makes the server do is bounded here: needs and symbols
 * judged, reply size, directories named. Work that would block or read
 * files a request names (a registry fetch, reading library_path and
 * search-path directories) is not done in service_call: it comes back as
 * a struct service_work for the caller to run off its loop
 * (service_work_run), after which service_work_finish answers (or asks for
 * the next step). */
#ifndef COMPAT_SERVICE_H
#define COMPAT_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "dirscan.h"
#include "hostindex.h"

#define SERVICE_NAME "convergedcomputing.org.grpc.v1.CompatibilityService"

struct service {
	struct host_index *idx;		/* the index judged against: the caller's, or (with
					 * slot) a reference to the slot's current one */
	struct index_slot *slot;	/* shared by the server's loops; NULL: idx is fixed */
	unsigned long gen;		/* the slot's generation idx is of */
	const char *const *allow;	/* registry hosts allowed in uri requests (and their redirects) */
	size_t nallow;
	struct dirscan_limits scan;	/* request-named directories, --allow-path */
	struct dircache *dirs;		/* indexes of request-named directories; NULL: not kept */
	struct memo *memo;		/* CheckCompatibility answers by request (memo.h); NULL: none */
	size_t memo_entries, memo_bytes;	/* its bounds, per loop (service_open); 0: no memo */
	size_t max_needs;		/* host needs per artifact (RESOURCE_EXHAUSTED beyond); 0: any */
	size_t max_symbols;		/* symbols per artifact; 0: any */
	size_t max_reply;		/* encoded Response bytes; 0: any */
	int fetch_timeout_ms;		/* per registry request; 0: 10 s */
	int serving;			/* health: 1 SERVING, 0 NOT_SERVING (draining) */
};

/* A service for one loop (thread) from a template: the same settings, its
 * own directory cache and memo of answers, and its own reference to the slot's index when the
 * template has a slot. Returns 0 or COMPAT_ENOMEM. service_close frees
 * what it took. */
int service_open(struct service *s, const struct service *tmpl);
void service_close(struct service *s);

/* Take the slot's index if a newer one was published since (dropping the
 * caches of the old one); one atomic load when not. service_call does it
 * first; a loop's timer does it too, so that an idle loop lets an old
 * index go. */
void service_refresh(struct service *s);

/* Where a piece of work runs: registry fetches and directory reads have
 * their own workers, so that a slow registry does not hold up the rest. */
enum service_stage { SERVICE_FETCH = 1, SERVICE_SCAN = 2 };

struct service_work;

/* What a CheckCompatibility answer said, for a request log. */
enum service_verdict {
	SERVICE_VERDICT_NONE = 0,	/* not a CheckCompatibility answer */
	SERVICE_COMPATIBLE,
	SERVICE_INCOMPATIBLE,
	SERVICE_ERROR,			/* Response status ERROR: a bad artifact */
	SERVICE_DENIED,			/* Response status DENIED: by policy */
};

struct service_reply {
	int status;		/* grpc_status */
	int verdict;		/* enum service_verdict */
	char message[256];	/* for grpc-message when status != 0 */
	uint8_t *body;		/* encoded response message (malloc'd; NULL with an error status) */
	size_t len;
	struct service_work *work;	/* non-NULL: no answer yet; run it (stage), then finish */
	int stage;			/* enum service_stage of work */
};

/* Run the method at path ("/package.Service/Method") on msg (read during
 * the call only; for a streaming method, one of its messages). Always fills *r (caller frees r->body): an answer, or
 * r->work to run. Unknown methods give GRPC_UNIMPLEMENTED, undecodable
 * messages GRPC_INVALID_ARGUMENT, requests over a bound
 * GRPC_RESOURCE_EXHAUSTED. */
void service_call(struct service *s, const char *path, const uint8_t *msg, size_t len,
		  struct service_reply *r);

/* The blocking part, on a worker thread: touches nothing of the service.
 * cancelled (see fetcher.h) may end it early. */
void service_work_run(struct service_work *w, const int *cancelled);

/* Back on the loop: answer from what the work found, or set r->work
 * again for a next step. Takes w. */
void service_work_finish(struct service *s, struct service_work *w, struct service_reply *r);

/* Drop work whose client went away. */
void service_work_free(struct service_work *w);

/* 1 when path names a method this service has. */
int service_has_method(const char *path);

/* 1 when path names a streaming method (server reflection): service_call
 * answers each of its request messages, and the transport keeps the call
 * open for the next (h2.h). */
int service_is_streaming(const char *path);

#endif
