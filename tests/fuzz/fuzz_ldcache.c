/* libFuzzer: the ld.so.cache parser and lookups on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "core/ldcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int32_t flags[] = { 0x0303 };
	static const char *const prio[] = { "x86-64-v3", "x86-64-v2" };
	struct ldcache c;
	struct ldcache_entry e;
	if (ldcache_parse(data, size, "fuzz", &c, NULL) == 0) {
		ldcache_lookup(&c, "libc.so.6", flags, 1, prio, 2, &e);
		if (ldcache_entries(&c) == 0)
			for (size_t i = 0; i < c.n && i < 8; i++)
				ldcache_lookup(&c, c.entries[i].key, flags, 1, prio, 2, &e);
		ldcache_free(&c);
	}
	return 0;
}
