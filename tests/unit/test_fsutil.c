#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/fsutil.h"
#include "core/strmap.h"
#include "fixture.h"

static void test_atomic_write_and_read(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/out.json", fx_tmpdir());
	CHECK_INT(fs_write_atomic(path, "hello", 5, NULL), 0);
	CHECK_INT(fs_write_atomic(path, "world!", 6, NULL), 0);
	char *data;
	size_t len;
	CHECK_INT(fs_read_file(path, 100, &data, &len, NULL), 0);
	CHECK_INT(len, 6);
	CHECK_STR(data, "world!");
	free(data);
	CHECK_INT(fs_read_file(path, 3, &data, &len, NULL), COMPAT_ELIMIT);
	/* No temporary file is left behind, even on failure. */
	CHECK(fs_write_atomic("/nonexistent-dir/x", "a", 1, NULL) == COMPAT_EIO);
	CHECK_INT(fx_sh("ls %s | grep -c tmp > /dev/null", fx_tmpdir()), 1);
	/* A device or FIFO is written in place, never renamed over. */
	CHECK_INT(fs_write_atomic("/dev/null", "x", 1, NULL), 0);
	struct stat st;
	CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
	CHECK(fs_write_atomic(fx_tmpdir(), "x", 1, NULL) == COMPAT_EIO);
}

/* fs_write_atomic_at: through a directory fd, never through a symlink
 * planted at the name, no temp file left. */
static void test_atomic_write_at(void)
{
	char dir[600], victim[600], p[700];
	snprintf(dir, sizeof dir, "%s/at", fx_tmpdir());
	snprintf(victim, sizeof victim, "%s/victim", fx_tmpdir());
	CHECK_INT(fx_sh("mkdir -p %s && echo precious > %s && ln -sf %s %s/name", dir, victim, victim, dir), 0);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK_INT(fs_write_atomic_at(dfd, dir, "name", "new", 3, NULL), 0);
	char *data;
	size_t len;
	CHECK_INT(fs_read_file(victim, 100, &data, &len, NULL), 0);
	CHECK_STR(data, "precious\n");
	free(data);
	snprintf(p, sizeof p, "%s/name", dir);
	struct stat st;
	CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 3);
	CHECK_INT(fs_write_atomic_at(dfd, dir, "a/b", "x", 1, NULL), COMPAT_EINVAL);
	CHECK_INT(fx_sh("ls -A %s | grep -c tmp > /dev/null", dir), 1);
	close(dfd);
}

/* New files get 0666 less the umask, as open(2) would make them. */
static void test_umask_respected(void)
{
	static const struct { mode_t mask, want; } cases[] = { { 077, 0600 }, { 022, 0644 }, { 002, 0664 } };
	char path[600];
	struct stat st;
	mode_t old = umask(022);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(path, sizeof path, "%s/umask%zu", fx_tmpdir(), i);
		umask(cases[i].mask);
		CHECK_INT(fs_write_atomic(path, "x", 1, NULL), 0);
		CHECK(stat(path, &st) == 0);
		CHECK_INT(st.st_mode & 0777, cases[i].want);
	}
	umask(old);
}

static void test_strmap(void)
{
	struct strmap m = { 0 };
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		CHECK_INT(strmap_put(&m, key, (void *)(long)(i + 1)), 0);
	}
	CHECK_INT(m.n, 1000);
	CHECK((long)strmap_get(&m, "k777") == 778);
	CHECK(strmap_get(&m, "k1000") == NULL);
	strmap_put(&m, "k5", (void *)99L);
	CHECK((long)strmap_get(&m, "k5") == 99);
	CHECK_INT(m.n, 1000);
	strmap_free(&m);
}

int main(void)
{
	RUN(test_atomic_write_and_read);
	RUN(test_atomic_write_at);
	RUN(test_umask_respected);
	RUN(test_strmap);
	fx_cleanup();
	return check_summary();
}
