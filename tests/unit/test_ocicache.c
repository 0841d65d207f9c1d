#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/ocicache.h"
#include "fixture.h"

static void test_digest(void)
{
	char d[72];
	oci_digest("{}", 2, d);
	CHECK_STR(d, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
}

static void test_blobs_tags_and_corruption(void)
{
	char dir[600], d[72], got[72], p[800];
	snprintf(dir, sizeof dir, "%s/cache", fx_tmpdir());
	oci_digest("hello", 5, d);
	CHECK_INT(ocicache_put_blob(dir, d, "hello", 5, NULL), 0);
	char *data;
	size_t len;
	CHECK_INT(ocicache_get_blob(dir, d, 100, &data, &len, NULL), 0);
	CHECK(len == 5 && memcmp(data, "hello", 5) == 0);
	free(data);
	snprintf(p, sizeof p, "%s/oci-layout", dir);
	CHECK(fx_sh("grep -q imageLayoutVersion %s", p) == 0);
	CHECK_INT(ocicache_tag(dir, "reg.example/app:v1", "v1", d, 5, NULL), 0);
	CHECK_INT(ocicache_tag(dir, "reg.example/app:v1", "v1", d, 5, NULL), 0);	/* replaced, not added */
	snprintf(p, sizeof p, "%s/index.json", dir);
	CHECK_INT(fx_sh("test $(grep -c llnl.compatlib.ref %s) = 1", p), 0);
	CHECK_INT(ocicache_lookup(dir, "reg.example/app:v1", got, NULL), 0);
	CHECK_STR(got, d);
	CHECK_INT(ocicache_lookup(dir, "reg.example/app:v2", got, NULL), COMPAT_ENOTFOUND);
	/* A corrupt blob is reported and removed, never used. */
	snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, d + 7);
	CHECK(fx_sh("printf HELLO > %s", p) == 0);
	struct cerr err;
	CHECK_INT(ocicache_get_blob(dir, d, 100, &data, &len, &err), COMPAT_EDIGEST);
	CHECK(strstr(err.msg, "corrupt") != NULL);
	CHECK_INT(ocicache_get_blob(dir, d, 100, &data, &len, NULL), COMPAT_ENOTFOUND);
	CHECK_INT(ocicache_get_blob(dir, "sha256:../../etc/passwd", 100, &data, &len, NULL), COMPAT_EINVAL);
}

/* Blobs and the layout's directories follow the umask too. */
static void test_umask(void)
{
	char dir[600], d[72], p[800];
	struct stat st;
	snprintf(dir, sizeof dir, "%s/umask-cache", fx_tmpdir());
	mode_t old = umask(027);
	oci_digest("abc", 3, d);
	CHECK_INT(ocicache_put_blob(dir, d, "abc", 3, NULL), 0);
	snprintf(p, sizeof p, "%s/blobs/sha256/%s", dir, d + 7);
	CHECK(stat(p, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0640);
	snprintf(p, sizeof p, "%s/blobs", dir);
	CHECK(stat(p, &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0750);
	umask(old);
}

/* Writers that tag at once lose no entry of index.json: 8 processes,
 * 25 references each. */
static void test_concurrent_tags(void)
{
	char dir[600], d[72], p[800];
	snprintf(dir, sizeof dir, "%s/busy-cache", fx_tmpdir());
	oci_digest("m", 1, d);
	CHECK_INT(ocicache_put_blob(dir, d, "m", 1, NULL), 0);
	pid_t kids[8];
	for (int k = 0; k < 8; k++) {
		if ((kids[k] = fork()) == 0) {
			int bad = 0;
			for (int i = 0; i < 25; i++) {
				char ref[100];
				snprintf(ref, sizeof ref, "reg.example/app:k%d-%d", k, i);
				bad |= ocicache_tag(dir, ref, NULL, d, 1, NULL) != 0;
			}
			_exit(bad);
		}
	}
	for (int k = 0; k < 8; k++) {
		int st;
		CHECK(waitpid(kids[k], &st, 0) == kids[k] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	snprintf(p, sizeof p, "%s/index.json", dir);
	CHECK_INT(fx_sh("test $(grep -c llnl.compatlib.ref %s) = 200", p), 0);
	char got[72];
	CHECK_INT(ocicache_lookup(dir, "reg.example/app:k7-24", got, NULL), 0);
}

int main(void)
{
	RUN(test_digest);
	RUN(test_blobs_tags_and_corruption);
	RUN(test_umask);
	RUN(test_concurrent_tags);
	fx_cleanup();
	return check_summary();
}
