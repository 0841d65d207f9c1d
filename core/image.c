/* From an image reference to an image artifact: pick the manifest, stream
 * each layer through sha256 + zlib + tar + unpack into a private tree,
 * describe the tree as its own root, keep what the node must provide,
 * remove the tree. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include "describe.h"
#include "elf.h"
#include "http1.h"
#include "image.h"
#include "ocicache.h"
#include "strmap.h"
#include "tar.h"
#include "unpack.h"

#define MAX_LAYERS 256
#define MAX_AFTER_END (1u << 20)	/* decompressed bytes allowed after the tar's end blocks */

int image_is_reference(const char *s)
{
	return strncmp(s, "oci:", 4) == 0 || oci_is_reference(s);
}

const char *image_node_platform(char *buf, size_t cap)
{
	static const struct { const char *uname, *oci; } map[] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm/v7" }, { "armv6l", "arm/v6" },
		{ "i686", "386" }, { "i386", "386" }, { "ppc64le", "ppc64le" }, { "s390x", "s390x" },
		{ "riscv64", "riscv64" },
	};
	struct utsname u;
	const char *arch = "unknown";
	if (uname(&u) == 0) {
		arch = u.machine;
		for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
			if (strcmp(u.machine, map[i].uname) == 0)
				arch = map[i].oci;
	}
	snprintf(buf, cap, "linux/%s", arch);
	return buf;
}

/* ---- where the bytes come from: a registry or an OCI layout ---- */

struct source {
	struct oci_client *client;	/* registry, or NULL */
	int layout_fd;			/* oci:DIR, or -1 */
	char name[600];			/* for messages */
};

/* A whole small file of the layout, bounded. */
static int layout_read(int dirfd, const char *rel, const char *what, size_t max, char **data, size_t *len,
		       struct cerr *err)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? cerr_set(err, COMPAT_ENOTFOUND, "%s: no %s", what, rel)
				       : cerr_sys(err, COMPAT_EIO, "%s: %s", what, rel);
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = cerr_set(err, COMPAT_EIO, "%s: %s is not a regular file", what, rel);
	} else if ((uint64_t)st.st_size > max) {
		rc = cerr_set(err, COMPAT_ELIMIT, "%s: %s is larger than %zu bytes", what, rel, max);
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	} else {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
			if (n <= 0) {
				rc = cerr_sys(err, COMPAT_EIO, "%s: %s", what, rel);
				break;
			}
			got += (size_t)n;
		}
		buf[got] = '\0';
		*len = got;
	}
	close(fd);
	if (rc < 0)
		free(buf);
	else
		*data = buf;
	return rc;
}

static int blob_rel(const char *digest, char *out, size_t cap, struct cerr *err)
{
	if (!oci_digest_valid(digest))
		return cerr_set(err, COMPAT_EINVAL, "%.80s: not a sha256 digest", digest);
	snprintf(out, cap, "blobs/sha256/%s", digest + 7);
	return 0;
}

/* A manifest or config blob by digest, verified. */
static int source_blob(struct source *s, const char *digest, int manifest, char **data, size_t *len,
		       char media_type[128], struct cerr *err)
{
	if (s->client) {
		if (manifest)
			return oci_client_manifest(s->client, digest, data, len, (char[OCI_DIGEST_SIZE]){ 0 }, media_type, err);
		return oci_client_blob(s->client, digest, OCI_MAX_MANIFEST, data, len, err);
	}
	char rel[128], got[OCI_DIGEST_SIZE];
	int rc = blob_rel(digest, rel, sizeof rel, err);
	if (rc == 0)
		rc = layout_read(s->layout_fd, rel, s->name, OCI_MAX_MANIFEST, data, len, err);
	if (rc < 0)
		return rc;
	oci_digest(*data, *len, got);
	if (strcmp(got, digest) != 0) {
		free(*data);
		*data = NULL;
		return cerr_set(err, COMPAT_EDIGEST, "%s: blob %s: digest mismatch (content is %s)", s->name, digest, got);
	}
	if (manifest && media_type) {
		json_t *m = json_loadb(*data, *len, 0, NULL);
		const char *mt = json_string_value(json_object_get(m, "mediaType"));
		snprintf(media_type, 128, "%s", mt ? mt : "");
		json_decref(m);
	}
	return 0;
}

