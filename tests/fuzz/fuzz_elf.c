/* libFuzzer: the ELF readers (libelf's, and ld.so's reads without it), the ABI-tag note reader and symbol lookup on
 * arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "core/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_info in;
	if (elf_read_mem(data, size, "fuzz", ELF_READ_UNDEFS, &in, NULL) == 0)
		elf_info_free(&in);
	/* without sections: what ld.so reads, read without libelf */
	if (elf_read_mem(data, size, "fuzz", 0, &in, NULL) == 0)
		elf_info_free(&in);
	unsigned kernel[3];
	elf_abi_tag_mem(data, size, "fuzz", kernel, NULL);
	struct elf_symtab *t;
	if (elf_symtab_open_mem(data, size, &t, NULL) == 0) {
		elf_symtab_defines(t, "malloc", NULL);
		elf_symtab_defines(t, "foo_new", "FOO_2.0");
		elf_symtab_exports(t, "printf");
		elf_symtab_close(t);
	}
	return 0;
}
