/* What this build is, for --version: compat's version, the commit it was
 * built from, how it was linked, and the versions of the libraries in it. */
#ifndef COMPAT_VERSION_H
#define COMPAT_VERSION_H

#include <stddef.h>

/* "0.1.0". */
const char *version_number(void);

/* The git commit the build came from ("1a2b3c4", "1a2b3c4-dirty"), or
 * "unknown" when it was built outside a git checkout. */
const char *version_commit(void);

/* How this process was linked, read from the running process itself:
 * "static" (no dynamic loader), "static libraries, dynamic glibc", or
 * "dynamic" (the field libraries are shared objects). */
const char *version_link(void);

/* "libelf 0.188, nghttp2 1.52.0, ..." into buf (truncated to cap). The
 * shared ones are read from the libraries at run time. Returns buf. */
char *version_libraries(char *buf, size_t cap);

#endif
