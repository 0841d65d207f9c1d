/* libFuzzer: the cache directory's stats file parser (compat-trace.stats,
 * read by compat trace --from-cache from a directory it did not write). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/libcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct libcache_stats st;
	static const char head[] = "compat-trace-stats 1\nlibrary-opens-ok 1\n";
	libcache_stats_parse((const char *)data, size, &st);
	/* and behind a valid start, which the fuzzer would rarely guess */
	char *buf = malloc(sizeof head - 1 + size);
	if (!buf)
		return 0;
	memcpy(buf, head, sizeof head - 1);
	if (size)
		memcpy(buf + sizeof head - 1, data, size);
	libcache_stats_parse(buf, sizeof head - 1 + size, &st);
	free(buf);
	return 0;
}
