/* Why every step looks the way it does: an image's layers come from
 * whoever pushed it. A tar entry "a/b" where "a" is a symbolic link to
 * "/etc" would write into the host's /etc if opened by path; so paths are
 * split into components and each directory is opened relative to its
 * parent with O_NOFOLLOW|O_DIRECTORY, and the last component is created
 * with O_EXCL|O_NOFOLLOW (after removing what was there: a later layer
 * replaces an earlier entry, it never writes through it). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unpack.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

void unpack_init(struct unpack *u, int root_fd, uint64_t max_bytes, uint64_t max_files)
{
	memset(u, 0, sizeof *u);
	u->root_fd = root_fd;
	u->max_bytes = max_bytes ? max_bytes : UNPACK_MAX_BYTES;
	u->max_files = max_files ? max_files : UNPACK_MAX_FILES;
	u->out_fd = -1;
	u->dir_fd = -1;
}

static void drop_dir_cache(struct unpack *u)
{
	if (u->dir_fd >= 0)
		close(u->dir_fd);
	u->dir_fd = -1;
	u->dir_path[0] = '\0';
}

void unpack_layer_begin(struct unpack *u, const char *name)
{
	strmap_free(&u->layer);
	snprintf(u->layer_name, sizeof u->layer_name, "%s", name);
}

int unpack_layer_end(struct unpack *u, struct cerr *err)
{
	int rc = 0;
	if (u->out_fd >= 0) {
		close(u->out_fd);
		u->out_fd = -1;
		rc = cerr_set(err, COMPAT_EINVAL, "%s: %s: the layer ended inside the file", u->layer_name, u->cur);
	}
	strmap_free(&u->layer);
	drop_dir_cache(u);
	return rc;
}

void unpack_free(struct unpack *u)
{
	if (u->out_fd >= 0)
		close(u->out_fd);
	u->out_fd = -1;
	strmap_free(&u->layer);
	drop_dir_cache(u);
}

static int remove_at(int dirfd, const char *name, int depth, struct cerr *err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : cerr_sys(err, COMPAT_EIO, "%s", name);
	if (S_ISDIR(st.st_mode)) {
		if (depth > UNPACK_MAX_DEPTH + 2)
			return cerr_set(err, COMPAT_EIO, "%s: directories nested too deep to remove", name);
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d = fd < 0 ? NULL : fdopendir(fd);
		if (!d) {
			int rc = cerr_sys(err, COMPAT_EIO, "%s", name);
			if (fd >= 0)
				close(fd);
			return rc;
		}
		/* Unreadable directories (mode 0) first get their owner bits back. */
		fchmod(fd, 0700);
		struct dirent *e;
		int rc = 0;
		while (rc == 0 && (e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				rc = remove_at(fd, e->d_name, depth + 1, err);
		closedir(d);
		if (rc < 0)
			return rc;
		return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? cerr_sys(err, COMPAT_EIO, "%s", name) : 0;
	}
	return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? cerr_sys(err, COMPAT_EIO, "%s", name) : 0;
}

int unpack_remove_tree(int dirfd, const char *name, struct cerr *err)
{
	return remove_at(dirfd, name, 0, err);
}

/* Split a stored path into clean components in out ("a/b/c" with no
 * "." or empty parts); *n components. Refuses ".." and absolute paths. */
