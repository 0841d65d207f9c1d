#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

/* 0, or COMPAT_EIO with errno set. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return COMPAT_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A destination that exists and is not a regular file (/dev/null, a
 * FIFO, a terminal) is written in place: renaming over it would replace
 * the device with a file. */
static int write_special(const char *path, const void *data, size_t len, struct cerr *err)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", path);
	int rc = write_all(fd, data, len) < 0 ? cerr_sys(err, COMPAT_EIO, "%s", path) : 0;
	close(fd);
	return rc;
}

/* A new file beside path, created as open(2) creates files: mode 0666
 * less the umask (mkstemp would make it 0600, and a fixed fchmod would
 * ignore the umask). The name is random, the open exclusive. */
static int create_temp(const char *path, char *tmp, size_t cap, struct cerr *err)
{
	for (int tries = 0; tries < 100; tries++) {
		uint32_t r;
		if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
			r = (uint32_t)getpid() * 2654435761u ^ (uint32_t)tries ^ (uint32_t)(uintptr_t)tmp;
		if ((size_t)snprintf(tmp, cap, "%s.tmp.%08x", path, r) >= cap)
			return cerr_set(err, COMPAT_EINVAL, "%s: path too long", path);
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : cerr_sys(err, COMPAT_EIO, "%s", path);
	}
	return cerr_set(err, COMPAT_EIO, "%s: no free temporary name", path);
}

int fs_write_atomic(const char *path, const void *data, size_t len, struct cerr *err)
{
	char tmp[4096], dir[4096];
	int fd = -1, rc = 0;
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? cerr_set(err, COMPAT_EIO, "%s: is a directory", path)
					   : write_special(path, data, len, err);

	fd = create_temp(path, tmp, sizeof tmp, err);
	if (fd < 0)
		return fd;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", tmp);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = cerr_sys(err, COMPAT_EIO, "%s", tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", path);
		goto out;
	}
	snprintf(dir, sizeof dir, "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int fs_write_atomic_at(int dirfd, const char *shown, const char *name, const void *data, size_t len,
		       struct cerr *err)
{
	static unsigned counter;
	char tmp[64];
	int fd = -1, rc = 0;

	if (!*name || strchr(name, '/'))
		return cerr_set(err, COMPAT_EINVAL, "%s/%s: not a file name", shown, name);
	for (int tries = 0; fd < 0 && tries < 100; tries++) {
		snprintf(tmp, sizeof tmp, ".compat-%d-%u.tmp", (int)getpid(), counter++);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s/%s", shown, name);
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s/%s", shown, name);
		goto out;
	}
	int c = close(fd);
	fd = -1;
	if (c < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s/%s", shown, name);
		goto out;
	}
	fsync(dirfd);
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

int fs_read_file(const char *path, size_t max, char **data, size_t *len, struct cerr *err)
{
	int rc = 0;
	char *buf = NULL;
	size_t used = 0, cap = 0;
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", path);
	for (;;) {
		if (used + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			if (ncap > max + 2)
				ncap = max + 2;
			if (used + 1 >= ncap) {
				rc = cerr_set(err, COMPAT_ELIMIT, "%s: larger than %zu bytes", path, max);
				goto out;
			}
			char *nb = realloc(buf, ncap);
			if (!nb) {
				rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = cerr_sys(err, COMPAT_EIO, "%s", path);
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (!buf && !(buf = malloc(1))) {
		rc = cerr_set(err, COMPAT_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	buf = NULL;
out:
	free(buf);
	if (fd > 0)
		close(fd);
	return rc;
}
