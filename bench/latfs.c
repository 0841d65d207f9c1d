/* latfs: a read-only FUSE passthrough of a directory that answers every
 * lookup after a fixed delay, as a loaded NFS server would (bench/cache.sh).
 *
 *   latfs [--delay-us N] BACKING MOUNTPOINT [FUSE options, e.g. -f]
 *
 * The kernel asks the daemon for each path component it does not have in
 * its dentry cache. Found entries are kept by the kernel (entry and attr
 * timeouts of an hour), missing ones are not (negative timeout 0): each
 * failed lookup reaches the daemon and pays the delay every time, as with
 * NFS's default of not caching negative lookups across a server round
 * trip. File contents stay in the page cache (kernel_cache). Every getattr
 * the kernel sends is delayed; with these timeouts nearly all of them are
 * lookups. Multithreaded (libfuse's default loop), so concurrent lookups
 * overlap as on a server with several threads.
 * Build: cc -O2 -o latfs latfs.c $(pkg-config --cflags --libs fuse3) */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char backing[PATH_MAX];
static long delay_us = 200;

static int full_path(const char *path, char *out)
{
	return snprintf(out, PATH_MAX, "%s%s", backing, path) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

static void delay(void)
{
	struct timespec ts = { delay_us / 1000000, (delay_us % 1000000) * 1000 };
	if (delay_us > 0)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
}

static void *lat_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 3600;
	cfg->attr_timeout = 3600;
	cfg->negative_timeout = 0;
	cfg->kernel_cache = 1;
	cfg->use_ino = 1;
	return NULL;
}

static int lat_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	(void)fi;
	delay();
	if (full_path(path, p) < 0)
		return -ENAMETOOLONG;
	return lstat(p, st) < 0 ? -errno : 0;
}

static int lat_readlink(const char *path, char *buf, size_t size)
{
	char p[PATH_MAX];
	if (full_path(path, p) < 0)
		return -ENAMETOOLONG;
	ssize_t n = readlink(p, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int lat_open(const char *path, struct fuse_file_info *fi)
{
	char p[PATH_MAX];
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	if (full_path(path, p) < 0)
		return -ENAMETOOLONG;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	return 0;
}

static int lat_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int lat_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int lat_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		       enum fuse_readdir_flags flags)
{
	char p[PATH_MAX];
	(void)off;
	(void)fi;
	(void)flags;
	if (full_path(path, p) < 0)
		return -ENAMETOOLONG;
	DIR *d = opendir(p);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));)
		if (fill(buf, e->d_name, NULL, 0, 0))
			break;
	closedir(d);
	return 0;
}

static int lat_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	return statvfs(backing, st) < 0 ? -errno : 0;
}

static const struct fuse_operations ops = {
	.init = lat_init,
	.getattr = lat_getattr,
	.readlink = lat_readlink,
	.open = lat_open,
	.read = lat_read,
	.release = lat_release,
	.readdir = lat_readdir,
	.statfs = lat_statfs,
};

int main(int argc, char **argv)
{
	int i = 1;
	if (i + 1 < argc && !strcmp(argv[i], "--delay-us")) {
		delay_us = atol(argv[i + 1]);
		i += 2;
	}
	if (argc - i < 2 || delay_us < 0 || delay_us > 1000000) {
		fprintf(stderr, "usage: latfs [--delay-us N] BACKING MOUNTPOINT [FUSE options]\n");
		return 2;
	}
	if (!realpath(argv[i], backing)) {
		perror(argv[i]);
		return 2;
	}
	/* The default 50 us timer slack would add itself to every delay; the
	 * worker threads inherit this setting. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* FUSE sees: prog MOUNTPOINT [options] -o ro,default_permissions */
	char **fargv = calloc((size_t)argc + 4, sizeof *fargv);
	int fargc = 0;
	if (!fargv)
		return 1;
	fargv[fargc++] = argv[0];
	for (int k = i + 1; k < argc; k++)
		fargv[fargc++] = argv[k];
	fargv[fargc++] = "-o";
	fargv[fargc++] = "ro,default_permissions,fsname=latfs";
	return fuse_main(fargc, fargv, &ops, NULL);
}
