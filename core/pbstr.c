#include <stdlib.h>
#include <string.h>

#include "pbstr.h"

bool pbstr_read(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct pbstr *b = *arg;
	free(b->p);
	b->n = stream->bytes_left;
	b->p = malloc(b->n + 1);
	if (!b->p)
		b->nomem = 1;
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

bool pbstr_list_read(pb_istream_t *stream, const pb_field_t *field, void **arg)
{
	struct pbstr_list *l = *arg;
	size_t n = stream->bytes_left;
	if (l->n >= PBSTR_LIST_MAX || n > PBSTR_LIST_ITEM)
		return false;
	char *p = malloc(n + 1);
	if (!p)
		l->nomem = 1;
	if (!p || !pb_read(stream, (pb_byte_t *)p, n)) {
		free(p);
		return false;
	}
	p[n] = '\0';
	l->v[l->n++] = p;
	return true;
}

bool pbstr_list_write(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct pbstr_list *l = *arg;
	for (size_t i = 0; i < l->n; i++)
		if (!pb_encode_tag_for_field(stream, field) ||
		    !pb_encode_string(stream, (const pb_byte_t *)l->v[i], strlen(l->v[i])))
			return false;
	return true;
}

void pbstr_list_free(struct pbstr_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}
