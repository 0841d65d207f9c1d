/* The service behind h2 for tests and fuzz targets that have no loop: a
 * request is answered at once, and work that would go off the loop (a
 * registry fetch, directory scans) is answered UNAVAILABLE. An
 * h2_handler's request callback; ctx is the struct service. */
#ifndef H2SERVICE_H
#define H2SERVICE_H

#include "core/grpc.h"
#include "core/h2.h"
#include "core/service.h"

static inline void h2service_call(void *ctx, struct h2_conn *c, int32_t id, const char *path, const uint8_t *msg,
				  size_t len)
{
	struct service_reply r;
	service_call(ctx, path, msg, len, &r);
	if (r.work) {
		service_work_free(r.work);
		h2_conn_reply(c, id, GRPC_UNAVAILABLE, "no workers here", NULL, 0);
		return;
	}
	h2_conn_reply(c, id, r.status, r.message, r.body, r.len);
}

#endif
