#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cpu.h"
#include "elf.h"
#include "fsutil.h"
#include "hostindex.h"
#include "nodefacts.h"
#include "parse.h"

/* -1, 0, 1 as dotted numbers compare ("2.4" < "2.36"). */
static int cmp_version(const char *a, const char *b)
{
	while (*a || *b) {
		char *ea, *eb;
		unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
		if (x != y)
			return x < y ? -1 : 1;
		if (ea == a || eb == b)
			return strcmp(ea, eb) < 0 ? -1 : strcmp(ea, eb) > 0;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
	}
	return 0;
}

void node_newest_version(const char *const *names, size_t n, const char *prefix, char *out, size_t cap)
{
	size_t pl = strlen(prefix);
	const char *best = NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *v = names[i];
		/* GLIBC_2.36, not GLIBC_PRIVATE or GLIBCXX_3.4 under "GLIBC_" */
		if (strncmp(v, prefix, pl) != 0 || v[pl] < '0' || v[pl] > '9' ||
		    strspn(v + pl, "0123456789.") != strlen(v + pl))
			continue;
		if (!best || cmp_version(v + pl, best) > 0)
			best = v + pl;
	}
	if (best)
		snprintf(out, cap, "%s", best);
}

static void newest_of(const struct host_index *idx, const char *soname, int cls, int mach, const char *prefix,
		      char *out, size_t cap)
{
	const struct host_lib *lib = index_lookup_soname(idx, soname, cls, mach);
	out[0] = '\0';
	if (lib)
		node_newest_version(lib->verdefs, lib->nverdefs, prefix, out, cap);
}

int node_facts_read(const char *root, struct node_facts *f, struct cerr *err)
{
	struct utsname u;
	memset(f, 0, sizeof *f);
	if (uname(&u) < 0)
		return cerr_sys(err, COMPAT_EIO, "uname");
	snprintf(f->machine, sizeof f->machine, "%s", u.machine);
	parse_dotted(u.release, f->kernel, 3, NULL);
	f->isa_level = cpu_x86_isa_level();
	/* The libraries of our own ABI: the one the node's programs use. */
	uint8_t cls, osabi;
	uint16_t mach, type;
	if (elf_peek("/proc/self/exe", &cls, &mach, &type, &osabi, err) < 0)
		return COMPAT_EIO;
	struct index_opts io = { .root = root };
	struct host_index *idx;
	int rc = index_build(&io, &idx, err);
	if (rc < 0)
		return rc;
	newest_of(idx, "libc.so.6", cls, mach, "GLIBC_", f->glibc, sizeof f->glibc);
	newest_of(idx, "libstdc++.so.6", cls, mach, "GLIBCXX_", f->glibcxx, sizeof f->glibcxx);
	index_free(idx);
	return 0;
}

int node_write_features(const char *path, const char *text, size_t len, struct cerr *err)
{
	/* fs_write_atomic's temporary file is NAME.tmp.XXXXXX: written as
	 * .NAME.new (so both temporary names start with a dot), then renamed. */
	char tmp[4200];
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path + 1) : 0;
	if ((size_t)snprintf(tmp, sizeof tmp, "%.*s.%s.new", dl, path, slash ? slash + 1 : path) >= sizeof tmp)
		return cerr_set(err, COMPAT_EIO, "%s: path too long", path);
	struct cerr e;
	int rc = fs_write_atomic(tmp, text, len, &e);
	if (rc < 0)
		return cerr_set(err, rc, "%s: %s", path, e.sys_errno ? strerror(e.sys_errno) : e.msg);
	if (rename(tmp, path) < 0) {
		rc = cerr_sys(err, COMPAT_EIO, "%s", path);
		unlink(tmp);
	}
	return rc;
}
