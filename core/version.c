#include <elfutils/version.h>
#include <gnu/libc-version.h>
#include <jansson.h>
#include <link.h>
#include <mbedtls/version.h>
#include <nghttp2/nghttp2.h>
#include <pb.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/version.h"

#ifndef COMPAT_COMMIT
#define COMPAT_COMMIT "unknown"
#endif

const char *version_number(void)
{
	return COMPAT_VERSION;
}

const char *version_commit(void)
{
	return COMPAT_COMMIT[0] ? COMPAT_COMMIT : "unknown";
}

struct link_scan {
	int objects;	/* loaded objects with a name (not the program, not the vDSO) */
	int libelf;	/* libelf.so is one of them */
};

static int scan_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct link_scan *s = data;
	const char *name = info->dlpi_name;
	if (!name || !*name || strstr(name, "linux-vdso") || strstr(name, "linux-gate"))
		return 0;
	s->objects++;
	if (strstr(name, "libelf"))
		s->libelf = 1;
	return 0;
}

const char *version_link(void)
{
	struct link_scan s = { 0, 0 };
	dl_iterate_phdr(scan_object, &s);
	if (s.objects == 0)
		return "static";
	return s.libelf ? "dynamic" : "static libraries, dynamic glibc";
}

char *version_libraries(char *buf, size_t cap)
{
	char mbed[32];
	mbedtls_version_get_string(mbed);
	const char *pb = NANOPB_VERSION;
	if (strncmp(pb, "nanopb-", 7) == 0)
		pb += 7;
	snprintf(buf, cap, "glibc %s, libelf 0.%d, nghttp2 %s, jansson %s, mbedtls %s, nanopb %s, zlib %s",
		 gnu_get_libc_version(), _ELFUTILS_VERSION, nghttp2_version(0)->version_str,
		 jansson_version_str(), mbed, pb, zlibVersion());
	return buf;
}
