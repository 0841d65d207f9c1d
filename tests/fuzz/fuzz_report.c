/* libFuzzer: the JSON report a server answers (verdict_from_json, what
 * check --host reads), and its writer on what it accepted: what we write
 * from it, we read back to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict v, w;
	if (verdict_from_json((const char *)data, size, &v) < 0)
		return 0;
	size_t len;
	char *json = verdict_to_json(&v, &len);
	if (json) {
		if (verdict_from_json(json, len, &w) != 0)
			abort();
		char *json2 = verdict_to_json(&w, NULL);
		if (!json2 || strcmp(json, json2) != 0)
			abort();
		free(json2);
		verdict_free(&w);
		free(json);
	}
	verdict_free(&v);
	return 0;
}
