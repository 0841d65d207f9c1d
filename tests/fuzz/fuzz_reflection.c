/* libFuzzer: server reflection. The first byte picks what is fuzzed:
 * even, the rest is a ServerReflectionRequest answered from the embedded
 * descriptor set (the request decoder, every kind of lookup, the encoder);
 * odd, the rest is a descriptor set that a fixed list of requests is
 * answered from (the wire reader and its walk over files, messages,
 * enums, services, imports). Checked beyond memory safety: an answer is
 * produced or the request is refused as malformed, never both, and an
 * answer decodes as a ServerReflectionResponse. */
#include <pb_decode.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/reflection.h"
#include "reflection.pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(const uint8_t *set, size_t setlen, const uint8_t *msg, size_t len)
{
	uint8_t *out = NULL;
	size_t n = 0;
	struct cerr err;
	int rc = reflection_answer(set, setlen, msg, len, &out, &n, &err);
	if (rc < 0) {
		if (out || n || (rc != COMPAT_EINVAL && rc != COMPAT_ENOMEM))
			abort();
		return;
	}
	/* The answer is a well-formed message (its file descriptors are
	 * bytes, skipped by the decoder). */
	static grpc_reflection_v1_ServerReflectionResponse resp;
	memset(&resp, 0, sizeof resp);
	pb_istream_t is = pb_istream_from_buffer(out, n);
	if (!pb_decode(&is, grpc_reflection_v1_ServerReflectionResponse_fields, &resp))
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t requests[][64] = {
		{ 0x3a, 0x00 },						/* list_services */
		{ 0x1a, 0x07, 't', '.', 'p', 'r', 'o', 't', 'o' },	/* file_by_filename */
		{ 0x22, 0x05, 'p', '.', 'A', '.', 'B' },		/* file_containing_symbol */
		{ 0x22, 0x03, 'p', '.', 'S' },
		{ 0x22, 0x05, 'p', '.', 'S', '.', 'm' },
		{ 0x32, 0x03, 'p', '.', 'A' },				/* all_extension_numbers_of_type */
	};
	static const size_t lens[] = { 2, 9, 7, 5, 7, 5 };
	if (!size)
		return 0;
	if (data[0] % 2 == 0) {
		size_t setlen;
		const uint8_t *set = reflection_descriptor_set(&setlen);
		answer(set, setlen, data + 1, size - 1);
		return 0;
	}
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
		answer(data + 1, size - 1, requests[i], lens[i]);
	char *names[8];
	int n = reflection_services(data + 1, size - 1, names, 8);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return 0;
}
