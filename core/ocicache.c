#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "ocicache.h"

#define MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"

void oci_digest(const void *data, size_t len, char digest[OCI_DIGEST_SIZE])
{
	unsigned char h[32];
	mbedtls_sha256_ret(data, len, h, 0);
	memcpy(digest, "sha256:", 7);
	for (int i = 0; i < 32; i++)
		sprintf(digest + 7 + 2 * i, "%02x", h[i]);
}

int ocicache_dir(const char *dir, char *out, size_t cap, struct cerr *err)
{
	const char *env = getenv("COMPAT_CACHE"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;
	if (dir)
		n = snprintf(out, cap, "%s", dir);
	else if (env && *env)
		n = snprintf(out, cap, "%s", env);
	else if (xdg && *xdg)
		n = snprintf(out, cap, "%s/compat", xdg);
	else if (home && *home)
		n = snprintf(out, cap, "%s/.cache/compat", home);
	else
		return cerr_set(err, COMPAT_EINVAL, "no cache directory: set COMPAT_CACHE or HOME");
	return n < 0 || (size_t)n >= cap ? cerr_set(err, COMPAT_EINVAL, "cache path too long") : 0;
}

/* mkdir -p, with the umask applied (0777 less it). 0, or COMPAT_EIO
 * with errno set. */
static int mkdirs(const char *path)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0777) < 0 && errno != EEXIST)
				return COMPAT_EIO;
			*p = '/';
		}
	return mkdir(tmp, 0777) < 0 && errno != EEXIST ? COMPAT_EIO : 0;
}

/* The layout's fixed files, created once. */
static int ensure_layout(const char *dir, struct cerr *err)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/blobs/sha256", dir);
	if (mkdirs(p) < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", p);
	snprintf(p, sizeof p, "%s/oci-layout", dir);
	if (access(p, F_OK) != 0) {
		static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
		int rc = fs_write_atomic(p, layout, sizeof layout - 1, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int oci_digest_valid(const char *d)
{
	return d && strlen(d) == OCI_DIGEST_LEN && strncmp(d, "sha256:", 7) == 0 &&
	       strspn(d + 7, "0123456789abcdef") == 64;
}

static int blob_path(const char *dir, const char *digest, char *out, size_t cap, struct cerr *err)
{
	if (!oci_digest_valid(digest))
		return cerr_set(err, COMPAT_EINVAL, "%.80s: not a sha256 digest", digest);
	snprintf(out, cap, "%s/blobs/sha256/%s", dir, digest + 7);
	return 0;
}

int ocicache_put_blob(const char *dir, const char *digest, const void *data, size_t len, struct cerr *err)
{
	char p[4200];
	int rc = blob_path(dir, digest, p, sizeof p, err);
	if (rc == 0)
		rc = ensure_layout(dir, err);
	return rc < 0 ? rc : fs_write_atomic(p, data, len, err);
}

int ocicache_get_blob(const char *dir, const char *digest, size_t max, char **data, size_t *len,
		      struct cerr *err)
{
	char p[4200], got[OCI_DIGEST_SIZE];
	int rc = blob_path(dir, digest, p, sizeof p, err);
	if (rc < 0)
		return rc;
	if (access(p, F_OK) != 0)
		return cerr_set(err, COMPAT_ENOTFOUND, "%s: not in the cache", digest);
	if ((rc = fs_read_file(p, max, data, len, err)) < 0)
		return rc;
	oci_digest(*data, *len, got);
	if (strcmp(got, digest) != 0) {
		free(*data);
		*data = NULL;
		unlink(p);	/* corrupt: never used, refetched next time */
		return cerr_set(err, COMPAT_EDIGEST, "cache entry %s is corrupt (content is %s); removed", digest,
				got);
	}
	return 0;
}

static json_t *load_index(const char *dir)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/index.json", dir);
	json_t *idx = json_load_file(p, 0, NULL);
	if (!json_is_object(idx) || !json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		idx = json_pack("{s:i, s:[]}", "schemaVersion", 2, "manifests");
	}
	return idx;
}

/* index.json is read, changed and written back: writers (processes, and
 * the server's workers) take turns on an exclusive flock of the cache
 * directory itself, so that none loses another's entry. Returns the
 * locked descriptor (close to unlock), or COMPAT_EIO. */
static int lock_index(const char *dir, struct cerr *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int rc = cerr_sys(err, COMPAT_EIO, "%s: lock", dir);
			close(fd);
			return rc;
		}
	return fd;
}

int ocicache_tag(const char *dir, const char *ref, const char *tag, const char *manifest_digest,
		 size_t manifest_size, struct cerr *err)
{
	int rc = ensure_layout(dir, err);
	if (rc < 0)
		return rc;
	int lock = lock_index(dir, err);
	if (lock < 0)
		return lock;
	json_t *idx = load_index(dir), *ms = json_object_get(idx, "manifests");
	size_t i;
	json_t *m;
	/* One entry per ref; the tag name (for other OCI tools) moves to the newest. */
	for (i = json_array_size(ms); i-- > 0;) {
		m = json_array_get(ms, i);
		json_t *ann = json_object_get(m, "annotations");
		const char *r = json_string_value(json_object_get(ann, "llnl.compatlib.ref"));
		const char *n = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
		if ((r && strcmp(r, ref) == 0) || (tag && n && strcmp(n, tag) == 0 && !r))
			json_array_remove(ms, i);
		else if (tag && n && strcmp(n, tag) == 0)
			json_object_del(ann, "org.opencontainers.image.ref.name");
	}
	json_t *ann = json_pack("{s:s}", "llnl.compatlib.ref", ref);
	if (ann && tag && json_object_set_new(ann, "org.opencontainers.image.ref.name", json_string(tag)) < 0) {
		json_decref(ann);
		ann = NULL;
	}
	/* "o" takes ann, also when the pack fails */
	json_t *entry = ann ? json_pack("{s:s, s:s, s:I, s:o}", "mediaType", MANIFEST_TYPE, "digest", manifest_digest,
					"size", (json_int_t)manifest_size, "annotations", ann) : NULL;
	int added = 0;
	if (ms && entry) {
		added = json_array_append_new(ms, entry) == 0;
		entry = NULL;	/* taken, whatever the outcome */
	}
	json_decref(entry);
	char *text = added ? json_dumps(idx, JSON_INDENT(2)) : NULL;
	json_decref(idx);
	if (!text) {
		close(lock);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	char p[4200];
	snprintf(p, sizeof p, "%s/index.json", dir);
	rc = fs_write_atomic(p, text, strlen(text), err);
	free(text);
	close(lock);
	return rc;
}

int ocicache_lookup(const char *dir, const char *ref, char digest[OCI_DIGEST_SIZE], struct cerr *err)
{
	json_t *idx = load_index(dir), *ms = json_object_get(idx, "manifests"), *m;
	size_t i;
	int rc = cerr_set(err, COMPAT_ENOTFOUND, "%s: not in the cache", ref);
	json_array_foreach(ms, i, m) {
		const char *r = json_string_value(json_object_get(json_object_get(m, "annotations"),
								 "llnl.compatlib.ref"));
		const char *d = json_string_value(json_object_get(m, "digest"));
		if (r && strcmp(r, ref) == 0 && oci_digest_valid(d)) {
			memcpy(digest, d, OCI_DIGEST_SIZE);
			rc = 0;
		}
	}
	json_decref(idx);
	return rc;
}