/* oci:DIR[:TAG]: the descriptor index.json names for TAG (or its only one). */
static int layout_open(struct source *s, const char *spec, char digest[OCI_DIGEST_SIZE], struct cerr *err)
{
	char dir[4096], tag[256] = "";
	snprintf(dir, sizeof dir, "%s", spec + 4);
	char *colon = strrchr(dir, ':');
	if (colon && !strchr(colon, '/')) {
		snprintf(tag, sizeof tag, "%s", colon + 1);
		*colon = '\0';
	}
	snprintf(s->name, sizeof s->name, "%s", spec);
	s->layout_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->layout_fd < 0)
		return cerr_sys(err, errno == ENOENT ? COMPAT_ENOTFOUND : COMPAT_EIO, "%s", dir);
	char *text = NULL;
	size_t len;
	int rc = layout_read(s->layout_fd, "index.json", spec, OCI_MAX_MANIFEST, &text, &len, err);
	if (rc < 0)
		return rc;
	json_t *idx = json_loadb(text, len, 0, NULL), *ms = json_object_get(idx, "manifests"), *m, *pick = NULL;
	size_t i, n = 0;
	json_array_foreach(ms, i, m) {
		const char *name = json_string_value(json_object_get(json_object_get(m, "annotations"),
								    "org.opencontainers.image.ref.name"));
		if (!*tag || (name && strcmp(name, tag) == 0)) {
			pick = m;
			n++;
		}
	}
	const char *d = json_string_value(json_object_get(pick, "digest"));
	if (!json_is_array(ms))
		rc = cerr_set(err, COMPAT_EINVAL, "%s: index.json without manifests", spec);
	else if (!n)
		rc = cerr_set(err, COMPAT_ENOTFOUND, "%s: no image tagged %s", spec, tag);
	else if (n > 1)
		rc = cerr_set(err, COMPAT_EINVAL, "%s: the layout holds %zu images: name one (oci:DIR:TAG)", spec, n);
	else if (!oci_digest_valid(d))
		rc = cerr_set(err, COMPAT_EINVAL, "%s: index.json entry without a sha256 digest", spec);
	else
		memcpy(digest, d, OCI_DIGEST_SIZE);
	json_decref(idx);
	free(text);
	return rc;
}

/* ---- one layer: sha256, gunzip, tar, unpack ---- */

struct layer {
	mbedtls_sha256_context sha;
	z_stream z;
	int mode;		/* 0 not known yet, 1 gzip, 2 plain tar */
	int z_open, z_done;
	uint64_t in, out, max_out, after_end;
	struct tar_reader tar;
	int tar_done;
	uint64_t max_entries;
	char name[120];
};

static int to_tar(struct layer *l, const uint8_t *p, size_t n, struct cerr *err)
{
	if ((l->out += n) > l->max_out)
		return cerr_set(err, COMPAT_ELIMIT, "%s: more than %llu bytes uncompressed (limit)", l->name,
				(unsigned long long)l->max_out);
	if (l->tar_done) {
		/* After the end blocks: tar's record padding, nothing more. */
		if ((l->after_end += n) > MAX_AFTER_END)
			return cerr_set(err, COMPAT_EINVAL, "%s: data after the end of the tar archive", l->name);
		return 0;
	}
	int rc = tar_reader_feed(&l->tar, p, n, err);
	if (rc < 0)
		return rc;
	if (l->tar.entries > l->max_entries)
		return cerr_set(err, COMPAT_ELIMIT, "%s: more than %llu tar headers (limit)", l->name,
				(unsigned long long)l->max_entries);
	l->tar_done = rc == 1;
	return 0;
}

