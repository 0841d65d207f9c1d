#include <stdlib.h>

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

int main(void)
{
	RUN(test_digest);
	RUN(test_blobs_tags_and_corruption);
	fx_cleanup();
	return check_summary();
}
