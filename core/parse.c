#include "parse.h"

long parse_uint(const char *s, const char **end)
{
	long v = 0;
	int n = 0;
	while (s[n] >= '0' && s[n] <= '9' && n < 10)
		v = v * 10 + (s[n++] - '0');
	if (end)
		*end = s + n;
	return n && !(s[n] >= '0' && s[n] <= '9') ? v : -1;
}

size_t parse_dotted(const char *s, unsigned *v, size_t max, const char **end)
{
	size_t n = 0;
	for (size_t i = 0; i < max; i++)
		v[i] = 0;
	while (n < max) {
		const char *e;
		long x = parse_uint(s, &e);
		if (x < 0 || x > (long)UINT32_MAX)
			break;
		v[n++] = (unsigned)x;
		s = e;
		if (n == max || *s != '.' || !(s[1] >= '0' && s[1] <= '9'))
			break;
		s++;
	}
	if (end)
		*end = s;
	return n;
}

uint64_t parse_hex(const char *s, const char **end, int *ok)
{
	uint64_t v = 0;
	int n = 0;
	for (;; n++) {
		char c = s[n];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
						       : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0 || n == 16)
			break;
		v = v << 4 | (uint64_t)d;
	}
	if (end)
		*end = s + n;
	*ok = n > 0 && n <= 16 && !((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
				     (s[n] >= 'A' && s[n] <= 'F'));
	return *ok ? v : 0;
}
