/* Describing a container image (DESIGN §2, llnl.compatlib.kind = image):
 * what it needs from the node that runs it.
 *
 * The image comes from a registry (REGISTRY/REPO[:TAG|@DIGEST], through
 * oci.h) or an OCI image layout on disk (oci:DIR[:TAG], as skopeo writes
 * it). An index is narrowed to one platform. Each layer is streamed
 * (never held whole): its bytes are hashed (sha256, checked against the
 * manifest at the end of the layer, with the size), gunzipped through zlib,
 * read by our tar reader and applied by the unpacker (unpack.h: whiteouts,
 * no escapes, no device nodes, no set-id bits, bounded) into a private
 * temporary directory (mode 0700). Then every ELF file in the tree is
 * described with the tree as the root (describe.h), and the tree is
 * removed, whatever happened.
 *
 * The artifact keeps what the node must provide: elf.class, elf.machine,
 * elf.osabi, isa-level (the highest any file declares), kernel (the
 * NT_GNU_ABI_TAG of the image's libc, "3.2.0"), needed.SONAME (with weak.
 * and symbols.) for sonames nothing in the image provides (what a runtime
 * must inject, such as libcuda.so.1), and image.digest / image.platform.
 * The libraries the image carries (library-name.N), its interpreter and
 * search path are left out: they travel with it. */
#ifndef COMPAT_IMAGE_H
#define COMPAT_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "artifact.h"
#include "err.h"
#include "oci.h"

/* 0 leaves describing images out of the build (`make static` does: the
 * node drop-in checks images by reference, but describing them is a build
 * pipeline's job, and the static binary has a 2 MiB budget).
 * image_describe then fails with COMPAT_EINVAL saying so. */
#ifndef COMPAT_IMAGE_GEN
#define COMPAT_IMAGE_GEN 1
#endif

struct image_opts {
	const struct oci_opts *oci;	/* registry access; NULL: defaults */
	const char *platform;		/* "os/arch[/variant]"; NULL: this node's */
	uint64_t max_bytes;		/* file data unpacked; 0: UNPACK_MAX_BYTES */
	uint64_t max_files;		/* entries unpacked; 0: UNPACK_MAX_FILES */
	int no_symbols;			/* leave symbols.SONAME out */
	const char *tmpdir;		/* NULL: $TMPDIR, else /tmp */
	/* One line per warning (programs whose libraries the image lacks). */
	void (*warn)(void *ctx, const char *msg);
	void *ctx;
};

struct image_info {
	char digest[OCI_DIGEST_SIZE];	/* what the reference named (index or manifest) */
	char manifest[OCI_DIGEST_SIZE];	/* the platform's manifest */
	char platform[64];	/* os/arch[/variant] from the image config */
	size_t layers;
	uint64_t bytes, files;	/* unpacked */
	char tree[4200];	/* where it was unpacked (removed by now) */
};

/* 1 when s names an image: "oci:DIR[:TAG]", or a registry reference. */
int image_is_reference(const char *s);

/* This node's platform as OCI names it ("linux/amd64", "linux/arm64",
 * "linux/arm/v7"), into buf. */
const char *image_node_platform(char *buf, size_t cap);

/* Describe the image ref into *a (initialised by the caller; filled only on
 * success); info (may be NULL) says what was described.
 * Returns 0; COMPAT_EINVAL (a refused layer or entry, not an image, no
 * ELF file); COMPAT_ENOTFOUND (no such image or platform); COMPAT_EDIGEST
 * (a manifest, config or layer that does not match its digest);
 * COMPAT_ELIMIT; COMPAT_EIO; COMPAT_EUNREACH, COMPAT_EPERM, COMPAT_EPROTO
 * (registry); COMPAT_ENOMEM. */
int image_describe(const char *ref, const struct image_opts *o, struct artifact *a, struct image_info *info,
		   struct cerr *err);

#endif