static int layer_write(void *ctx, const uint8_t *p, size_t n, struct cerr *err)
{
	struct layer *l = ctx;
	mbedtls_sha256_update_ret(&l->sha, p, n);
	l->in += n;
	if (!l->mode) {
		if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
			l->mode = 1;
		else if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
			return cerr_set(err, COMPAT_EINVAL, "%s: zstd-compressed layers are not supported", l->name);
		else
			l->mode = 2;
		if (l->mode == 1) {
			if (inflateInit2(&l->z, 16 + MAX_WBITS) != Z_OK)
				return cerr_set(err, COMPAT_ENOMEM, "out of memory");
			l->z_open = 1;
		}
	}
	if (l->mode == 2)
		return to_tar(l, p, n, err);
	uint8_t out[65536];
	l->z.next_in = (Bytef *)(uintptr_t)p;
	l->z.avail_in = (uInt)n;
	while (l->z.avail_in) {
		if (l->z_done) {
			/* Another gzip member follows (concatenated gzip). */
			if (inflateReset(&l->z) != Z_OK)
				return cerr_set(err, COMPAT_EINVAL, "%s: bad gzip stream", l->name);
			l->z_done = 0;
		}
		l->z.next_out = out;
		l->z.avail_out = sizeof out;
		int zr = inflate(&l->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return cerr_set(err, COMPAT_EINVAL, "%s: bad gzip data at byte %llu: %s", l->name,
					(unsigned long long)l->in, l->z.msg ? l->z.msg : "inflate failed");
		int rc = to_tar(l, out, sizeof out - l->z.avail_out, err);
		if (rc < 0)
			return rc;
		if (zr == Z_STREAM_END)
			l->z_done = 1;
		else if (zr == Z_BUF_ERROR && !l->z.avail_in)
			break;
	}
	return 0;
}

/* Stream one layer from the source through layer_write. */
static int fetch_layer(struct source *s, const char *digest, uint64_t size, struct layer *l, struct cerr *err)
{
	struct http_sink sink = { layer_write, l };
	if (s->client)
		return oci_client_blob_stream(s->client, digest, size, &sink, err);
	char rel[128];
	int rc = blob_rel(digest, rel, sizeof rel, err);
	if (rc < 0)
		return rc;
	int fd = openat(s->layout_fd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cerr_sys(err, errno == ENOENT ? COMPAT_ENOTFOUND : COMPAT_EIO, "%s: %s", s->name, rel);
	uint8_t *buf = malloc(1 << 16);
	if (!buf) {
		close(fd);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	for (;;) {
		ssize_t n = read(fd, buf, 1 << 16);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cerr_sys(err, COMPAT_EIO, "%s: %s", s->name, rel);
			break;
		}
		if (n == 0 || (rc = layer_write(l, buf, (size_t)n, err)) < 0)
			break;
		if (l->in > size) {
			rc = cerr_set(err, COMPAT_EDIGEST, "%s: longer than the %llu bytes the manifest says", l->name,
				      (unsigned long long)size);
			break;
		}
	}
	free(buf);
	close(fd);
	return rc;
}

static int apply_layer(struct source *s, struct unpack *u, size_t index, json_t *desc, const struct image_opts *o,
		       struct cerr *err)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_t *js = json_object_get(desc, "size");
	struct layer l;
	memset(&l, 0, sizeof l);
	snprintf(l.name, sizeof l.name, "layer %zu (%.19s)", index + 1, digest ? digest : "?");
	if (!oci_digest_valid(digest) || !json_is_integer(js) || json_integer_value(js) < 0)
		return cerr_set(err, COMPAT_EINVAL, "%s: a layer descriptor without a sha256 digest or size", l.name);
	if (!mt || !strstr(mt, "tar"))
		return cerr_set(err, COMPAT_EINVAL, "%s: media type %s is not a tar layer", l.name, mt ? mt : "(none)");
	if (strstr(mt, "zstd"))
		return cerr_set(err, COMPAT_EINVAL, "%s: zstd-compressed layers are not supported", l.name);
	uint64_t size = (uint64_t)json_integer_value(js);
	uint64_t max_files = o->max_files ? o->max_files : UNPACK_MAX_FILES;
	l.max_out = (o->max_bytes ? o->max_bytes : UNPACK_MAX_BYTES) + max_files * 2048 + (64u << 20);
	l.max_entries = max_files * 4 + 1024;
	mbedtls_sha256_init(&l.sha);
	mbedtls_sha256_starts_ret(&l.sha, 0);
	tar_reader_init(&l.tar, &unpack_tar_callbacks, u);
	unpack_layer_begin(u, l.name);
	int rc = fetch_layer(s, digest, size, &l, err);
	if (rc == 0 && l.mode == 1 && !l.z_done)
		rc = cerr_set(err, COMPAT_EINVAL, "%s: the gzip stream is truncated", l.name);
	if (rc == 0)
		rc = tar_reader_finish(&l.tar, err);
	if (rc == 0)
		rc = unpack_layer_end(u, err);
	if (rc == 0 || rc == COMPAT_EINVAL || rc == COMPAT_EDIGEST) {
		/* A layer that does not match its digest is reported as that,
		 * whatever its bytes made the reader say. */
		unsigned char h[32];
		char got[OCI_DIGEST_SIZE] = "sha256:";
		mbedtls_sha256_finish_ret(&l.sha, h);
		for (int i = 0; i < 32; i++)
			sprintf(got + 7 + 2 * i, "%02x", h[i]);
		if (l.in == size && strcmp(got, digest) != 0)
			rc = cerr_set(err, COMPAT_EDIGEST, "%s: digest mismatch: content is %.23s..., the manifest says %s",
				      l.name, got, digest);
		else if (rc == 0 && l.in != size)
			rc = cerr_set(err, COMPAT_EDIGEST, "%s: %llu bytes, the manifest says %llu", l.name,
				      (unsigned long long)l.in, (unsigned long long)size);
	}
	if (l.z_open)
		inflateEnd(&l.z);
	mbedtls_sha256_free(&l.sha);
	tar_reader_free(&l.tar);
	if (rc < 0)
		unpack_layer_end(u, NULL);
	return rc;
}

/* ---- picking the manifest ---- */

static int platform_matches(json_t *p, const char *want)
{
	char buf[96];
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	const char *variant = json_string_value(json_object_get(p, "variant"));
	if (!os || !arch)
		return 0;
	snprintf(buf, sizeof buf, "%s/%s", os, arch);
	size_t bl = strlen(buf);
	if (strncmp(want, buf, bl) != 0)
		return 0;
	if (!want[bl])
		return 1;	/* no variant asked for: any */
	return want[bl] == '/' && variant && strcmp(want + bl + 1, variant) == 0;
}

static int pick_platform(const char *name, const char *index, size_t len, const char *want, char digest[OCI_DIGEST_SIZE],
			 struct cerr *err)
{
	json_t *m = json_loadb(index, len, 0, NULL), *ms = json_object_get(m, "manifests"), *d;
	size_t i;
	int rc = cerr_set(err, COMPAT_ENOTFOUND, "%s: no %s image in the index (it has:", name, want);
	size_t used = strlen(err ? err->msg : "");
	json_array_foreach(ms, i, d) {
		json_t *p = json_object_get(d, "platform");
		const char *dg = json_string_value(json_object_get(d, "digest"));
		if (rc < 0 && platform_matches(p, want) && oci_digest_valid(dg)) {
			memcpy(digest, dg, OCI_DIGEST_SIZE);
			rc = 0;
		} else if (rc < 0 && err && used + 40 < sizeof err->msg) {
			const char *os = json_string_value(json_object_get(p, "os"));
			const char *arch = json_string_value(json_object_get(p, "architecture"));
			used += snprintf(err->msg + used, sizeof err->msg - used, " %s/%s", os ? os : "?", arch ? arch : "?");
		}
	}
	if (rc < 0 && err && used + 2 < sizeof err->msg)
		snprintf(err->msg + used, sizeof err->msg - used, ")");
	json_decref(m);
	return rc;
}

/* ---- the kernel ABI of the image's libc ---- */

struct kernel_scan {
	unsigned v[3];
	int found;
	int depth;
};

static void scan_libc(int dirfd, struct kernel_scan *k)
{
	DIR *d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && k->depth < 64) {
			int fd = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0) {
				k->depth++;
				scan_libc(fd, k);
				k->depth--;
			}
		} else if (S_ISREG(st.st_mode) &&
			   (strcmp(e->d_name, "libc.so.6") == 0 || (strncmp(e->d_name, "libc-2.", 7) == 0 &&
								    strstr(e->d_name, ".so")))) {
			int fd = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			unsigned v[3];
			if (fd >= 0 && elf_abi_tag_fd(fd, e->d_name, v, NULL) == 1 &&
			    (!k->found || v[0] > k->v[0] || (v[0] == k->v[0] && (v[1] > k->v[1] ||
										  (v[1] == k->v[1] && v[2] > k->v[2]))))) {
				memcpy(k->v, v, sizeof v);
				k->found = 1;
			}
			if (fd >= 0)
				close(fd);
		}
	}
	closedir(d);
}

