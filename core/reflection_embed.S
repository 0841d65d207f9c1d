/* The FileDescriptorSet of every proto/NAME.proto that protoc made at build time
 * (the Makefile passes its path as DESCRIPTOR_SET), embedded for server
 * reflection (core/reflection.c): compat_descriptor_set ..
 * compat_descriptor_set_end. */
	.section .rodata.compat_descriptor_set, "a"
	.globl compat_descriptor_set
	.hidden compat_descriptor_set
compat_descriptor_set:
	.incbin DESCRIPTOR_SET
	.globl compat_descriptor_set_end
	.hidden compat_descriptor_set_end
compat_descriptor_set_end:

	.section .note.GNU-stack, "", @progbits
