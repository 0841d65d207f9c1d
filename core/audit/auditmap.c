/* The loader cache map (see auditmap.h). No libc calls: this file is also
 * linked into the -nostdlib audit object. */
#include "auditmap.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static size_t str_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static int str_cmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int auditmap_cmp(const struct auditmap_entry *a, const struct auditmap_entry *b)
{
	if (a->elf_class != b->elf_class)
		return a->elf_class < b->elf_class ? -1 : 1;
	if (a->machine != b->machine)
		return a->machine < b->machine ? -1 : 1;
	return str_cmp(a->name, b->name);
}

/* The next space-terminated field of [*p, end) as an unsigned number no
 * larger than max; *p moves past the space. 0, or -1 when malformed. */
static int take_u64(char **p, char *end, uint64_t max, uint64_t *out)
{
	char *s = *p;
	uint64_t v = 0;
	size_t digits = 0;
	for (; s < end && is_digit(*s); s++, digits++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (!digits || digits > 20 || s >= end || *s != ' ' || v > max)
		return -1;
	*out = v;
	*p = s + 1;
	return 0;
}

static int name_ok(const char *s, size_t len)
{
	if (!len || len > AUDITMAP_MAX_NAME)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == ' ' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int path_ok(const char *s, size_t len)
{
	if (len < 2 || len > AUDITMAP_MAX_PATH || s[0] != '/')
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '$' || s[i] == 0)
			return 0;
	return 1;
}

/* One entry line [s, end) (end points at its '\n'). 0 or -1. */
static int parse_line(char *s, char *end, struct auditmap_entry *e)
{
	uint64_t cls, mach, maj, min, ino, size, sec, nsec;
	int neg = 0;
	if (take_u64(&s, end, 2, &cls) < 0 || cls < 1 || take_u64(&s, end, 0xffff, &mach) < 0 ||
	    take_u64(&s, end, 0xffffffffu, &maj) < 0 || take_u64(&s, end, 0xffffffffu, &min) < 0 ||
	    take_u64(&s, end, UINT64_MAX, &ino) < 0 || take_u64(&s, end, INT64_MAX, &size) < 0)
		return -1;
	if (s < end && *s == '-')
		neg = 1, s++;
	if (take_u64(&s, end, INT64_MAX, &sec) < 0 || take_u64(&s, end, 999999999, &nsec) < 0)
		return -1;
	char *name = s;
	while (s < end && *s != ' ')
		s++;
	if (s >= end || !name_ok(name, (size_t)(s - name)))
		return -1;
	*s++ = 0;
	char *path = s;
	if (!path_ok(path, (size_t)(end - path)))
		return -1;
	*end = 0;
	e->elf_class = (uint8_t)cls;
	e->machine = (uint16_t)mach;
	e->dev_major = (uint32_t)maj;
	e->dev_minor = (uint32_t)min;
	e->ino = ino;
	e->size = size;
	e->mtime_sec = neg ? -(int64_t)sec : (int64_t)sec;
	e->mtime_nsec = (uint32_t)nsec;
	e->name = name;
	e->path = path;
	return 0;
}

int auditmap_parse(char *text, size_t len, uint8_t elf_class, uint16_t machine,
		   struct auditmap_entry *v, size_t cap, size_t *n, size_t *bad_line)
{
	static const char magic[] = AUDITMAP_MAGIC "\n";
	struct auditmap_entry prev = { 0 }, e;
	size_t line = 1, kept = 0;
	int have_prev = 0;
	char *p = text, *end = text + len;

	*n = 0;
	*bad_line = 0;
	if (len > AUDITMAP_MAX_BYTES)
		return AUDITMAP_ELIMIT;
	for (size_t i = 0; i < sizeof magic - 1; i++)
		if (i >= len || text[i] != magic[i]) {
			*bad_line = 1;
			return AUDITMAP_EINVAL;
		}
	p += sizeof magic - 1;
	while (p < end) {
		char *nl = p;
		line++;
		while (nl < end && *nl != '\n' && *nl != 0)
			nl++;
		if (nl >= end || *nl != '\n' || nl - p > AUDITMAP_LINE_MAX) {
			*bad_line = line;
			return AUDITMAP_EINVAL;
		}
		if (*p == '#') {
			p = nl + 1;
			continue;
		}
		if (parse_line(p, nl, &e) < 0 || (have_prev && auditmap_cmp(&prev, &e) >= 0)) {
			*bad_line = line;
			return AUDITMAP_EINVAL;
		}
		prev = e;
		have_prev = 1;
		if (e.elf_class == elf_class && e.machine == machine) {
			if (kept == cap)
				return AUDITMAP_ELIMIT;
			v[kept++] = e;
		}
		p = nl + 1;
	}
	*n = kept;
	return 0;
}

const struct auditmap_entry *auditmap_find(const struct auditmap_entry *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = str_cmp(v[mid].name, name);
		if (!c)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Decimal digits of v at buf+*at (when they fit), then sep. */
static void put_u64(char *buf, size_t cap, size_t *at, uint64_t v, char sep)
{
	char tmp[24];
	size_t k = 0;
	do {
		tmp[k++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	while (k) {
		if (*at < cap)
			buf[*at] = tmp[--k];
		else
			k--;
		(*at)++;
	}
	if (*at < cap)
		buf[*at] = sep;
	(*at)++;
}

static void put_str(char *buf, size_t cap, size_t *at, const char *s, size_t len, char sep)
{
	for (size_t i = 0; i < len; i++, (*at)++)
		if (*at < cap)
			buf[*at] = s[i];
	if (*at < cap)
		buf[*at] = sep;
	(*at)++;
}

size_t auditmap_format(char *buf, size_t cap, const struct auditmap_entry *e)
{
	size_t at = 0, nl = str_len(e->name), pl = str_len(e->path);
	if (!name_ok(e->name, nl) || !path_ok(e->path, pl) || e->elf_class < 1 || e->elf_class > 2 ||
	    e->mtime_nsec > 999999999 || e->size > (uint64_t)INT64_MAX)
		return 0;
	put_u64(buf, cap, &at, e->elf_class, ' ');
	put_u64(buf, cap, &at, e->machine, ' ');
	put_u64(buf, cap, &at, e->dev_major, ' ');
	put_u64(buf, cap, &at, e->dev_minor, ' ');
	put_u64(buf, cap, &at, e->ino, ' ');
	put_u64(buf, cap, &at, e->size, ' ');
	if (e->mtime_sec < 0) {
		if (at < cap)
			buf[at] = '-';
		at++;
		put_u64(buf, cap, &at, (uint64_t)0 - (uint64_t)e->mtime_sec, ' ');
	} else {
		put_u64(buf, cap, &at, (uint64_t)e->mtime_sec, ' ');
	}
	put_u64(buf, cap, &at, e->mtime_nsec, ' ');
	put_str(buf, cap, &at, e->name, nl, ' ');
	put_str(buf, cap, &at, e->path, pl, '\n');
	return at <= cap ? at : 0;
}