/* ---- describing the tree ---- */

struct missing {
	struct strmap by_soname;	/* soname -> struct missing_list */
	size_t tree_len;
};

struct missing_list {
	char *first;	/* a program that needs it (path in the image) */
	size_t count;
};

static void on_missing(void *ctx, const char *path, const char *soname)
{
	struct missing *m = ctx;
	struct missing_list *l = strmap_get(&m->by_soname, soname);
	if (!l) {
		if (!(l = calloc(1, sizeof *l)))
			return;
		if (strmap_put(&m->by_soname, soname, l) < 0) {
			free(l);
			return;
		}
	}
	if (!l->first)
		l->first = strdup(strlen(path) > m->tree_len ? path + m->tree_len : path);
	l->count++;
}

static void free_missing(void *p)
{
	struct missing_list *l = p;
	free(l->first);
	free(l);
}

static int keep_attr(const char *key)
{
	static const char *const drop[] = { "library-name.", "elf.interpreter", "search-path", "executable-name" };
	if (strncmp(key, ARTIFACT_NS, sizeof ARTIFACT_NS - 1) != 0)
		return 1;
	key += sizeof ARTIFACT_NS - 1;
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
		if (strncmp(key, drop[i], strlen(drop[i])) == 0)
			return 0;
	return 1;
}

