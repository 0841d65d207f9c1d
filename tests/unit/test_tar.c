/* The tar reader (archives built here, byte by byte) and the unpacker
 * (the same archives applied to a temporary directory). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/tar.h"
#include "core/unpack.h"

/* ---- building archives ---- */

struct ar {
	uint8_t b[1 << 16];
	size_t n;
};

static void put_octal(uint8_t *f, size_t n, uint64_t v)
{
	snprintf((char *)f, n, "%0*llo", (int)n - 1, (unsigned long long)v);
}

/* One header; magic "posix" (ustar\0 00), "gnu" (ustar  \0) or "v7". */
static void hdr(struct ar *a, const char *name, int type, uint64_t size, const char *link, const char *magic,
		const char *prefix)
{
	uint8_t *h = a->b + a->n;
	memset(h, 0, 512);
	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	put_octal(h + 100, 8, 0644);
	put_octal(h + 108, 8, 0);
	put_octal(h + 116, 8, 0);
	if (size >> 33) {
		h[124] = 0x80;
		for (int i = 0; i < 8; i++)
			h[135 - i] = (uint8_t)(size >> (8 * i));
	} else {
		put_octal(h + 124, 12, size);
	}
	put_octal(h + 136, 12, 0);
	h[156] = (uint8_t)type;
	if (link)
		memcpy(h + 157, link, strlen(link));
	if (strcmp(magic, "posix") == 0) {
		memcpy(h + 257, "ustar\0" "00", 8);
		if (prefix)
			memcpy(h + 345, prefix, strlen(prefix));
	} else if (strcmp(magic, "gnu") == 0) {
		memcpy(h + 257, "ustar  \0", 8);
	}
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
	a->n += 512;
}

static void data(struct ar *a, const void *p, size_t n)
{
	memcpy(a->b + a->n, p, n);
	a->n += (n + 511) / 512 * 512;
}

static void file(struct ar *a, const char *name, const char *content)
{
	hdr(a, name, '0', strlen(content), NULL, "posix", NULL);
	data(a, content, strlen(content));
}

static void end(struct ar *a)
{
	memset(a->b + a->n, 0, 1024);
	a->n += 1024;
}

static void pax(struct ar *a, const char *records)
{
	hdr(a, "PaxHeaders/x", 'x', strlen(records), NULL, "posix", NULL);
	data(a, records, strlen(records));
}

/* ---- reading them back ---- */

struct seen {
	char names[16][TAR_MAX_PATH];
	char links[16][TAR_MAX_PATH];
	int types[16];
	uint64_t sizes[16];
	char content[4096];
	size_t clen;
	int n;
};

static int on_entry(void *ctx, const struct tar_entry *e, struct cerr *err)
{
	struct seen *s = ctx;
	if (s->n < 16) {
		strcpy(s->names[s->n], e->path);
		strcpy(s->links[s->n], e->linkpath);
		s->types[s->n] = e->type;
		s->sizes[s->n] = e->size;
	}
	s->n++;
	return 0;
}

static int on_data(void *ctx, const uint8_t *p, size_t n, struct cerr *err)
{
	struct seen *s = ctx;
	if (s->clen + n < sizeof s->content) {
		memcpy(s->content + s->clen, p, n);
		s->clen += n;
	}
	return 0;
}

static const struct tar_callbacks cb = { on_entry, on_data };

/* Feed in pieces of step bytes (0: all at once); the feed's last result,
 * or the first error; then finish. */
static int read_ar(const struct ar *a, size_t step, struct seen *s, struct cerr *err)
{
	struct tar_reader t;
	memset(s, 0, sizeof *s);
	tar_reader_init(&t, &cb, s);
	int rc = 0;
	for (size_t i = 0; i < a->n && rc >= 0;) {
		size_t n = step && step < a->n - i ? step : a->n - i;
		rc = tar_reader_feed(&t, a->b + i, n, err);
		i += n;
	}
	if (rc >= 0) {
		int f = tar_reader_finish(&t, err);
		if (f < 0)
			rc = f;
	}
	tar_reader_free(&t);
	return rc;
}

static struct ar A;

