#include <stdio.h>
#include <string.h>

#include "err.h"
#include "grpc.h"

int grpc_prefix_decode(const uint8_t *buf, size_t n, int *compressed, uint32_t *len)
{
	if (n < GRPC_PREFIX)
		return COMPAT_EINVAL;
	*compressed = buf[0];
	*len = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
	return 0;
}

void grpc_prefix_encode(uint8_t out[GRPC_PREFIX], uint32_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

void grpc_message_encode(const char *msg, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	if (!cap)
		return;
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= cap)
				break;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
}

int64_t grpc_timeout_parse(const char *v)
{
	size_t n = strlen(v);
	if (n < 2 || n > 9)
		return COMPAT_EINVAL;
	int64_t x = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return COMPAT_EINVAL;
		x = x * 10 + (v[i] - '0');
	}
	switch (v[n - 1]) {
	case 'H': return x * 3600 * 1000000000LL;
	case 'M': return x * 60 * 1000000000LL;
	case 'S': return x * 1000000000LL;
	case 'm': return x * 1000000LL;
	case 'u': return x * 1000LL;
	case 'n': return x;
	default: return COMPAT_EINVAL;
	}
}

void grpc_status_text(int status, char out[4])
{
	snprintf(out, 4, "%d", status < 0 || status > 999 ? 2 : status);
}