static int normalize(const struct unpack *u, const char *what, const char *path, char *out, size_t *n,
		     struct cerr *err)
{
	if (path[0] == '/')
		return cerr_set(err, COMPAT_EINVAL, "%s: %s %.200s is an absolute path (refused)", u->layer_name,
				what, path);
	size_t o = 0;
	*n = 0;
	for (const char *p = path; *p;) {
		size_t l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return cerr_set(err, COMPAT_EINVAL, "%s: %s %.200s has a '..' component (refused)",
					u->layer_name, what, path);
		if (l > 255)
			return cerr_set(err, COMPAT_EINVAL, "%s: %s %.100s...: a name longer than 255 bytes",
					u->layer_name, what, path);
		if (l && !(l == 1 && p[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, l);
			o += l;
			if (++*n > UNPACK_MAX_DEPTH)
				return cerr_set(err, COMPAT_EINVAL, "%s: %s %.100s...: nested deeper than %d",
						u->layer_name, what, path, UNPACK_MAX_DEPTH);
		}
		p += l;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	return 0;
}

static int note_created(struct unpack *u, const char *path, struct cerr *err)
{
	if (strmap_get(&u->layer, path))
		return 0;
	if (u->files >= u->max_files)
		return cerr_set(err, COMPAT_ELIMIT, "%s: more than %llu entries in the image (limit)",
				u->layer_name, (unsigned long long)u->max_files);
	u->files++;
	return strmap_put(&u->layer, path, (void *)1) < 0 ? cerr_set(err, COMPAT_ENOMEM, "out of memory") : 0;
}

/* The directory that holds the last component of path (clean), opened
 * without following links and created where missing; *base points to the
 * last component. Returns an fd owned by the cache (do not close). */
static int open_parent(struct unpack *u, const char *entry, char *path, const char **base, struct cerr *err)
{
	char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!slash)
		return u->root_fd;
	*slash = '\0';
	if (u->dir_fd >= 0 && strcmp(u->dir_path, path) == 0) {
		*slash = '/';
		return u->dir_fd;
	}
	drop_dir_cache(u);
	int fd = u->root_fd, rc = 0;
	char *p = path;
	for (;;) {
		char *next = strchr(p, '/');
		if (next)
			*next = '\0';
		int nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0 && errno == ENOENT) {
			/* A parent the layer did not list: made as the runtimes do. */
			if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
				rc = cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, path);
			} else if ((rc = note_created(u, path, err)) == 0) {
				nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			}
		}
		if (nfd < 0 && rc == 0) {
			struct stat st;
			int is_link = fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
			rc = errno == ENOTDIR || errno == ELOOP || is_link
				     ? cerr_set(err, COMPAT_EINVAL, "%s: %.150s: %s is %s (refused: writing through it "
						"could leave the tree)", u->layer_name, entry, path,
						is_link ? "a symbolic link" : "not a directory")
				     : cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, path);
		}
		if (next)
			*next = '/';
		if (fd != u->root_fd)
			close(fd);
		if (rc < 0) {
			if (nfd >= 0)
				close(nfd);
			*slash = '/';
			return rc;
		}
		fd = nfd;
		if (!next)
			break;
		p = next + 1;
	}
	snprintf(u->dir_path, sizeof u->dir_path, "%s", path);
	u->dir_fd = fd;
	*slash = '/';
	return fd;
}

/* A whiteout hides what lower layers made, never what this one made. */
static int whiteout(struct unpack *u, const char *entry, char *path, int pfd, const char *base,
		    struct cerr *err)
{
	size_t dl = (size_t)(base - path);	/* "dir/" prefix length */
	char victim[TAR_MAX_PATH + 8];
	if (strcmp(base, WH_OPAQUE) == 0) {
		int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd < 0 ? NULL : fdopendir(fd);
		if (!d) {
			if (fd >= 0)
				close(fd);
			return cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, entry);
		}
		struct dirent *e;
		int rc = 0;
		while (rc == 0 && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(victim, sizeof victim, "%.*s%s", (int)dl, path, e->d_name);
			if (!strmap_get(&u->layer, victim))
				rc = remove_at(fd, e->d_name, 0, err);
		}
		closedir(d);
		drop_dir_cache(u);
		return rc;
	}
	if (strncmp(base, WH_PREFIX WH_PREFIX, 8) == 0)
		return 0;	/* other AUFS metadata (.wh..wh.plnk...): nothing to do */
	const char *name = base + 4;
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return cerr_set(err, COMPAT_EINVAL, "%s: %.200s: a whiteout of the top directory or a parent (refused)",
				u->layer_name, entry);
	snprintf(victim, sizeof victim, "%.*s%s", (int)dl, path, name);
	if (strmap_get(&u->layer, victim))
		return 0;
	int rc = remove_at(pfd, name, 0, err);
	drop_dir_cache(u);
	return rc;
}

/* Make room for a new entry at pfd/base: what an earlier layer (or entry)
 * put there goes, a directory only when the new entry is not one. */
static int clear_slot(struct unpack *u, int pfd, const char *base, int keep_dir, struct cerr *err)
{
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, base);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir)
			return 1;
		int rc = remove_at(pfd, base, 0, err);
		drop_dir_cache(u);
		return rc;
	}
	return unlinkat(pfd, base, 0) < 0 ? cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, base) : 0;
}

