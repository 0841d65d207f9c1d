/* libFuzzer: the manifest reader (layer choice, digest, size, title checks). */
#include <stddef.h>
#include <stdint.h>

#include "core/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char digest[72];
	size_t n;
	oci_manifest_layer((const char *)data, size, digest, &n, NULL);
	return 0;
}
