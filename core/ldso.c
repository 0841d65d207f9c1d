/* The ld.so model (see ldso.h for the search order it encodes). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu.h"
#include "ldso.h"

#define X86_HWCAPS                                                             \
	.hwcaps = { { "x86-64-v4", "glibc-hwcaps/x86-64-v4", 4 },              \
		    { "x86-64-v3", "glibc-hwcaps/x86-64-v3", 3 },              \
		    { "x86-64-v2", "glibc-hwcaps/x86-64-v2", 2 } },            \
	.nhwcaps = 3
/* glibc 2.36's legacy subdirectories for AT_PLATFORM x86_64 and hwcap
 * x86_64, in the order ld.so --help lists and searches them. */
#define X86_64_LEGACY                                                          \
	.legacy = { "tls/x86_64/x86_64", "tls/x86_64", "tls", "x86_64/x86_64", "x86_64" }, \
	.nlegacy = 5
#define I686_LEGACY                                                            \
	.legacy = { "tls/i686/sse2", "tls/i686", "tls/sse2", "tls", "i686/sse2", "i686", "sse2" }, \
	.nlegacy = 7
#define TLS_LEGACY .legacy = { "tls" }, .nlegacy = 1
#define LIBC6 LDCACHE_FLAG_ELF_LIBC6

/* Debian's loaders: the multiarch layout (lib/<triplet>, which its glibc
 * searches, then /lib and /usr/lib) where the root has it, else the
 * upstream lib64/lib32 layout. Cache flags are ldconfig's FLAG_* values
 * (sysdeps/generic/ldconfig.h) each loader's _dl_cache_check_flags takes. */
