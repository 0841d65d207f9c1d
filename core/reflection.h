/* gRPC server reflection (grpc.reflection.v1 and v1alpha), so that grpcurl,
 * grpc_cli and the like call compat serve without its .proto files.
 *
 * What it serves is the FileDescriptorSet that protoc made of every proto/NAME.proto
 * at build time (the Makefile: --descriptor_set_out --include_imports),
 * embedded in the binary by core/reflection_embed.S: every service declared
 * there is listed, every file, message, enum, service and method there can
 * be asked for. One request message in, one response message out (nanopb,
 * proto/reflection.proto; v1alpha has the same wire format); the stream
 * around them is h2's. No state between requests, no globals: the set is
 * walked for each request (a few KB). */
#ifndef COMPAT_REFLECTION_H
#define COMPAT_REFLECTION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define REFLECTION_PATH_V1 "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
#define REFLECTION_PATH_V1ALPHA "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

/* Files one answer may carry (the file asked for and its imports). */
#define REFLECTION_MAX_FILES 16

/* The embedded FileDescriptorSet (static; never freed). */
const uint8_t *reflection_descriptor_set(size_t *len);

/* 1 when path is ServerReflectionInfo of v1 or v1alpha. */
int reflection_is_method(const char *path);

/* The kinds of symbol reflection_find_symbol tells apart. */
enum reflection_kind {
	REFLECTION_MESSAGE = 1,		/* a message, nested ones included */
	REFLECTION_ENUM,		/* an enum */
	REFLECTION_OTHER,		/* a field, an enum value */
	REFLECTION_SERVICE,
	REFLECTION_METHOD,
};

/* A file of the set: its serialized FileDescriptorProto (pointing into
 * the set). */
struct reflection_file {
	const uint8_t *p;
	size_t len;
	char name[256];
};

/* The file of set named name ("compat.proto"). Returns 0, COMPAT_ENOTFOUND,
 * COMPAT_EINVAL (the set is malformed). */
int reflection_find_file(const uint8_t *set, size_t setlen, const char *name, struct reflection_file *f);

/* The file of set that declares the fully-qualified symbol
 * ("grpc.health.v1.Health", "...Health.Check", "package.Message",
 * "package.Message.Nested", an enum, a field, an enum value; one leading
 * '.' is allowed); *kind says what it is. Returns 0, COMPAT_ENOTFOUND,
 * COMPAT_EINVAL. */
int reflection_find_symbol(const uint8_t *set, size_t setlen, const char *symbol, struct reflection_file *f,
			   int *kind);

/* The fully-qualified names of the services the set declares, in its
 * order, into names[max] (each malloc'd: the caller frees them). Returns
 * how many (at most max), or COMPAT_EINVAL, COMPAT_ENOMEM. */
int reflection_services(const uint8_t *set, size_t setlen, char **names, size_t max);

/* Answer one encoded ServerReflectionRequest (msg, len) from set: the
 * encoded ServerReflectionResponse in *out (malloc'd; the caller frees it)
 * and its length. A file or symbol the set lacks is an answer (an
 * error_response with NOT_FOUND), as the protocol wants, not an error.
 * Returns 0; COMPAT_EINVAL (msg is not a ServerReflectionRequest within
 * the bounds of proto/reflection.options, or the set is malformed: err
 * says which), COMPAT_ENOMEM. */
int reflection_answer(const uint8_t *set, size_t setlen, const uint8_t *msg, size_t len, uint8_t **out,
		      size_t *outlen, struct cerr *err);

#endif
