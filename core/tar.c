/* A tar reader that takes bytes as they come (from a gzip stream) and
 * never looks back: a 512-byte header, its data, padding to 512, again.
 * The rules follow POSIX pax (ustar name/prefix, 'x' records "LEN
 * key=value\n") and GNU tar ('L'/'K' long names, base-256 numbers), and
 * Go's archive/tar where they leave room (what container layers are
 * written with): header-only types carry no data whatever their size
 * field says, and one zero block must be followed by a second. */
#include <stdlib.h>
#include <string.h>

#include "tar.h"

enum { S_HEADER, S_DATA, S_PAD, S_END };

void tar_reader_init(struct tar_reader *t, const struct tar_callbacks *cb, void *ctx)
{
	memset(t, 0, sizeof *t);
	t->cb = cb;
	t->ctx = ctx;
	t->state = S_HEADER;
}

void tar_reader_free(struct tar_reader *t)
{
	free(t->meta_buf);
	t->meta_buf = NULL;
}

/* A numeric field: octal (leading spaces allowed, ended by NUL or space)
 * or GNU base-256 (high bit of the first byte set; positive only). */
static int parse_num(const uint8_t *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (f[0] & 0x80) {
		if (f[0] & 0x40)
			return -1;	/* negative */
		v = f[0] & 0x3f;
		for (size_t i = 1; i < n; i++) {
			if (v >> 55)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	size_t i = 0;
	while (i < n && f[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v >> 60)
			return -1;
		v = (v << 3) | (uint64_t)(f[i] - '0');
	}
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	*out = v;
	return digits || n ? 0 : -1;
}

/* A NUL-terminated (or full-length) name field appended to out. */
static size_t field_len(const uint8_t *f, size_t n)
{
	const uint8_t *z = memchr(f, '\0', n);
	return z ? (size_t)(z - f) : n;
}

static int is_zero_block(const uint8_t *b)
{
	for (size_t i = 0; i < 512; i++)
		if (b[i])
			return 0;
	return 1;
}

static int checksum_ok(const uint8_t *b)
{
	uint64_t want;
	if (parse_num(b + 148, 8, &want) < 0)
		return 0;
	uint64_t u = 0;
	int64_t s = 0;
	for (size_t i = 0; i < 512; i++) {
		uint8_t c = i >= 148 && i < 156 ? ' ' : b[i];
		u += c;
		s += (int8_t)c;
	}
	return u == want || (uint64_t)s == want;
}

static void clear_overrides(struct tar_reader *t)
{
	t->have_long_name = t->have_long_link = t->have_pax_path = t->have_pax_link = t->have_pax_size = 0;
}

/* One "LEN key=value\n" record after another (POSIX pax). */
static int parse_pax(struct tar_reader *t, struct cerr *err)
{
	const char *p = t->meta_buf, *end = p + t->meta_len;
	while (p < end) {
		if (*p == '\0')
			break;	/* NUL padding some writers leave */
		size_t len = 0;
		const char *q = p;
		while (q < end && *q >= '0' && *q <= '9' && len < TAR_MAX_PAX)
			len = len * 10 + (size_t)(*q++ - '0');
		if (q == p || q >= end || *q != ' ' || len > (size_t)(end - p) || len < 5 || p[len - 1] != '\n')
			return cerr_set(err, COMPAT_EINVAL, "tar: malformed pax record at byte %llu",
					(unsigned long long)t->offset);
		const char *key = q + 1, *rec_end = p + len - 1;
		const char *eq = memchr(key, '=', (size_t)(rec_end - key));
		if (!eq || eq == key)
			return cerr_set(err, COMPAT_EINVAL, "tar: pax record without key=value at byte %llu",
					(unsigned long long)t->offset);
		size_t kl = (size_t)(eq - key), vl = (size_t)(rec_end - eq - 1);
		const char *val = eq + 1;
		if (kl > 11 && memcmp(key, "GNU.sparse.", 11) == 0)
			return cerr_set(err, COMPAT_EINVAL, "tar: sparse file entries are not supported");
		char *dst = NULL;
		int *flag = NULL;
		if (kl == 4 && memcmp(key, "path", 4) == 0) {
			dst = t->pax_path;
			flag = &t->have_pax_path;
		} else if (kl == 8 && memcmp(key, "linkpath", 8) == 0) {
			dst = t->pax_link;
			flag = &t->have_pax_link;
		} else if (kl == 4 && memcmp(key, "size", 4) == 0) {
			uint64_t v = 0;
			if (!vl || vl > 19)
				return cerr_set(err, COMPAT_EINVAL, "tar: bad pax size");
			for (size_t i = 0; i < vl; i++) {
				if (val[i] < '0' || val[i] > '9')
					return cerr_set(err, COMPAT_EINVAL, "tar: bad pax size");
				v = v * 10 + (uint64_t)(val[i] - '0');
			}
			t->pax_size = v;
			t->have_pax_size = 1;
		}
		if (dst && vl) {
			if (vl >= TAR_MAX_PATH || memchr(val, '\0', vl))
				return cerr_set(err, COMPAT_EINVAL, "tar: pax %.*s longer than %d bytes or with a NUL byte",
						(int)kl, key, TAR_MAX_PATH - 1);
			memcpy(dst, val, vl);
			dst[vl] = '\0';
			*flag = 1;
		}
		p += len;
	}
	return 0;
}

/* A meta record ('L', 'K', 'x', 'g') is complete. */
static int finish_meta(struct tar_reader *t, struct cerr *err)
{
	int rc = 0;
	size_t n = field_len((const uint8_t *)t->meta_buf, t->meta_len);
	switch (t->meta) {
	case 'L':
	case 'K':
		if (n >= TAR_MAX_PATH)
			return cerr_set(err, COMPAT_EINVAL, "tar: GNU long name longer than %d bytes",
					TAR_MAX_PATH - 1);
		memcpy(t->meta == 'L' ? t->long_name : t->long_link, t->meta_buf, n);
		(t->meta == 'L' ? t->long_name : t->long_link)[n] = '\0';
		*(t->meta == 'L' ? &t->have_long_name : &t->have_long_link) = 1;
		break;
	case 'x':
		rc = parse_pax(t, err);
		break;
	default:	/* 'g': global records change nothing we read */
		break;
	}
	free(t->meta_buf);
	t->meta_buf = NULL;
	t->meta_len = 0;
	t->meta = 0;
	return rc;
}

static int header_only(int type)
{
	return type == TAR_HARDLINK || type == TAR_SYMLINK || type == TAR_CHAR || type == TAR_BLOCK ||
	       type == TAR_DIR || type == TAR_FIFO;
}

static int copy_name(char *dst, const char *what, const char *src, size_t n, struct cerr *err)
{
	if (n >= TAR_MAX_PATH)
		return cerr_set(err, COMPAT_EINVAL, "tar: %s longer than %d bytes", what, TAR_MAX_PATH - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int parse_header(struct tar_reader *t, struct cerr *err)
{
	const uint8_t *b = t->block;
	unsigned long long at = (unsigned long long)t->offset - 512;
	if (is_zero_block(b)) {
		if (++t->zero_blocks == 2)
			t->state = S_END;
		return 0;
	}
	if (t->zero_blocks)
		return cerr_set(err, COMPAT_EINVAL, "tar: a header after an end-of-archive block at byte %llu", at);
	if (!checksum_ok(b))
		return cerr_set(err, COMPAT_EINVAL, "tar: bad header checksum at byte %llu", at);
	t->entries++;
	uint64_t size, mode;
	if (parse_num(b + 124, 12, &size) < 0 || parse_num(b + 100, 8, &mode) < 0)
		return cerr_set(err, COMPAT_EINVAL, "tar: bad number in the header at byte %llu", at);
	int type = b[156];
	if (type == '\0' || type == '7')
		type = TAR_FILE;
	if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
		uint64_t max = type == 'L' || type == 'K' ? TAR_MAX_PATH : TAR_MAX_PAX;
		if (size > max)
			return cerr_set(err, COMPAT_EINVAL, "tar: %c record of %llu bytes at byte %llu (limit %llu)",
					type, (unsigned long long)size, at, (unsigned long long)max);
		if (!(t->meta_buf = malloc((size_t)size + 1)))
			return cerr_set(err, COMPAT_ENOMEM, "out of memory");
		t->meta = type;
		t->meta_len = 0;
		t->left = size;
		t->pad = (512 - size % 512) % 512;
		t->state = size ? S_DATA : S_PAD;
		if (!size) {
			int rc = finish_meta(t, err);
			if (rc < 0)
				return rc;
			t->state = S_HEADER;
		}
		return 0;
	}
	if (type == 'S' || type == 'M')
		return cerr_set(err, COMPAT_EINVAL, "tar: %s entry at byte %llu is not supported",
				type == 'S' ? "GNU sparse file" : "multi-volume", at);

	struct tar_entry *e = &t->e;
	int rc;
	if (t->have_pax_path)
		rc = copy_name(e->path, "name", t->pax_path, strlen(t->pax_path), err);
	else if (t->have_long_name)
		rc = copy_name(e->path, "name", t->long_name, strlen(t->long_name), err);
	else {
		size_t nl = field_len(b, 100), pl = 0;
		/* POSIX ustar has a prefix; GNU's "ustar  " uses that room for times. */
		if (memcmp(b + 257, "ustar\0", 6) == 0)
			pl = field_len(b + 345, 155);
		char tmp[260];
		memcpy(tmp, b + 345, pl);
		if (pl)
			tmp[pl++] = '/';
		memcpy(tmp + pl, b, nl);
		rc = copy_name(e->path, "name", tmp, pl + nl, err);
	}
	if (rc < 0)
		return rc;
	if (t->have_pax_link)
		rc = copy_name(e->linkpath, "link name", t->pax_link, strlen(t->pax_link), err);
	else if (t->have_long_link)
		rc = copy_name(e->linkpath, "link name", t->long_link, strlen(t->long_link), err);
	else
		rc = copy_name(e->linkpath, "link name", (const char *)b + 157, field_len(b + 157, 100), err);
	if (rc < 0)
		return rc;
	if (t->have_pax_size)
		size = t->pax_size;
	clear_overrides(t);
	e->type = type;
	e->mode = (uint32_t)(mode & 07777);
	e->size = header_only(type) ? 0 : size;
	int known = type == TAR_FILE || header_only(type);
	if (known && (rc = t->cb->entry(t->ctx, e, err)) < 0)
		return rc;
	/* Unknown types (GNU 'D' dump directories, 'V' volume labels...) are
	 * skipped with their data, never reported. */
	t->meta = known ? 0 : '?';
	t->left = e->size;
	t->pad = (512 - e->size % 512) % 512;
	t->state = t->left ? S_DATA : t->pad ? S_PAD : S_HEADER;
	return 0;
}

int tar_reader_feed(struct tar_reader *t, const uint8_t *buf, size_t len, struct cerr *err)
{
	size_t i = 0;
	int rc;
	while (i < len) {
		switch (t->state) {
		case S_HEADER: {
			size_t n = 512 - t->have;
			if (n > len - i)
				n = len - i;
			memcpy(t->block + t->have, buf + i, n);
			t->have += n;
			t->offset += n;
			i += n;
			if (t->have == 512) {
				t->have = 0;
				if ((rc = parse_header(t, err)) < 0)
					return rc;
			}
			break;
		}
		case S_DATA: {
			size_t n = len - i;
			if (n > t->left)
				n = (size_t)t->left;
			if (t->meta == '?') {
				/* skipped */
			} else if (t->meta) {
				memcpy(t->meta_buf + t->meta_len, buf + i, n);
				t->meta_len += n;
			} else if ((rc = t->cb->data(t->ctx, buf + i, n, err)) < 0) {
				return rc;
			}
			i += n;
			t->offset += n;
			t->left -= n;
			if (!t->left) {
				if (t->meta && t->meta != '?' && (rc = finish_meta(t, err)) < 0)
					return rc;
				t->meta = 0;
				t->state = t->pad ? S_PAD : S_HEADER;
			}
			break;
		}
		case S_PAD: {
			size_t n = len - i;
			if (n > t->pad)
				n = (size_t)t->pad;
			i += n;
			t->offset += n;
			t->pad -= n;
			if (!t->pad)
				t->state = S_HEADER;
			break;
		}
		case S_END:
			/* What follows the end blocks is not read (as Go's reader). */
			t->offset += len - i;
			return 1;
		}
	}
	return t->state == S_END ? 1 : 0;
}

int tar_reader_finish(struct tar_reader *t, struct cerr *err)
{
	if (t->state == S_END || (t->state == S_HEADER && t->have == 0 && !t->meta_buf &&
				  !t->have_long_name && !t->have_long_link && !t->have_pax_path &&
				  !t->have_pax_link && !t->have_pax_size))
		return 0;
	return cerr_set(err, COMPAT_EINVAL, "tar: archive truncated at byte %llu (inside an entry)",
			(unsigned long long)t->offset);
}
