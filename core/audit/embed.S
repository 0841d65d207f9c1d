/* The LD_AUDIT objects, embedded into bin/compat (see the Makefile and
 * core/libcache.c). For each ABI: compat_audit_ABI .. compat_audit_ABI_end,
 * empty when this build could not make that ABI's object. */
#define BLOB(abi, file)                          \
	.section .rodata.compat_audit_##abi, "a"; \
	.balign 16;                              \
	.globl compat_audit_##abi;               \
	.hidden compat_audit_##abi;              \
compat_audit_##abi:                              \
	.incbin file;                            \
	.globl compat_audit_##abi##_end;         \
	.hidden compat_audit_##abi##_end;        \
compat_audit_##abi##_end:

#define EMPTY(abi)                               \
	.section .rodata.compat_audit_##abi, "a"; \
	.globl compat_audit_##abi;               \
	.hidden compat_audit_##abi;              \
compat_audit_##abi:                              \
	.globl compat_audit_##abi##_end;         \
	.hidden compat_audit_##abi##_end;        \
compat_audit_##abi##_end:

#ifdef AUDIT_SO_x86_64
BLOB(x86_64, AUDIT_SO_x86_64)
#else
EMPTY(x86_64)
#endif
#ifdef AUDIT_SO_i386
BLOB(i386, AUDIT_SO_i386)
#else
EMPTY(i386)
#endif

	.section .note.GNU-stack, "", @progbits