static int hard_link(struct unpack *u, const struct tar_entry *e, int pfd, const char *base, struct cerr *err)
{
	char target[TAR_MAX_PATH];
	size_t n;
	int rc = normalize(u, "hard link target of", e->linkpath, target, &n, err);
	if (rc < 0)
		return rc;
	if (!n)
		return cerr_set(err, COMPAT_EINVAL, "%s: %s: a hard link to the top directory (refused)", u->layer_name,
				e->path);
	/* The target's directory is opened on its own (not cached: pfd is). */
	char *slash = strrchr(target, '/');
	const char *tbase = slash ? slash + 1 : target;
	int tfd = u->root_fd;
	if (slash) {
		*slash = '\0';
		tfd = u->root_fd;
		for (char *p = target; p;) {
			char *next = strchr(p, '/');
			if (next)
				*next = '\0';
			int nfd = openat(tfd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (tfd != u->root_fd)
				close(tfd);
			if (nfd < 0)
				return cerr_set(err, COMPAT_EINVAL, "%s: %.150s: hard link target %.150s is not inside "
						"the tree (refused)", u->layer_name, e->path, e->linkpath);
			tfd = nfd;
			p = next ? next + 1 : NULL;
		}
	}
	struct stat st;
	if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode)) {
		rc = cerr_set(err, COMPAT_EINVAL, "%s: %.150s: hard link target %.150s %s (refused)", u->layer_name,
			      e->path, e->linkpath, errno == ENOENT ? "does not exist" : "is not a file");
	} else {
		struct stat dst;
		int same = fstatat(pfd, base, &dst, AT_SYMLINK_NOFOLLOW) == 0 && dst.st_dev == st.st_dev &&
			   dst.st_ino == st.st_ino;
		if (!same && (rc = clear_slot(u, pfd, base, 0, err)) == 0 && linkat(tfd, tbase, pfd, base, 0) < 0)
			rc = cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, e->path);
	}
	if (tfd != u->root_fd)
		close(tfd);
	return rc;
}

static int on_entry(void *ctx, const struct tar_entry *e, struct cerr *err)
{
	struct unpack *u = ctx;
	char path[TAR_MAX_PATH];
	size_t n;
	int rc = normalize(u, "entry", e->path, path, &n, err);
	if (rc < 0)
		return rc;
	if (u->out_fd >= 0) {
		close(u->out_fd);
		u->out_fd = -1;
	}
	if (e->type == TAR_CHAR || e->type == TAR_BLOCK)
		return cerr_set(err, COMPAT_EINVAL, "%s: %.200s: a %s device node (refused)", u->layer_name, e->path,
				e->type == TAR_CHAR ? "character" : "block");
	if (!n) {
		if (e->type == TAR_DIR)
			return 0;	/* "./" itself */
		return cerr_set(err, COMPAT_EINVAL, "%s: %.200s: an entry in place of the top directory (refused)",
				u->layer_name, e->path);
	}
	if (e->type == TAR_FIFO)
		return 0;	/* nothing a program is made of */
	const char *base;
	int pfd = open_parent(u, e->path, path, &base, err);
	if (pfd < 0)
		return pfd;
	if (strncmp(base, WH_PREFIX, 4) == 0)
		return whiteout(u, e->path, path, pfd, base, err);
	if ((rc = note_created(u, path, err)) < 0)
		return rc;
	switch (e->type) {
	case TAR_DIR:
		if ((rc = clear_slot(u, pfd, base, 1, err)) < 0)
			return rc;
		if (rc == 0 && mkdirat(pfd, base, (e->mode & 0755) | 0700) < 0)
			return cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, e->path);
		return 0;
	case TAR_SYMLINK:
		if (!e->linkpath[0])
			return cerr_set(err, COMPAT_EINVAL, "%s: %.200s: a symbolic link to nothing", u->layer_name,
					e->path);
		if ((rc = clear_slot(u, pfd, base, 0, err)) < 0)
			return rc;
		return symlinkat(e->linkpath, pfd, base) < 0 ? cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name,
									   e->path)
							     : 0;
	case TAR_HARDLINK:
		return hard_link(u, e, pfd, base, err);
	default:
		break;
	}
	/* A regular file: its declared size counts before a byte is written. */
	if (e->size > u->max_bytes - u->bytes)
		return cerr_set(err, COMPAT_ELIMIT, "%s: %.150s: %llu bytes would take the image past its limit of "
				"%llu bytes (refused)", u->layer_name, e->path, (unsigned long long)e->size,
				(unsigned long long)u->max_bytes);
	if ((rc = clear_slot(u, pfd, base, 0, err)) < 0)
		return rc;
	int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (e->mode & 0755) | 0600);
	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s: %s", u->layer_name, e->path);
	u->bytes += e->size;
	if (!e->size) {
		close(fd);
		return 0;
	}
	u->out_fd = fd;
	u->left = e->size;
	snprintf(u->cur, sizeof u->cur, "%s", e->path);
	return 0;
}

static int on_data(void *ctx, const uint8_t *p, size_t n, struct cerr *err)
{
	struct unpack *u = ctx;
	if (u->out_fd < 0)
		return 0;	/* data of an entry that is not written (hard link with data) */
	while (n) {
		ssize_t w = write(u->out_fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cerr_sys(err, COMPAT_EIO, "%s: writing %s", u->layer_name, u->cur);
		p += w;
		n -= (size_t)w;
		u->left -= (uint64_t)w;
	}
	if (!u->left) {
		close(u->out_fd);
		u->out_fd = -1;
	}
	return 0;
}

const struct tar_callbacks unpack_tar_callbacks = { on_entry, on_data };
