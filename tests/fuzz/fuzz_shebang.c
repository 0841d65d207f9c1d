/* libFuzzer: the first bytes of a file as the kernel reads a "#!" line
 * (command_parse_shebang, what check --exec and check SCRIPT follow).
 * What it accepts must lie inside the buffer, name an interpreter without
 * spaces (empty when a NUL follows "#!", as the kernel reads it: then no
 * file opens), and an argument that starts with neither a space nor a tab. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/command.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[COMMAND_SHEBANG_MAX];
	char *interp, *arg;
	size_t n = size < sizeof buf ? size : sizeof buf;
	memcpy(buf, data, n);
	if (command_parse_shebang(buf, size, &interp, &arg) != 0)
		return 0;
	if (interp < buf || interp >= buf + sizeof buf || strpbrk(interp, " \t"))
		abort();
	if (strnlen(interp, (size_t)(buf + sizeof buf - interp)) == (size_t)(buf + sizeof buf - interp))
		abort();	/* not terminated inside the buffer */
	if (arg && (arg < buf || arg >= buf + sizeof buf || !*arg || *arg == ' ' || *arg == '\t'))
		abort();
	return 0;
}
