/* libFuzzer: the loader cache map parser (core/audit/auditmap.c), which the
 * LD_AUDIT object runs inside every process of a cached program and
 * compat trace --from-cache runs on a map it did not necessarily write. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit/auditmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auditmap_entry v[64];
	static const char head[] = AUDITMAP_MAGIC "\n";
	size_t n, bad;
	/* as given, and behind a valid first line, which the fuzzer would
	 * rarely guess; the parser writes into its input: copies */
	char *buf = malloc(sizeof head - 1 + size + 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	if (auditmap_parse(buf, size, 2, 62, v, 64, &n, &bad) == 0)
		for (size_t i = 0; i < n; i++)
			if (auditmap_find(v, n, v[i].name) != &v[i])
				abort();	/* sorted and unique: each is found */
	memcpy(buf, head, sizeof head - 1);
	if (size)
		memcpy(buf + sizeof head - 1, data, size);
	if (auditmap_parse(buf, sizeof head - 1 + size, 2, 62, v, 64, &n, &bad) == 0) {
		char line[AUDITMAP_LINE_MAX + 2];
		for (size_t i = 0; i < n; i++) {
			if (auditmap_find(v, n, v[i].name) != &v[i])
				abort();
			if (!auditmap_format(line, sizeof line, &v[i]))
				abort();	/* what parses can be written back */
		}
	}
	free(buf);
	return 0;
}
