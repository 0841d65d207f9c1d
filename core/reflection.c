/* Server reflection over the embedded FileDescriptorSet.
 *
 * The set is read with a small protobuf wire reader rather than a decoded
 * descriptor.proto: only names are needed (file, package, dependency,
 * message, field, nested type, enum, enum value, oneof, service, method),
 * and walking the bytes keeps the code and the binary small. Field numbers
 * are google/protobuf/descriptor.proto's. The set comes from protoc at
 * build time, but it is still read as untrusted input (every length
 * checked, nesting bounded), which lets the fuzz target feed it anything. */
#include <pb_decode.h>
#include <pb_encode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc.h"
#include "reflection.h"
#include "reflection.pb.h"

/* core/reflection_embed.S */
extern const uint8_t compat_descriptor_set[], compat_descriptor_set_end[];

/* descriptor.proto's field numbers */
enum {
	SET_FILE = 1,
	FILE_NAME = 1, FILE_PACKAGE = 2, FILE_DEPENDENCY = 3, FILE_MESSAGE = 4, FILE_ENUM = 5, FILE_SERVICE = 6,
	FILE_EXTENSION = 7,
	MSG_NAME = 1, MSG_FIELD = 2, MSG_NESTED = 3, MSG_ENUM = 4, MSG_EXTENSION = 6, MSG_ONEOF = 8,
	ENUM_NAME = 1, ENUM_VALUE = 2,
	SERVICE_NAME_ = 1, SERVICE_METHOD = 2,
	NAME = 1,	/* of a field, enum value, oneof, method */
};

/* Messages nested deeper than this make the set malformed. */
#define MAX_DEPTH 32

const uint8_t *reflection_descriptor_set(size_t *len)
{
	*len = (size_t)(compat_descriptor_set_end - compat_descriptor_set);
	return compat_descriptor_set;
}

int reflection_is_method(const char *path)
{
	return strcmp(path, REFLECTION_PATH_V1) == 0 || strcmp(path, REFLECTION_PATH_V1ALPHA) == 0;
}

/* ---- the wire reader ---- */

struct wire {
	const uint8_t *p, *end;
};