static int describe_tree(const char *tree, const char *ref, const struct image_opts *o, const struct image_info *info,
			 struct artifact *a, struct cerr *err)
{
	struct missing miss = { .tree_len = strlen(tree) };
	struct describe_opts dopts = { .root = tree, .no_symbols = o->no_symbols, .missing = on_missing,
				       .missing_ctx = &miss };
	struct artifact full;
	artifact_init(&full);
	const char *paths[] = { tree };
	int rc = describe_paths(paths, 1, &dopts, NULL, NULL, &full, err);
	if (rc == COMPAT_EINVAL)
		cerr_set(err, rc, "%s: no ELF program or library in the image", ref);
	for (size_t i = 0; rc == 0 && i < full.nattrs; i++)
		if (keep_attr(full.attrs[i].key) && artifact_set(a, full.attrs[i].key, full.attrs[i].value) < 0)
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	if (rc == 0) {
		struct kernel_scan k = { .found = 0 };
		int fd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			scan_libc(fd, &k);
		char kv[48];
		snprintf(kv, sizeof kv, "%u.%u.%u", k.v[0], k.v[1], k.v[2]);
		if (!(a->version = strdup(ARTIFACT_VERSION)) ||
		    artifact_set(a, ARTIFACT_NS "kind", "image") < 0 ||
		    artifact_set(a, ARTIFACT_NS "executable-name", ref) < 0 ||
		    artifact_set(a, ARTIFACT_NS "image.digest", info->digest) < 0 ||
		    (info->platform[0] && artifact_set(a, ARTIFACT_NS "image.platform", info->platform) < 0) ||
		    (k.found && artifact_set(a, ARTIFACT_NS "kernel", kv) < 0))
			rc = cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	/* Sonames nothing in the image provides: the runtime must inject
	 * them, or the programs that need them cannot start. */
	for (size_t i = 0; o->warn && rc == 0 && i < miss.by_soname.cap; i++) {
		const char *soname = miss.by_soname.slots[i].key;
		const struct missing_list *l = miss.by_soname.slots[i].value;
		if (!soname || !l->first)
			continue;
		char msg[700];
		if (l->count > 1)
			snprintf(msg, sizeof msg, "%s and %zu other file%s need %s, which the image does not have "
				 "(the node must provide it)", l->first, l->count - 1, l->count == 2 ? "" : "s", soname);
		else
			snprintf(msg, sizeof msg, "%s needs %s, which the image does not have (the node must provide it)",
				 l->first, soname);
		o->warn(o->ctx, msg);
	}
	strmap_each(&miss.by_soname, free_missing);
	strmap_free(&miss.by_soname);
	artifact_free(&full);
	return rc;
}

/* ---- the whole thing ---- */

int image_describe(const char *ref, const struct image_opts *o, struct artifact *a, struct image_info *info,
		   struct cerr *err)
{
	struct source s = { .client = NULL, .layout_fd = -1 };
	struct image_info local;
	struct oci_opts default_oci = { 0 };
	char *man = NULL, *cfg = NULL, mtype[128] = "", want[64], top[4096] = "", reference[129] = "";
	size_t mlen = 0, clen = 0;
	int rc, top_fd = -1, root_fd = -1, unpacking = 0;
	struct unpack u;
	json_t *mj = NULL;
	if (!COMPAT_IMAGE_GEN)
		return cerr_set(err, COMPAT_EINVAL, "%s: describing images is not in this build of compat (the static "
				"one leaves it out); use the dynamic one", ref);
	if (!info)
		info = &local;
	memset(info, 0, sizeof *info);
	if (o->platform)
		snprintf(want, sizeof want, "%s", o->platform);
	else
		image_node_platform(want, sizeof want);

