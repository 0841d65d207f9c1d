/* Temporary stubs so the tree links while the real modules are written. */
#include <stdlib.h>

#include "hostindex.h"
#include "verdict.h"

int index_build(const struct index_opts *o, struct host_index **out, struct cerr *err)
{
	*out = NULL;
	return cerr_set(err, COMPAT_EINVAL, "host index: not implemented yet");
}
const struct host_lib *index_lookup_soname(const struct host_index *idx, const char *soname,
					   int elf_class, int machine)
{
	return NULL;
}
size_t index_count(const struct host_index *idx) { return 0; }
int index_is_stale(const struct host_index *idx) { return 0; }
void index_free(struct host_index *idx) {}
int verdict_check(const struct host_index *idx, const struct artifact *a,
		  const struct verdict_opts *o, struct verdict *v, struct cerr *err)
{
	return cerr_set(err, COMPAT_EINVAL, "verdict: not implemented yet");
}
char *verdict_to_json(const struct verdict *v, size_t *len) { return NULL; }
void verdict_free(struct verdict *v) {}
