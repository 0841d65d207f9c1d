/* libFuzzer: the request messages as the service decodes them (nanopb),
 * for each method, against the host index. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/hostindex.h"
#include "core/reflection.h"
#include "core/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct host_index *idx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"/" SERVICE_NAME "/CheckCompatibility",
		"/" SERVICE_NAME "/LocateLibraries",
		"/grpc.health.v1.Health/Check",
		REFLECTION_PATH_V1,
	};
	if (!idx) {
		struct index_opts o = { 0 };
		if (index_build(&o, &idx, NULL) < 0)
			abort();
	}
	struct service svc = { .idx = idx, .serving = 1 };
	if (!size)
		return 0;
	struct service_reply r;
	service_call(&svc, paths[data[0] % 4], data + 1, size - 1, &r);
	free(r.body);
	service_work_free(r.work);	/* work for a worker (a registry, directories): not run here */
	return 0;
}