static int wire_varint(struct wire *w, uint64_t *v)
{
	uint64_t x = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (w->p >= w->end)
			return -1;
		uint8_t b = *w->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/* The next field of w: 1 and its number (with, for a length-delimited
 * field, its bytes in val/len; otherwise val is NULL), 0 at the end, -1
 * when malformed. */
static int wire_next(struct wire *w, uint32_t *field, const uint8_t **val, size_t *len)
{
	uint64_t key, v;
	if (w->p == w->end)
		return 0;
	if (wire_varint(w, &key) < 0 || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
		return -1;
	*field = (uint32_t)(key >> 3);
	*val = NULL;
	*len = 0;
	switch (key & 7) {
	case 0:
		return wire_varint(w, &v) < 0 ? -1 : 1;
	case 1:
	case 5: {
		size_t n = (key & 7) == 1 ? 8 : 4;
		if ((size_t)(w->end - w->p) < n)
			return -1;
		w->p += n;
		return 1;
	}
	case 2:
		if (wire_varint(w, &v) < 0 || v > (uint64_t)(w->end - w->p))
			return -1;
		*val = w->p;
		*len = (size_t)v;
		w->p += v;
		return 1;
	default:
		return -1;	/* groups: not in any descriptor protoc writes for proto3 */
	}
}

static struct wire wire_of(const uint8_t *p, size_t n)
{
	return (struct wire){ p, p + n };
}

/* The first length-delimited field number want of a message: 1 (s, n),
 * 0 absent, -1 malformed. */
static int get_bytes(const uint8_t *p, size_t n, uint32_t want, const uint8_t **s, size_t *sn)
{
	struct wire w = wire_of(p, n);
	uint32_t f;
	const uint8_t *v;
	size_t l;
	int rc;
	while ((rc = wire_next(&w, &f, &v, &l)) > 0)
		if (f == want && v) {
			*s = v;
			*sn = l;
			return 1;
		}
	return rc;
}

/* ---- symbols ---- */

enum { NO = 0, IS = 1, INSIDE = 2 };

/* rest is a symbol past its enclosing scope: IS when it is the element
 * named name, INSIDE when it lies inside it (then *inner is past
 * "name."), NO otherwise. */
static int step(const char *rest, const uint8_t *name, size_t nlen, const char **inner)
{
	size_t rl = strlen(rest);
	if (!nlen || rl < nlen || memcmp(rest, name, nlen) != 0)
		return NO;
	if (rl == nlen)
		return IS;
	if (rest[nlen] != '.')
		return NO;
	*inner = rest + nlen + 1;
	return INSIDE;
}

/* The name (field 1) of an element and whether rest is it or inside it:
 * as step, or -1 when malformed. */
static int element(const uint8_t *p, size_t n, const char *rest, const char **inner)
{
	const uint8_t *name;
	size_t nl;
	int rc = get_bytes(p, n, NAME, &name, &nl);
	if (rc <= 0)
		return rc < 0 ? -1 : NO;
	return step(rest, name, nl, inner);
}

/* Each of these says what rest (relative to the scope the element is
 * declared in) names: a reflection_kind, 0 nothing, -1 malformed. */

/* An enum: itself, or one of its values (which C++ scoping puts beside
 * the enum, not inside it). */
static int in_enum(const uint8_t *p, size_t n, const char *rest)
{
	const char *inner;
	int rc = element(p, n, rest, &inner);
	if (rc < 0)
		return -1;
	if (rc == IS)
		return REFLECTION_ENUM;
	struct wire w = wire_of(p, n);
	uint32_t f;
	const uint8_t *v;
	size_t l;
	while ((rc = wire_next(&w, &f, &v, &l)) > 0) {
		if (f != ENUM_VALUE || !v)
			continue;
		int e = element(v, l, rest, &inner);
		if (e < 0)
			return -1;
		if (e == IS)
			return REFLECTION_OTHER;
	}
	return rc < 0 ? -1 : 0;
}

/* A message: itself, its fields, oneofs, extensions, nested messages
 * and enums. */
static int in_message(const uint8_t *p, size_t n, const char *rest, int depth)
{
	const char *inner = NULL;
	int rc = element(p, n, rest, &inner);
	if (rc < 0 || depth > MAX_DEPTH)
		return -1;
	if (rc == IS)
		return REFLECTION_MESSAGE;
	if (rc == NO)
		return 0;
	struct wire w = wire_of(p, n);
	uint32_t f;
	const uint8_t *v;
	size_t l;
	while ((rc = wire_next(&w, &f, &v, &l)) > 0) {
		if (!v)
			continue;
		const char *unused;
		int k = 0;
		if (f == MSG_FIELD || f == MSG_ONEOF || f == MSG_EXTENSION) {
			int e = element(v, l, inner, &unused);
			k = e < 0 ? -1 : e == IS ? REFLECTION_OTHER : 0;
		} else if (f == MSG_NESTED) {
			k = in_message(v, l, inner, depth + 1);
		} else if (f == MSG_ENUM) {
			k = in_enum(v, l, inner);
		}
		if (k)
			return k;
	}
	return rc < 0 ? -1 : 0;
}

static int in_service(const uint8_t *p, size_t n, const char *rest)
{
	const char *inner = NULL;
	int rc = element(p, n, rest, &inner);
	if (rc <= 0 || rc == IS)
		return rc < 0 ? -1 : rc == IS ? REFLECTION_SERVICE : 0;
	struct wire w = wire_of(p, n);
	uint32_t f;
	const uint8_t *v;
	size_t l;
	const char *unused;
	while ((rc = wire_next(&w, &f, &v, &l)) > 0) {
		if (f != SERVICE_METHOD || !v)
			continue;
		int e = element(v, l, inner, &unused);
		if (e < 0)
			return -1;
		if (e == IS)
			return REFLECTION_METHOD;
	}
	return rc < 0 ? -1 : 0;
}

/* What symbol names in one FileDescriptorProto. */
static int in_file(const uint8_t *p, size_t n, const char *symbol)
{
	const uint8_t *pkg;
	size_t pl;
	const char *rest = symbol;
	int rc = get_bytes(p, n, FILE_PACKAGE, &pkg, &pl);
	if (rc < 0)
		return -1;
	if (rc > 0 && pl) {
		if (step(symbol, pkg, pl, &rest) != INSIDE)
			return 0;
	}
	struct wire w = wire_of(p, n);
	uint32_t f;
	const uint8_t *v;
	size_t l;
	while ((rc = wire_next(&w, &f, &v, &l)) > 0) {
		if (!v)
			continue;
		const char *unused;
		int k = 0;
		if (f == FILE_MESSAGE) {
			k = in_message(v, l, rest, 0);
		} else if (f == FILE_ENUM) {
			k = in_enum(v, l, rest);
		} else if (f == FILE_SERVICE) {
			k = in_service(v, l, rest);
		} else if (f == FILE_EXTENSION) {
			int e = element(v, l, rest, &unused);
			k = e < 0 ? -1 : e == IS ? REFLECTION_OTHER : 0;
		}
		if (k)
			return k;
	}
	return rc < 0 ? -1 : 0;
}

/* ---- files ---- */

static int set_file(const uint8_t *p, size_t n, struct reflection_file *f)
{
	const uint8_t *name;
	size_t nl;
	int rc = get_bytes(p, n, FILE_NAME, &name, &nl);
	if (rc < 0)
		return COMPAT_EINVAL;
	if (rc == 0 || nl >= sizeof f->name)
		nl = 0;
	f->p = p;
	f->len = n;
	if (nl)
		memcpy(f->name, name, nl);
	f->name[nl] = '\0';
	return 0;
}

int reflection_find_file(const uint8_t *set, size_t setlen, const char *name, struct reflection_file *f)
{
	struct wire w = wire_of(set, setlen);
	uint32_t fn;
	const uint8_t *v;
	size_t l;
	int rc;
	while ((rc = wire_next(&w, &fn, &v, &l)) > 0) {
		if (fn != SET_FILE || !v)
			continue;
		if (set_file(v, l, f) < 0)
			return COMPAT_EINVAL;
		if (f->name[0] && strcmp(f->name, name) == 0)
			return 0;
	}
	return rc < 0 ? COMPAT_EINVAL : COMPAT_ENOTFOUND;
}

int reflection_find_symbol(const uint8_t *set, size_t setlen, const char *symbol, struct reflection_file *f,
			   int *kind)
{
	struct wire w = wire_of(set, setlen);
	uint32_t fn;
	const uint8_t *v;
	size_t l;
	int rc;
	if (symbol[0] == '.')
		symbol++;
	while ((rc = wire_next(&w, &fn, &v, &l)) > 0) {
		if (fn != SET_FILE || !v)
			continue;
		int k = in_file(v, l, symbol);
		if (k < 0)
			return COMPAT_EINVAL;
		if (k > 0) {
			*kind = k;
			return set_file(v, l, f);
		}
	}
	return rc < 0 ? COMPAT_EINVAL : COMPAT_ENOTFOUND;
}

int reflection_services(const uint8_t *set, size_t setlen, char **names, size_t max)
{
	struct wire w = wire_of(set, setlen);
	uint32_t fn;
	const uint8_t *v;
	size_t l, n = 0;
	int rc;
	while ((rc = wire_next(&w, &fn, &v, &l)) > 0 && n < max) {
		if (fn != SET_FILE || !v)
			continue;
		const uint8_t *pkg = NULL, *sv, *name;
		size_t pl = 0, sl, nl;
		if (get_bytes(v, l, FILE_PACKAGE, &pkg, &pl) < 0)
			goto bad;
		struct wire fw = wire_of(v, l);
		while ((rc = wire_next(&fw, &fn, &sv, &sl)) > 0 && n < max) {
			if (fn != FILE_SERVICE || !sv)
				continue;
			if (get_bytes(sv, sl, SERVICE_NAME_, &name, &nl) <= 0 || !nl)
				goto bad;
			size_t at = pl ? pl + 1 : 0;
			if (!(names[n] = malloc(at + nl + 1)))
				goto nomem;
			if (pl) {
				memcpy(names[n], pkg, pl);
				names[n][pl] = '.';
			}
			memcpy(names[n] + at, name, nl);
			names[n][at + nl] = '\0';
			n++;
		}
		if (rc < 0)
			goto bad;
	}
	if (rc < 0)
		goto bad;
	return (int)n;
nomem:
	rc = COMPAT_ENOMEM;
	goto out;
bad:
	rc = COMPAT_EINVAL;
out:
	while (n)
		free(names[--n]);
	return rc;
}

/* A file and the files it imports, transitively, each once, in files[]
 * (at most REFLECTION_MAX_FILES). 0 or COMPAT_EINVAL. An import the set
 * lacks is left out (protoc's --include_imports puts them all in). */
static int with_imports(const uint8_t *set, size_t setlen, struct reflection_file *files, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		struct wire w = wire_of(files[i].p, files[i].len);
		uint32_t fn;
		const uint8_t *v;
		size_t l;
		int rc;
		while ((rc = wire_next(&w, &fn, &v, &l)) > 0) {
			if (fn != FILE_DEPENDENCY || !v)
				continue;
			char dep[256];
			if (l >= sizeof dep)
				continue;
			memcpy(dep, v, l);
			dep[l] = '\0';
			size_t j;
			for (j = 0; j < *n && strcmp(files[j].name, dep) != 0; j++)
				;
			if (j < *n || *n == REFLECTION_MAX_FILES)
				continue;
			int f = reflection_find_file(set, setlen, dep, &files[*n]);
			if (f == COMPAT_EINVAL)
				return f;
			if (f == 0)
				++*n;
		}
		if (rc < 0)
			return COMPAT_EINVAL;
	}
	return 0;
}

/* ---- the answer ---- */

struct files {
	const struct reflection_file *v;
	size_t n;
};

static bool write_files(pb_ostream_t *stream, const pb_field_t *field, void *const *arg)
{
	const struct files *f = *arg;
	for (size_t i = 0; i < f->n; i++)
		if (!pb_encode_tag_for_field(stream, field) || !pb_encode_string(stream, f->v[i].p, f->v[i].len))
			return false;
	return true;
}

static void error_response(grpc_reflection_v1_ServerReflectionResponse *r, int code, const char *what,
			   const char *name)
{
	r->which_message_response = grpc_reflection_v1_ServerReflectionResponse_error_response_tag;
	r->message_response.error_response.error_code = code;
	snprintf(r->message_response.error_response.error_message,
		 sizeof r->message_response.error_response.error_message, "%s%.200s", what, name);
}

int reflection_answer(const uint8_t *set, size_t setlen, const uint8_t *msg, size_t len, uint8_t **out,
		      size_t *outlen, struct cerr *err)
{
	grpc_reflection_v1_ServerReflectionRequest *req = calloc(1, sizeof *req);
	grpc_reflection_v1_ServerReflectionResponse *resp = calloc(1, sizeof *resp);
	struct reflection_file files[REFLECTION_MAX_FILES];
	struct files fl = { files, 0 };
	char *names[8] = { NULL };
	int nnames = 0, rc = 0, kind;
	*out = NULL;
	*outlen = 0;
	if (!req || !resp) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	pb_istream_t is = pb_istream_from_buffer(msg, len);
	if (!pb_decode(&is, grpc_reflection_v1_ServerReflectionRequest_fields, req)) {
		rc = cerr_set(err, COMPAT_EINVAL, "malformed ServerReflectionRequest: %s", PB_GET_ERROR(&is));
		goto out;
	}
	memcpy(resp->valid_host, req->host, sizeof resp->valid_host);
	resp->has_original_request = true;
	resp->original_request = *req;
	switch (req->which_message_request) {
	case grpc_reflection_v1_ServerReflectionRequest_file_by_filename_tag:
		rc = reflection_find_file(set, setlen, req->message_request.file_by_filename, &files[0]);
		if (rc == COMPAT_ENOTFOUND)
			error_response(resp, GRPC_NOT_FOUND, "file not found: ", req->message_request.file_by_filename);
		else if (rc == 0)
			fl.n = 1;
		break;
	case grpc_reflection_v1_ServerReflectionRequest_file_containing_symbol_tag:
		rc = reflection_find_symbol(set, setlen, req->message_request.file_containing_symbol, &files[0], &kind);
		if (rc == COMPAT_ENOTFOUND)
			error_response(resp, GRPC_NOT_FOUND, "symbol not found: ",
				       req->message_request.file_containing_symbol);
		else if (rc == 0)
			fl.n = 1;
		break;
	case grpc_reflection_v1_ServerReflectionRequest_file_containing_extension_tag:
		/* Our protos declare no extensions. */
		error_response(resp, GRPC_NOT_FOUND, "extension not found: ",
			       req->message_request.file_containing_extension.containing_type);
		break;
	case grpc_reflection_v1_ServerReflectionRequest_all_extension_numbers_of_type_tag: {
		const char *type = req->message_request.all_extension_numbers_of_type;
		rc = reflection_find_symbol(set, setlen, type, &files[0], &kind);
		if (rc == COMPAT_ENOTFOUND || (rc == 0 && kind != REFLECTION_MESSAGE)) {
			rc = 0;
			error_response(resp, GRPC_NOT_FOUND, "type not found: ", type);
		} else if (rc == 0) {
			/* A message of ours: it has no extensions. */
			resp->which_message_response = grpc_reflection_v1_ServerReflectionResponse_all_extension_numbers_response_tag;
			snprintf(resp->message_response.all_extension_numbers_response.base_type_name,
				 sizeof resp->message_response.all_extension_numbers_response.base_type_name, "%s",
				 type[0] == '.' ? type + 1 : type);
		}
		break;
	}
	case grpc_reflection_v1_ServerReflectionRequest_list_services_tag: {
		nnames = reflection_services(set, setlen, names, 8);
		if (nnames < 0) {
			rc = nnames;
			nnames = 0;
			break;
		}
		resp->which_message_response = grpc_reflection_v1_ServerReflectionResponse_list_services_response_tag;
		grpc_reflection_v1_ListServiceResponse *ls = &resp->message_response.list_services_response;
		for (int i = 0; i < nnames; i++)
			snprintf(ls->service[ls->service_count++].name, sizeof ls->service[0].name, "%s", names[i]);
		break;
	}
	default:
		/* Nothing asked, or a kind of request newer than this server. */
		error_response(resp, GRPC_UNIMPLEMENTED, "unknown reflection request", "");
		break;
	}
	if (rc == COMPAT_ENOTFOUND)
		rc = 0;
	if (rc == COMPAT_EINVAL) {
		cerr_set(err, rc, "the embedded descriptor set is malformed");
		goto out;
	}
	if (rc == COMPAT_ENOMEM) {
		cerr_set(err, rc, "out of memory");
		goto out;
	}
	if (fl.n) {
		if ((rc = with_imports(set, setlen, files, &fl.n)) < 0) {
			cerr_set(err, rc, "the embedded descriptor set is malformed");
			goto out;
		}
		resp->which_message_response = grpc_reflection_v1_ServerReflectionResponse_file_descriptor_response_tag;
		resp->message_response.file_descriptor_response.file_descriptor_proto.funcs.encode = write_files;
		resp->message_response.file_descriptor_response.file_descriptor_proto.arg = &fl;
	}
	size_t size;
	if (!pb_get_encoded_size(&size, grpc_reflection_v1_ServerReflectionResponse_fields, resp)) {
		rc = cerr_set(err, COMPAT_EINVAL, "cannot encode the ServerReflectionResponse");
		goto out;
	}
	if (!(*out = malloc(size ? size : 1))) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
		goto out;
	}
	pb_ostream_t os = pb_ostream_from_buffer(*out, size);
	if (!pb_encode(&os, grpc_reflection_v1_ServerReflectionResponse_fields, resp)) {
		free(*out);
		*out = NULL;
		rc = cerr_set(err, COMPAT_EINVAL, "cannot encode the ServerReflectionResponse");
		goto out;
	}
	*outlen = os.bytes_written;
	rc = 0;
out:
	for (int i = 0; i < nnames; i++)
		free(names[i]);
	free(req);
	free(resp);
	return rc;
}