static void test_files_in_any_pieces(void)
{
	A.n = 0;
	hdr(&A, "dir/", '5', 0, NULL, "posix", NULL);
	file(&A, "dir/a.txt", "hello");
	hdr(&A, "dir/link", '2', 0, "a.txt", "posix", NULL);
	file(&A, "dir/b.txt", "world!");
	end(&A);
	size_t steps[] = { 0, 1, 7, 511, 513 };
	for (size_t k = 0; k < 5; k++) {
		struct seen s;
		struct cerr err;
		CHECK_INT(read_ar(&A, steps[k], &s, &err), 1);
		CHECK_INT(s.n, 4);
		CHECK_STR(s.names[0], "dir/");
		CHECK_INT(s.types[0], TAR_DIR);
		CHECK_STR(s.names[2], "dir/link");
		CHECK_STR(s.links[2], "a.txt");
		CHECK_INT(s.types[2], TAR_SYMLINK);
		CHECK_INT(s.sizes[3], 6);
		s.content[s.clen] = '\0';
		CHECK_STR(s.content, "helloworld!");
	}
}

static void test_ustar_prefix_and_gnu_long_names(void)
{
	char longname[301];
	memset(longname, 'n', 300);
	longname[300] = '\0';
	A.n = 0;
	hdr(&A, "file.txt", '0', 0, NULL, "posix", "usr/share/deep/prefix");
	hdr(&A, "././@LongLink", 'L', 301, NULL, "gnu", NULL);
	data(&A, longname, 301);
	hdr(&A, "truncated-name", '0', 0, NULL, "gnu", NULL);
	hdr(&A, "././@LongLink", 'K', 8, NULL, "gnu", NULL);
	data(&A, "target\0\0", 8);
	hdr(&A, "sym", '2', 0, "short", "gnu", NULL);
	end(&A);
	struct seen s;
	struct cerr err;
	CHECK_INT(read_ar(&A, 100, &s, &err), 1);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.names[0], "usr/share/deep/prefix/file.txt");
	CHECK_STR(s.names[1], longname);
	CHECK_STR(s.names[2], "sym");
	CHECK_STR(s.links[2], "target");
}

static void test_pax_path_linkpath_size(void)
{
	A.n = 0;
	pax(&A, "22 path=pax/long/name\n" "16 linkpath=tgt\n" "14 comment=hi\n");
	hdr(&A, "ignored", '2', 0, "ignored-too", "posix", NULL);
	pax(&A, "10 size=3\n");
	hdr(&A, "sized", '0', 99, NULL, "posix", NULL);	/* pax size wins */
	data(&A, "abc", 3);
	hdr(&A, "plain", '0', 0, NULL, "posix", NULL);	/* overrides apply to one entry */
	end(&A);
	struct seen s;
	struct cerr err;
	CHECK_INT(read_ar(&A, 0, &s, &err), 1);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.names[0], "pax/long/name");
	CHECK_STR(s.links[0], "tgt");
	CHECK_INT(s.sizes[1], 3);
	CHECK_STR(s.names[2], "plain");
	s.content[s.clen] = '\0';
	CHECK_STR(s.content, "abc");
}

static void test_bad_archives_refused(void)
{
	struct seen s;
	struct cerr err;
	/* checksum */
	A.n = 0;
	file(&A, "a", "x");
	A.b[0] = 'b';
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "checksum") != NULL);
	/* truncated inside the data */
	A.n = 0;
	hdr(&A, "big", '0', 5000, NULL, "posix", NULL);
	memset(A.b + A.n, 'x', 1000);
	A.n += 1000;
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "truncated") != NULL);
	/* GNU sparse, and pax sparse */
	A.n = 0;
	hdr(&A, "sparse", 'S', 0, NULL, "gnu", NULL);
	end(&A);
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	CHECK(strstr(err.msg, "sparse") != NULL);
	A.n = 0;
	pax(&A, "22 GNU.sparse.major=1\n");
	hdr(&A, "sparse", '0', 0, NULL, "posix", NULL);
	end(&A);
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	/* a pax record whose length lies */
	A.n = 0;
	pax(&A, "99 path=x\n");
	end(&A);
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	/* a long name past the bound */
	A.n = 0;
	hdr(&A, "././@LongLink", 'L', TAR_MAX_PATH + 10, NULL, "gnu", NULL);
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	/* one zero block, then a header */
	A.n = 0;
	memset(A.b, 0, 512);
	A.n = 512;
	file(&A, "a", "x");
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
	/* a bad octal digit */
	A.n = 0;
	file(&A, "a", "x");
	memcpy(A.b + 124, "0000000009x", 11);
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);
}

