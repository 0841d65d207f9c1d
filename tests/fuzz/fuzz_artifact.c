/* libFuzzer: the artifact reader, its writer on what it accepted, and
 * the verdict's reading of the attributes (without a host index: the
 * attribute parsing paths up to the first lookup). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/artifact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct artifact a, b;
	if (artifact_parse((const char *)data, size, "fuzz", &a, NULL) < 0)
		return 0;
	size_t len;
	char *json = artifact_to_json(&a, &len);
	if (json) {
		/* What we write, we read back to the same bytes. */
		if (artifact_parse(json, len, "again", &b, NULL) != 0)
			abort();
		char *json2 = artifact_to_json(&b, NULL);
		if (!json2 || strcmp(json, json2) != 0)
			abort();
		free(json2);
		artifact_free(&b);
		free(json);
	}
	artifact_free(&a);
	return 0;
}
