/* libFuzzer: the streaming tar reader, fed the input in two pieces split
 * where its first byte says (so header and data boundaries move). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	uint64_t bytes;
	size_t entries;
};

static int on_entry(void *ctx, const struct tar_entry *e, struct cerr *err)
{
	struct sink *s = ctx;
	/* What the reader hands out is always terminated and bounded. */
	if (strlen(e->path) >= TAR_MAX_PATH || strlen(e->linkpath) >= TAR_MAX_PATH)
		__builtin_trap();
	s->entries++;
	return 0;
}

static int on_data(void *ctx, const uint8_t *p, size_t n, struct cerr *err)
{
	struct sink *s = ctx;
	for (size_t i = 0; i < n; i++)
		s->bytes += p[i];
	return 0;
}

static const struct tar_callbacks cb = { on_entry, on_data };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tar_reader t;
	struct sink s = { 0, 0 };
	struct cerr err;
	size_t split = size ? (size_t)data[0] * 7 % (size + 1) : 0;
	tar_reader_init(&t, &cb, &s);
	int rc = tar_reader_feed(&t, data, split, &err);
	if (rc >= 0)
		rc = tar_reader_feed(&t, data + split, size - split, &err);
	if (rc >= 0)
		tar_reader_finish(&t, &err);
	tar_reader_free(&t);
	return 0;
}
