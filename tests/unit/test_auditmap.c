/* Unit tests for the loader cache map (core/audit/auditmap.c), the parser
 * the LD_AUDIT object runs in every process of a cached program. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/audit/auditmap.h"

static const char good[] =
	"compat-audit-map 1\n"
	"# comment\n"
	"1 3 8 1 99 1000 1700000000 5 libc.so.6 /lib32/libc.so.6\n"
	"2 62 254 0 332835 1926232 1777320873 0 libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"2 62 254 0 11 15016 -5 999999999 libl1.so.1 /opt/my dir/libl1.so.1\n"
	"2 62 254 0 12 15016 0 0 libz.so.1 /opt/z/libz.so.1.2.13\n";

static int parse(const char *text, uint8_t cls, uint16_t mach, struct auditmap_entry *v, size_t cap, size_t *n,
		 size_t *bad)
{
	char *copy = strdup(text);
	int rc = auditmap_parse(copy, strlen(copy), cls, mach, v, cap, n, bad);
	/* entries point into copy: keep it for the caller's checks */
	static char *last;
	free(last);
	last = copy;
	return rc;
}

static void test_parse_good(void)
{
	struct auditmap_entry v[8];
	size_t n, bad;
	CHECK_INT(parse(good, 2, 62, v, 8, &n, &bad), 0);
	CHECK_INT(n, 3);
	CHECK_STR(v[0].name, "libc.so.6");
	CHECK_STR(v[0].path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	CHECK_INT(v[0].dev_major, 254);
	CHECK_INT(v[0].ino, 332835);
	CHECK_INT(v[0].size, 1926232);
	CHECK_INT(v[0].mtime_sec, 1777320873);
	CHECK_STR(v[1].path, "/opt/my dir/libl1.so.1");	/* spaces in a path */
	CHECK_INT(v[1].mtime_sec, -5);
	CHECK_INT(v[1].mtime_nsec, 999999999);
	CHECK(auditmap_find(v, n, "libz.so.1") == &v[2]);
	CHECK(auditmap_find(v, n, "libl1.so.1") == &v[1]);
	CHECK(auditmap_find(v, n, "libc.so.6") == &v[0]);
	CHECK(auditmap_find(v, n, "libnope.so.1") == NULL);
	CHECK(auditmap_find(v, 0, "libc.so.6") == NULL);
	/* the other ABI sees its own libc only */
	CHECK_INT(parse(good, 1, 3, v, 8, &n, &bad), 0);
	CHECK_INT(n, 1);
	CHECK_STR(v[0].path, "/lib32/libc.so.6");
	/* an empty map is fine */
	CHECK_INT(parse("compat-audit-map 1\n", 2, 62, v, 8, &n, &bad), 0);
	CHECK_INT(n, 0);
}

static void test_parse_bad(void)
{
	static const struct {
		const char *text;
		size_t line;
	} bad[] = {
		{ "", 1 },
		{ "compat-audit-map 2\n", 1 },
		{ "compat-audit-map 1", 1 },
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 libx.so /x", 2 },		/* no '\n' */
		{ "compat-audit-map 1\n\n", 2 },					/* empty line */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 libx.so x/y\n", 2 },		/* relative */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 lib/x.so /x\n", 2 },		/* '/' in name */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 libx.so /x$LIB\n", 2 },	/* '$' */
		{ "compat-audit-map 1\n3 62 1 1 1 1 1 1 libx.so /x\n", 2 },		/* class */
		{ "compat-audit-map 1\n2 65536 1 1 1 1 1 1 libx.so /x\n", 2 },		/* machine */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1000000000 libx.so /x\n", 2 },	/* nsec */
		{ "compat-audit-map 1\n2 62 1 1 18446744073709551616 1 1 1 libx.so /x\n", 2 },
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 libx.so /x\n", 2 },		/* a field short */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1  libx.so /x\n", 2 },		/* two spaces */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 libx.so\n", 2 },		/* no path */
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 libb.so /b\n2 62 1 1 1 1 1 1 liba.so /a\n", 3 },
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 liba.so /a\n2 62 1 1 1 1 1 1 liba.so /b\n", 3 },
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 liba.so /a\n1 3 1 1 1 1 1 1 liba.so /b\n", 3 },
		{ "compat-audit-map 1\n2 62 +1 1 1 1 1 1 liba.so /a\n", 2 },
		{ "compat-audit-map 1\n2 62 1 1 1 1 1 1 li\tb.so /a\n", 2 },
	};
	struct auditmap_entry v[4];
	size_t n, line;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = parse(bad[i].text, 2, 62, v, 4, &n, &line);
		if (rc != AUDITMAP_EINVAL || line != bad[i].line || n != 0)
			printf("#   case %zu: rc %d line %zu n %zu\n", i, rc, line, n);
		CHECK_INT(rc, AUDITMAP_EINVAL);
		CHECK_INT(line, bad[i].line);
		CHECK_INT(n, 0);
	}
	/* a NUL inside the text */
	char withnul[] = "compat-audit-map 1\n2 62 1 1 1 1 1 1 liba.so /a\0b\n";
	CHECK_INT(auditmap_parse(withnul, sizeof withnul - 1, 2, 62, v, 4, &n, &line), AUDITMAP_EINVAL);
	CHECK_INT(line, 2);
}