static void test_sizes_and_header_only_types(void)
{
	A.n = 0;
	hdr(&A, "huge", '0', 10ull << 30, NULL, "gnu", NULL);	/* base-256 */
	struct seen s;
	struct cerr err;
	CHECK_INT(read_ar(&A, 0, &s, &err), COMPAT_EINVAL);	/* truncated, but the header was read */
	CHECK_INT(s.n, 1);
	CHECK(s.sizes[0] == 10ull << 30);
	A.n = 0;
	hdr(&A, "d", '5', 1024, NULL, "posix", NULL);	/* a directory's size is not data */
	file(&A, "f", "ok");
	end(&A);
	CHECK_INT(read_ar(&A, 0, &s, &err), 1);
	CHECK_INT(s.n, 2);
	CHECK_INT(s.sizes[0], 0);
	/* no end blocks at all: accepted at an entry boundary */
	A.n = 0;
	file(&A, "f", "ok");
	CHECK_INT(read_ar(&A, 0, &s, &err), 0);
	CHECK_INT(s.n, 1);
}

/* ---- the unpacker ---- */

static char tmpdir[64];

static int unpack_ar(struct unpack *u, const struct ar *a, const char *layer, struct cerr *err)
{
	struct tar_reader t;
	tar_reader_init(&t, &unpack_tar_callbacks, u);
	unpack_layer_begin(u, layer);
	int rc = tar_reader_feed(&t, a->b, a->n, err);
	if (rc >= 0)
		rc = tar_reader_finish(&t, err);
	if (rc >= 0)
		rc = unpack_layer_end(u, err);
	tar_reader_free(&t);
	return rc;
}

static int exists(const char *rel)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof p, "%s/tree/%s", tmpdir, rel);
	return lstat(p, &st) == 0;
}

static void test_unpack_layers_and_whiteouts(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/compat-test-tar.XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	char tree[128];
	snprintf(tree, sizeof tree, "%s/tree", tmpdir);
	mkdir(tree, 0700);
	int root = open(tree, O_RDONLY | O_DIRECTORY);
	struct unpack u;
	struct cerr err;
	unpack_init(&u, root, 0, 0);

	A.n = 0;
	hdr(&A, "usr/", '5', 0, NULL, "posix", NULL);
	file(&A, "usr/a", "lower a");
	file(&A, "usr/b", "lower b");
	hdr(&A, "opq/", '5', 0, NULL, "posix", NULL);
	file(&A, "opq/old", "old");
	file(&A, "implicit/dir/file", "parents made");
	hdr(&A, "usr/suid", '0', 0, NULL, "posix", NULL);
	{
		uint8_t *h = A.b + A.n - 512;
		memcpy(h + 100, "0004755", 7);
		memset(h + 148, ' ', 8);
		unsigned sum = 0;
		for (int i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
	}
	hdr(&A, "usr/hard", '1', 0, "usr/a", "posix", NULL);
	end(&A);
	CHECK_INT(unpack_ar(&u, &A, "layer 1", &err), 0);
	CHECK(exists("usr/a") && exists("implicit/dir/file") && exists("usr/hard"));
	struct stat st;
	char p[512];
	snprintf(p, sizeof p, "%s/usr/suid", tree);
	CHECK(stat(p, &st) == 0 && !(st.st_mode & 07000));

	A.n = 0;
	file(&A, "usr/.wh.b", "");
	file(&A, "opq/new", "new");
	hdr(&A, "opq/.wh..wh..opq", '0', 0, NULL, "posix", NULL);
	file(&A, "usr/a", "upper a");
	end(&A);
	CHECK_INT(unpack_ar(&u, &A, "layer 2", &err), 0);
	CHECK(!exists("usr/b"));
	CHECK(!exists("usr/.wh.b"));
	CHECK(!exists("opq/old"));
	CHECK(exists("opq/new"));	/* same layer as the opaque marker: kept */
	CHECK(!exists("opq/.wh..wh..opq"));
	snprintf(p, sizeof p, "%s/usr/a", tree);
	char buf[32] = "";
	int fd = open(p, O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, sizeof buf - 1) == 7);
	if (fd >= 0)
		close(fd);
	CHECK_STR(buf, "upper a");
	snprintf(p, sizeof p, "%s/usr/hard", tree);	/* the link kept the lower file */
	CHECK(stat(p, &st) == 0 && st.st_size == 7);

	unpack_free(&u);
	close(root);
	int top = open(tmpdir, O_RDONLY | O_DIRECTORY);
	CHECK_INT(unpack_remove_tree(top, "tree", &err), 0);
	close(top);
	CHECK(!exists(""));
	rmdir(tmpdir);
}