static const struct ldso_abi table[] = {
	{ .name = "x86_64", .elf_class = ELFCLASS64, .machine = EM_X86_64, .cpu = EM_X86_64,
	  .interp = "/lib64/ld-linux-x86-64.so.2", .cache_flags = { LIBC6 | LDCACHE_FLAG_X8664_LIB64 },
	  .ncache_flags = 1, .probe = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu" },
	  .dirs = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "lib/x86_64-linux-gnu", .platform = "x86_64", X86_HWCAPS, X86_64_LEGACY },
	{ .name = "x86_64-lib64", .elf_class = ELFCLASS64, .machine = EM_X86_64, .cpu = EM_X86_64,
	  .interp = "/lib64/ld-linux-x86-64.so.2", .cache_flags = { LIBC6 | LDCACHE_FLAG_X8664_LIB64 },
	  .ncache_flags = 1, .dirs = { "/lib64", "/usr/lib64" }, .ndirs = 2,
	  .lib = "lib64", .platform = "x86_64", X86_HWCAPS, X86_64_LEGACY },
	{ .name = "i386", .elf_class = ELFCLASS32, .machine = EM_386, .cpu = EM_X86_64,
	  .interp = "/lib/ld-linux.so.2", .cache_flags = { LDCACHE_FLAG_ELF, LIBC6 }, .ncache_flags = 2,
	  .probe = { "/usr/lib/i386-linux-gnu" },
	  .dirs = { "/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "lib/i386-linux-gnu", .platform = "i686", I686_LEGACY },
	{ .name = "i386-lib32", .elf_class = ELFCLASS32, .machine = EM_386, .cpu = EM_X86_64,
	  .interp = "/lib/ld-linux.so.2", .cache_flags = { LDCACHE_FLAG_ELF, LIBC6 }, .ncache_flags = 2,
	  .dirs = { "/lib32", "/usr/lib32", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "lib32", .platform = "i686", I686_LEGACY },
	{ .name = "x32", .elf_class = ELFCLASS32, .machine = EM_X86_64, .cpu = EM_X86_64,
	  .interp = "/libx32/ld-linux-x32.so.2", .cache_flags = { LIBC6 | LDCACHE_FLAG_X8664_LIBX32 },
	  .ncache_flags = 1, .dirs = { "/libx32", "/usr/libx32", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "libx32", .platform = "x86_64", TLS_LEGACY },
	{ .name = "aarch64", .elf_class = ELFCLASS64, .machine = EM_AARCH64, .cpu = EM_AARCH64,
	  .interp = "/lib/ld-linux-aarch64.so.1", .cache_flags = { LIBC6 | LDCACHE_FLAG_AARCH64_LIB64 },
	  .ncache_flags = 1, .probe = { "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu" },
	  .dirs = { "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "lib/aarch64-linux-gnu", .platform = "aarch64", TLS_LEGACY },
	{ .name = "aarch64-lib64", .elf_class = ELFCLASS64, .machine = EM_AARCH64, .cpu = EM_AARCH64,
	  .interp = "/lib/ld-linux-aarch64.so.1", .cache_flags = { LIBC6 | LDCACHE_FLAG_AARCH64_LIB64 },
	  .ncache_flags = 1, .dirs = { "/lib64", "/usr/lib64" }, .ndirs = 2,
	  .lib = "lib64", .platform = "aarch64", TLS_LEGACY },
	{ .name = "armhf", .elf_class = ELFCLASS32, .machine = EM_ARM, .cpu = EM_AARCH64,
	  .interp = "/lib/ld-linux-armhf.so.3", .cache_flags = { LIBC6 | LDCACHE_FLAG_ARM_LIBHF },
	  .ncache_flags = 1,
	  .dirs = { "/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf", "/lib", "/usr/lib" },
	  .ndirs = 4, .lib = "lib/arm-linux-gnueabihf", .platform = "v7l", TLS_LEGACY },
	{ .name = "ppc64el", .elf_class = ELFCLASS64, .machine = EM_PPC64, .cpu = EM_PPC64,
	  .interp = "/lib64/ld64.so.2", .cache_flags = { LIBC6 | LDCACHE_FLAG_POWERPC_LIB64 },
	  .ncache_flags = 1,
	  .dirs = { "/lib/powerpc64le-linux-gnu", "/usr/lib/powerpc64le-linux-gnu", "/lib", "/usr/lib" },
	  .ndirs = 4, .lib = "lib/powerpc64le-linux-gnu", .platform = "power8", TLS_LEGACY },
	{ .name = "s390x", .elf_class = ELFCLASS64, .machine = EM_S390, .cpu = EM_S390,
	  .interp = "/lib/ld64.so.1", .cache_flags = { LIBC6 | LDCACHE_FLAG_S390_LIB64 },
	  .ncache_flags = 1,
	  .dirs = { "/lib/s390x-linux-gnu", "/usr/lib/s390x-linux-gnu", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "lib/s390x-linux-gnu", .platform = "z900", TLS_LEGACY },
	{ .name = "riscv64", .elf_class = ELFCLASS64, .machine = EM_RISCV, .cpu = EM_RISCV,
	  .interp = "/lib/ld-linux-riscv64-lp64d.so.1",
	  .cache_flags = { LIBC6 | LDCACHE_FLAG_RISCV_FLOAT_ABI_DOUBLE }, .ncache_flags = 1,
	  .dirs = { "/lib/riscv64-linux-gnu", "/usr/lib/riscv64-linux-gnu", "/lib", "/usr/lib" }, .ndirs = 4,
	  .lib = "lib/riscv64-linux-gnu", .platform = "", TLS_LEGACY },
};

/* A loader the table does not know: no cache entries match (no flags),
 * the traditional directories. */
static const struct ldso_abi generic = {
	.name = "generic", .dirs = { "/lib", "/usr/lib" }, .ndirs = 2, .lib = "lib", .platform = "",
};

const struct ldso_abi *ldso_generic_abi(void)
{
	return &generic;
}

const struct ldso_abi *ldso_table(size_t *n)
{
	*n = sizeof table / sizeof table[0];
	return table;
}

/* ---- opening inside a root ---- */

int ldso_root_open(const char *dir, struct ldso_root *root, struct cerr *err)
{
	root->fd = -1;
	root->path = NULL;
	char real[PATH_MAX];
	if (!dir || !*dir || strcmp(dir, "/") == 0 || (realpath(dir, real) && strcmp(real, "/") == 0)) {
		root->path = strdup("/");
		return root->path ? 0 : cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	if (!realpath(dir, real))
		return cerr_sys(err, COMPAT_EIO, "%s", dir);
	root->fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0)
		return cerr_sys(err, COMPAT_EIO, "%s", dir);
	if (!(root->path = strdup(real))) {
		ldso_root_close(root);
		return cerr_set(err, COMPAT_ENOMEM, "out of memory");
	}
	return 0;
}

void ldso_root_close(struct ldso_root *root)
{
	if (root->fd >= 0)
		close(root->fd);
	free(root->path);
	root->fd = -1;
	root->path = NULL;
}

int ldso_open(const struct ldso_root *root, const char *path, int flags)
{
	/* openat2 refuses O_PATH with flags other than O_DIRECTORY,
	 * O_NOFOLLOW and O_CLOEXEC. */
	flags |= O_CLOEXEC;
	if (!(flags & O_PATH))
		flags |= O_NONBLOCK | O_NOCTTY;	/* a FIFO must not wait for a writer */
	int fd;
	if (!root || root->fd < 0) {
		fd = openat(AT_FDCWD, path, flags);
	} else {
		struct open_how how = { .flags = (uint64_t)flags, .resolve = RESOLVE_IN_ROOT };
		/* No fallback without openat2 (Linux < 5.6, or a seccomp
		 * filter that hides it): an emulation by plain openat would
		 * follow absolute symlinks out of the root. */
		fd = (int)syscall(SYS_openat2, root->fd, path, &how, sizeof how);
	}
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	/* Regular files and directories; anything through O_PATH, which
	 * opened nothing. */
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || (flags & O_PATH))
		return fd;
	close(fd);
	errno = ENXIO;
	return -1;
}

int ldso_is_dir(const struct ldso_root *root, const char *path)
{
	int fd = ldso_open(root, path, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* ---- the table ---- */

const struct ldso_abi *ldso_abi_for(const struct ldso_root *root, int elf_class, int machine)
{
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		const struct ldso_abi *a = &table[i];
		if (a->elf_class != elf_class || a->machine != machine)
			continue;
		if (!a->probe[0] || ldso_is_dir(root, a->probe[0]) || (a->probe[1] && ldso_is_dir(root, a->probe[1])))
			return a;
	}
	return NULL;
}

const struct ldso_abi *ldso_abi_by_interp(const struct ldso_root *root, const char *interp)
{
	for (size_t i = 0; interp && i < sizeof table / sizeof table[0]; i++)
		if (strcmp(table[i].interp, interp) == 0)
			return ldso_abi_for(root, table[i].elf_class, table[i].machine);
	return NULL;
}

int ldso_cache_flags_ok(const struct ldso_abi *abi, int32_t flags)
{
	for (size_t i = 0; i < abi->ncache_flags; i++)
		if (abi->cache_flags[i] == flags)
			return 1;
	return 0;
}

int ldso_native_cpu(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return EM_X86_64;
#elif defined(__aarch64__) || defined(__arm__)
	return EM_AARCH64;
#elif defined(__powerpc64__)
	return EM_PPC64;
#elif defined(__s390x__)
	return EM_S390;
#elif defined(__riscv)
	return EM_RISCV;
#else
	return 0;
#endif
}

const struct ldso_abi *ldso_native_abi(const struct ldso_root *root)
{
	int cpu = ldso_native_cpu();
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].cpu == cpu && table[i].machine == cpu)
			return ldso_abi_for(root, table[i].elf_class, table[i].machine);
	return NULL;
}

int ldso_cpu_runs(int cpu, int elf_class, int machine)
{
	int known = 0;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (table[i].elf_class != elf_class || table[i].machine != machine)
			continue;
		if (table[i].cpu == cpu)
			return 1;
		known = 1;
	}
	return !known && cpu && machine == cpu;
}

size_t ldso_hwcaps(const struct ldso_abi *abi, const char **names, size_t cap)
{
	size_t n = 0;
	if (!abi || abi->cpu != ldso_native_cpu())
		return 0;
	int level = cpu_x86_isa_level();
	for (size_t i = 0; i < abi->nhwcaps && n < cap; i++)
		if (level >= abi->hwcaps[i].x86_level)
			names[n++] = abi->hwcaps[i].name;
	return n;
}

size_t ldso_subdirs(const struct ldso_abi *abi, const char **subdirs)
{
	size_t n = 0;
	if (abi && abi->cpu == ldso_native_cpu()) {
		int level = cpu_x86_isa_level();
		for (size_t i = 0; i < abi->nhwcaps; i++)
			if (level >= abi->hwcaps[i].x86_level)
				subdirs[n++] = abi->hwcaps[i].subdir;
	}
	for (size_t i = 0; abi && i < abi->nlegacy; i++)
		subdirs[n++] = abi->legacy[i];
	subdirs[n++] = "";
	return n;
}

const char *ldso_first_dir(const struct ldso_abi *abi, const char *dir, char *buf, size_t len)
{
	if (!abi) {
		int cpu = ldso_native_cpu();
		for (size_t i = 0; !abi && i < sizeof table / sizeof table[0]; i++)
			if (table[i].cpu == cpu && table[i].machine == cpu)
				abi = &table[i];
	}
	const char *sub[LDSO_MAX_SUBDIRS];
	size_t n = ldso_subdirs(abi, sub);
	/* the first glibc-hwcaps one, if any; legacy ones are not "first" for
	 * every library (tls/ is for TLS-using ones only) */
	int hw = n > 0 && strncmp(sub[0], "glibc-hwcaps/", 13) == 0;
	int w = hw ? snprintf(buf, len, "%s/%s", dir, sub[0]) : snprintf(buf, len, "%s", dir);
	return w < 0 || (size_t)w >= len ? NULL : buf;
}

int ldso_in_default_dir(const struct ldso_abi *abi, const char *path)
{
	for (size_t i = 0; abi && i < abi->ndirs; i++) {
		size_t l = strlen(abi->dirs[i]);
		if (strncmp(path, abi->dirs[i], l) == 0 && path[l] == '/')
			return 1;
	}
	return 0;
}

/* ---- dynamic string tokens ---- */

static int ident_char(char c)
{
	return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

char *ldso_expand(const struct ldso_abi *abi, const char *s, const char *origin, int *used_origin)
{
	static const char *const names[] = { "ORIGIN", "LIB", "PLATFORM" };
	size_t cap = strlen(s) + 1 + 64, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (*s) {
		const char *val = NULL;
		size_t skip = 0;
		for (size_t i = 0; *s == '$' && i < 3 && !val; i++) {
			size_t len = strlen(names[i]);
			int braced = s[1] == '{';
			const char *p = s + 1 + braced;
			if (strncmp(p, names[i], len) != 0 || (braced ? p[len] != '}' : ident_char(p[len])))
				continue;
			skip = 1 + (size_t)braced + len + (size_t)braced;
			if (i == 0) {
				val = origin ? origin : ".";
				if (used_origin)
					*used_origin = 1;
			} else if (i == 1) {
				val = abi ? abi->lib : "lib";
			} else {
				val = abi ? abi->platform : "";
			}
		}
		size_t add = val ? strlen(val) : 1;
		if (n + add + 1 > cap) {
			cap = (n + add + 1) * 2;
			char *nb = realloc(out, cap);
			if (!nb) {
				free(out);
				return NULL;
			}
			out = nb;
		}
		if (val) {
			memcpy(out + n, val, add);
			n += add;
			s += skip;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	return out;
}

/* ---- the search order ---- */

const char *ldso_how_name(enum ldso_how how)
{
	static const char *const names[] = {
		[LDSO_RPATH] = "[rpath]", [LDSO_LD_LIBRARY_PATH] = "[LD_LIBRARY_PATH]",
		[LDSO_RUNPATH] = "[runpath]", [LDSO_CACHE] = "[ld.so.cache]", [LDSO_DEFAULT] = "[default path]",
	};
	return how <= LDSO_DEFAULT ? names[how] : "?";
}

const char *ldso_list_seps(enum ldso_how how)
{
	return how == LDSO_LD_LIBRARY_PATH ? ":;" : ":";
}

size_t ldso_search_order(const struct ldso_object *chain, size_t nchain, const char *library_path,
			 struct ldso_step *steps)
{
	size_t n = 0;
	if (!nchain)
		return 0;
	const struct ldso_object *req = &chain[0], *prog = &chain[nchain - 1];
	/* DT_RPATH is ignored in an object that has DT_RUNPATH
	 * (elf/get-dynamic-info.h), and inherited only when the requester
	 * has no DT_RUNPATH. */
	if (!req->runpath)
		for (size_t i = 0; i < nchain && i < LDSO_MAX_CHAIN; i++)
			if (chain[i].rpath && !chain[i].runpath)
				steps[n++] = (struct ldso_step){ LDSO_RPATH, chain[i].rpath, chain[i].origin, 0 };
	if (library_path && *library_path)
		steps[n++] = (struct ldso_step){ LDSO_LD_LIBRARY_PATH, library_path, prog->origin, 0 };
	if (req->runpath)
		steps[n++] = (struct ldso_step){ LDSO_RUNPATH, req->runpath, req->origin, 0 };
	steps[n++] = (struct ldso_step){ LDSO_CACHE, NULL, NULL, req->nodeflib };
	if (!req->nodeflib)
		steps[n++] = (struct ldso_step){ LDSO_DEFAULT, NULL, NULL, 0 };
	return n;
}

size_t ldso_search_order_flat(const char *rpath, const char *runpath, const char *library_path,
			      struct ldso_step *steps)
{
	size_t n = 0;
	if (rpath && *rpath)
		steps[n++] = (struct ldso_step){ LDSO_RPATH, rpath, NULL, 0 };
	if (library_path && *library_path)
		steps[n++] = (struct ldso_step){ LDSO_LD_LIBRARY_PATH, library_path, NULL, 0 };
	if (runpath && *runpath)
		steps[n++] = (struct ldso_step){ LDSO_RUNPATH, runpath, NULL, 0 };
	steps[n++] = (struct ldso_step){ LDSO_CACHE, NULL, NULL, 0 };
	steps[n++] = (struct ldso_step){ LDSO_DEFAULT, NULL, NULL, 0 };
	return n;
}

/* ---- ld.so.cache ---- */

int ldso_cache_load(const struct ldso_root *root, struct ldcache *c, struct stat *st, struct cerr *err)
{
	static const char path[] = "/etc/ld.so.cache";
	struct stat sb;
	int rc = 0;
	memset(c, 0, sizeof *c);
	int fd = ldso_open(root, path, O_RDONLY);
	if (fd < 0)
		return errno == ENOENT ? cerr_set(err, COMPAT_ENOTFOUND, "%s: no such file", path)
				       : cerr_sys(err, COMPAT_EIO, "%s", path);
	if (fstat(fd, &sb) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", path);
		goto out;
	}
	if (sb.st_size > (off_t)LDCACHE_MAX_BYTES) {
		rc = cerr_set(err, COMPAT_ELIMIT, "%s: larger than %u bytes", path, LDCACHE_MAX_BYTES);
		goto out;
	}
	/* Mapped, as ld.so maps it: no copy, and the pages come from the page
	 * cache (a lookup touches a few). ldconfig replaces the file by a
	 * rename, never in place, so the mapping stays whole. */
	size_t size = (size_t)sb.st_size;
	void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	if (!size)
		rc = cerr_set(err, COMPAT_EINVAL, "%s: empty", path);
	else if (map == MAP_FAILED)
		rc = cerr_sys(err, COMPAT_EIO, "%s", path);
	else
		rc = ldcache_parse_owned(map, size, 1, path, c, err);	/* the cache's now */
	if (rc == 0 && st)
		*st = sb;
out:
	close(fd);
	return rc;
}

int ldso_cache_lookup(const struct ldcache *c, const struct ldso_abi *abi, const char *name,
		      struct ldcache_entry *e)
{
	const char *hw[LDSO_MAX_HWCAPS];
	if (!c || !abi)
		return 0;
	size_t nh = ldso_hwcaps(abi, hw, LDSO_MAX_HWCAPS);
	return ldcache_lookup(c, name, abi->cache_flags, abi->ncache_flags, hw, nh, e);
}