static void test_parse_limits(void)
{
	struct auditmap_entry v[2];
	size_t n, line;
	/* more entries of this ABI than the caller has room for */
	CHECK_INT(parse(good, 2, 62, v, 2, &n, &line), AUDITMAP_ELIMIT);
	/* larger than the byte limit: refused before anything is read */
	size_t big = AUDITMAP_MAX_BYTES + 1;
	char *text = malloc(big);
	CHECK(text != NULL);
	if (!text)
		return;
	memset(text, '#', big);
	CHECK_INT(auditmap_parse(text, big, 2, 62, v, 2, &n, &line), AUDITMAP_ELIMIT);
	free(text);
}

static void test_format_roundtrip(void)
{
	struct auditmap_entry e = {
		.name = "libfoo.so.1", .path = "/opt/a b/libfoo.so.1.2", .ino = UINT64_MAX,
		.size = 12345, .mtime_sec = -1700000000, .mtime_nsec = 7, .dev_major = 4294967295u,
		.dev_minor = 3, .machine = 62, .elf_class = 2,
	};
	char buf[600], text[700];
	size_t len = auditmap_format(buf, sizeof buf, &e);
	CHECK(len > 0);
	buf[len] = 0;
	CHECK_STR(buf, "2 62 4294967295 3 18446744073709551615 12345 -1700000000 7 libfoo.so.1 /opt/a b/libfoo.so.1.2\n");
	snprintf(text, sizeof text, "%s\n%s", AUDITMAP_MAGIC, buf);
	struct auditmap_entry v[1];
	size_t n, line;
	CHECK_INT(auditmap_parse(text, strlen(text), 2, 62, v, 1, &n, &line), 0);
	CHECK_INT(n, 1);
	CHECK(v[0].ino == UINT64_MAX);
	CHECK_INT(v[0].mtime_sec, -1700000000);
	CHECK_STR(v[0].path, e.path);
	/* too small a buffer, and entries the map cannot hold */
	CHECK_INT(auditmap_format(buf, 20, &e), 0);
	e.path = "relative/libfoo.so";
	CHECK_INT(auditmap_format(buf, sizeof buf, &e), 0);
	e.path = "/x/$ORIGIN/libfoo.so";
	CHECK_INT(auditmap_format(buf, sizeof buf, &e), 0);
	e.path = "/x/libfoo.so";
	e.name = "a/b";
	CHECK_INT(auditmap_format(buf, sizeof buf, &e), 0);
	e.name = "a b";
	CHECK_INT(auditmap_format(buf, sizeof buf, &e), 0);
}

int main(void)
{
	RUN(test_parse_good);
	RUN(test_parse_bad);
	RUN(test_parse_limits);
	RUN(test_format_roundtrip);
	return check_summary();
}
