/* The LD_AUDIT objects embedded into compat by core/audit/embed.S: for
 * each ABI, the bytes from compat_audit_ABI to compat_audit_ABI_end (empty
 * when this build could not make that ABI's object). Read through
 * libcache_audit_object (core/libcache.h). */
#ifndef COMPAT_AUDIT_EMBED_H
#define COMPAT_AUDIT_EMBED_H

extern const unsigned char compat_audit_x86_64[], compat_audit_x86_64_end[];
extern const unsigned char compat_audit_i386[], compat_audit_i386_end[];

#endif