	if (strncmp(ref, "oci:", 4) == 0) {
		rc = layout_open(&s, ref, info->digest, err);
	} else {
		struct oci_ref r;
		rc = oci_client_new(ref, o->oci ? o->oci : &default_oci, &r, &s.client, err);
		if (rc == 0)
			snprintf(s.name, sizeof s.name, "%s", ref);
		if (rc == 0)
			snprintf(reference, sizeof reference, "%s", r.digest[0] ? r.digest : r.tag);
	}
	if (rc < 0)
		goto out;
	/* By tag the digest is learnt from the manifest itself. */
	if (s.client)
		rc = oci_client_manifest(s.client, reference, &man, &mlen, info->digest, mtype, err);
	else
		rc = source_blob(&s, info->digest, 1, &man, &mlen, mtype, err);
	if (rc < 0)
		goto out;
	memcpy(info->manifest, info->digest, OCI_DIGEST_SIZE);
	char what[128] = "";
	int kind = oci_manifest_kind(man, mlen, mtype, what, sizeof what);
	if (kind == OCI_KIND_INDEX) {
		if ((rc = pick_platform(ref, man, mlen, want, info->manifest, err)) < 0)
			goto out;
		free(man);
		man = NULL;
		if ((rc = source_blob(&s, info->manifest, 1, &man, &mlen, mtype, err)) < 0)
			goto out;
		kind = oci_manifest_kind(man, mlen, mtype, what, sizeof what);
	}
	if (kind != OCI_KIND_IMAGE) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: %s, not an image", ref,
			      kind == OCI_KIND_ARTIFACT ? "a compat artifact" : kind == OCI_KIND_INDEX ? "an index of indexes"
			      : kind == OCI_KIND_OTHER ? "an artifact of another type" : "not a manifest");
		goto out;
	}
	mj = json_loadb(man, mlen, 0, NULL);
	json_t *layers = json_object_get(mj, "layers");
	const char *cdigest = json_string_value(json_object_get(json_object_get(mj, "config"), "digest"));
	if (!json_is_array(layers) || json_array_size(layers) > MAX_LAYERS || !oci_digest_valid(cdigest)) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: a manifest without a config or with more than %d layers", ref,
			      MAX_LAYERS);
		goto out;
	}
	if ((rc = source_blob(&s, cdigest, 0, &cfg, &clen, NULL, err)) < 0)
		goto out;
	json_t *cj = json_loadb(cfg, clen, 0, NULL);
	const char *os = json_string_value(json_object_get(cj, "os"));
	const char *arch = json_string_value(json_object_get(cj, "architecture"));
	const char *variant = json_string_value(json_object_get(cj, "variant"));
	snprintf(info->platform, sizeof info->platform, "%s/%s%s%s", os ? os : "?", arch ? arch : "?",
		 variant ? "/" : "", variant ? variant : "");
	int mismatch = o->platform && !platform_matches(cj, want);
	json_decref(cj);
	if (mismatch) {
		rc = cerr_set(err, COMPAT_ENOTFOUND, "%s: the image is %s, not %s", ref, info->platform, want);
		goto out;
	}

	/* The private tree: a 0700 directory only we can enter. */
	const char *tmp = o->tmpdir ? o->tmpdir : getenv("TMPDIR");
	snprintf(top, sizeof top, "%s/compat-image.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(top)) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", top);
		top[0] = '\0';
		goto out;
	}
	snprintf(info->tree, sizeof info->tree, "%s/rootfs", top);
	if ((top_fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || mkdirat(top_fd, "rootfs", 0755) < 0 ||
	    (root_fd = openat(top_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", info->tree);
		goto out;
	}
	unpack_init(&u, root_fd, o->max_bytes, o->max_files);
	unpacking = 1;
	size_t i;
	json_t *l;
	json_array_foreach(layers, i, l) {
		if ((rc = apply_layer(&s, &u, i, l, o, err)) < 0)
			goto out;
	}
	info->layers = json_array_size(layers);
	info->bytes = u.bytes;
	info->files = u.files;
	rc = describe_tree(info->tree, ref, o, info, a, err);
out:
	if (unpacking)
		unpack_free(&u);
	if (root_fd >= 0)
		close(root_fd);
	if (top[0]) {
		/* Whatever happened, the tree goes. */
		struct cerr e2;
		if (top_fd >= 0 && unpack_remove_tree(top_fd, "rootfs", &e2) < 0 && rc == 0)
			rc = cerr_set(err, COMPAT_EIO, "removing %s: %s", info->tree, e2.msg);
		if (rmdir(top) < 0 && rc == 0)
			rc = cerr_sys(err, COMPAT_EIO, "removing %s", top);
	}
	if (top_fd >= 0)
		close(top_fd);
	json_decref(mj);
	free(man);
	free(cfg);
	if (s.client)
		oci_client_free(s.client);
	if (s.layout_fd >= 0)
		close(s.layout_fd);
	return rc;
}
