/* libFuzzer: the artifact reader, its writer on what it accepted, and
 * its two readers against each other: what the flat reader accepts,
 * jansson's reads to the same artifact; what jansson refuses, the flat
 * reader does not accept. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/artifact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct artifact a, b, f;
	int flat = artifact_parse_flat((const char *)data, size, &f);
	int any = artifact_parse_json((const char *)data, size, "fuzz", &b, NULL);
	if (flat == 0) {
		if (any != 0 || f.nattrs != b.nattrs || strcmp(f.version, b.version) != 0)
			abort();
		for (size_t i = 0; i < f.nattrs; i++)
			if (strcmp(f.attrs[i].key, b.attrs[i].key) != 0 || strcmp(f.attrs[i].value, b.attrs[i].value) != 0)
				abort();
		artifact_free(&f);
	} else if (flat != 1) {
		abort();	/* out of memory does not happen here */
	}
	if (any == 0)
		artifact_free(&b);
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