/* Each hostile layer alone, into a fresh tree beside an "outside" file. */
static void hostile(const char *what, void (*build)(struct ar *), const char *want)
{
	char top[64] = "/tmp/compat-test-tar.XXXXXX", tree[128], outside[128];
	CHECK(mkdtemp(top) != NULL);
	snprintf(tree, sizeof tree, "%s/tree", top);
	snprintf(outside, sizeof outside, "%s/outside", top);
	mkdir(tree, 0700);
	int root = open(tree, O_RDONLY | O_DIRECTORY);
	struct unpack u;
	struct cerr err = { 0 };
	unpack_init(&u, root, 0, 100);	/* the default byte limit */
	A.n = 0;
	build(&A);
	end(&A);
	int rc = unpack_ar(&u, &A, "layer 1", &err);
	if (rc >= 0 || !strstr(err.msg, want)) {
		printf("#   %s: rc %d, message \"%s\" (wanted \"%s\")\n", what, rc, err.msg, want);
		check_failed_now = 1;
	}
	struct stat st;
	CHECK(lstat(outside, &st) < 0);	/* nothing written beside the tree */
	unpack_free(&u);
	close(root);
	int tfd = open(top, O_RDONLY | O_DIRECTORY);
	unpack_remove_tree(tfd, "tree", NULL);
	close(tfd);
	rmdir(top);
}

static void b_dotdot(struct ar *a) { file(a, "../outside", "x"); }
static void b_absolute(struct ar *a) { file(a, "/tmp/outside", "x"); }
static void b_symlink_out(struct ar *a)
{
	hdr(a, "esc", '2', 0, "..", "posix", NULL);
	file(a, "esc/outside", "x");
}
static void b_hardlink_out(struct ar *a) { hdr(a, "h", '1', 0, "../outside", "posix", NULL); }
static void b_device(struct ar *a) { hdr(a, "dev/null", '3', 0, NULL, "posix", NULL); }
static void b_huge(struct ar *a) { hdr(a, "sparse", '0', 10ull << 30, NULL, "gnu", NULL); }
static void b_whiteout_root(struct ar *a) { hdr(a, ".wh..", '0', 0, NULL, "posix", NULL); }
static void b_too_many(struct ar *a)
{
	for (int i = 0; i < 101; i++) {
		char n[16];
		snprintf(n, sizeof n, "f%d", i);
		hdr(a, n, '0', 0, NULL, "posix", NULL);
	}
}

static void test_unpack_hostile_entries(void)
{
	hostile("..", b_dotdot, "'..'");
	hostile("absolute", b_absolute, "absolute");
	hostile("symlink out, then through it", b_symlink_out, "symbolic link");
	hostile("hard link out", b_hardlink_out, "'..'");
	hostile("device node", b_device, "device node");
	hostile("10 GB claim", b_huge, "limit");
	hostile("whiteout of /", b_whiteout_root, "whiteout of the top");
	hostile("too many files", b_too_many, "entries");
}

int main(void)
{
	RUN(test_files_in_any_pieces);
	RUN(test_ustar_prefix_and_gnu_long_names);
	RUN(test_pax_path_linkpath_size);
	RUN(test_bad_archives_refused);
	RUN(test_sizes_and_header_only_types);
	RUN(test_unpack_layers_and_whiteouts);
	RUN(test_unpack_hostile_entries);
	return check_summary();
}
