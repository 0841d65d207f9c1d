/* libFuzzer: the manifest reader (layer choice, digest, size, title checks)
 * and what-is-this-manifest (artifact, image, index, other). */
#include <stddef.h>
#include <stdint.h>

#include "core/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char digest[72];
	size_t n;
	oci_manifest_layer((const char *)data, size, digest, &n, NULL);
	char what[128];
	oci_manifest_kind((const char *)data, size, "application/vnd.oci.image.index.v1+json", what, sizeof what);
	return 0;
}
