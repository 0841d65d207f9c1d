#include <stdlib.h>
#include <string.h>

#include "pbstr.h"

bool pbstr_read(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct pbstr *b = *arg;
	free(b->p);
	b->n = stream->bytes_left;
	b->p = malloc(b->n + 1);
	if (!b->p || !pb_read(stream, (pb_byte_t *)b->p, b->n))
		return false;
	b->p[b->n] = '\0';
	return true;
}

bool pbstr_write(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const char *s = *arg;
	return pb_encode_tag_for_field(stream, field) && pb_encode_string(stream, (const pb_byte_t *)s, strlen(s));
}
