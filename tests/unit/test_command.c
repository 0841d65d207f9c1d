#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "core/command.h"
#include "fixture.h"

static const char *self;	/* this test's own ELF file */

/* parse a "#!" line the way fs/binfmt_script.c does */
static int parse(const char *text, char **interp, char **arg, char buf[COMMAND_SHEBANG_MAX])
{
	size_t n = strlen(text);
	memcpy(buf, text, n < COMMAND_SHEBANG_MAX ? n : COMMAND_SHEBANG_MAX);
	return command_parse_shebang(buf, n, interp, arg);
}

static void test_parse_shebang(void)
{
	char buf[COMMAND_SHEBANG_MAX], *interp, *arg;
	CHECK_INT(parse("#!/bin/sh\necho hi\n", &interp, &arg, buf), 0);
	CHECK_STR(interp, "/bin/sh");
	CHECK(arg == NULL);
	/* spaces skipped, the rest of the line is one argument, trimmed */
	CHECK_INT(parse("#! \t/usr/bin/env  python3 -u \t\nimport sys\n", &interp, &arg, buf), 0);
	CHECK_STR(interp, "/usr/bin/env");
	CHECK_STR(arg, "python3 -u");
	/* a CR is part of the name, as the kernel reads it ("bad interpreter") */
	CHECK_INT(parse("#!/bin/sh\r\n", &interp, &arg, buf), 0);
	CHECK_STR(interp, "/bin/sh\r");
	/* no newline at all, short file: the name ends at the end of the file */
	CHECK_INT(parse("#!/bin/true", &interp, &arg, buf), 0);
	CHECK_STR(interp, "/bin/true");
	CHECK_INT(parse("#!\n/bin/sh\n", &interp, &arg, buf), COMPAT_EINVAL);
	/* a NUL ends the words: an empty interpreter, which no file is (fuzz_shebang) */
	memcpy(buf, "#!\0/bin/sh\n", 11);
	CHECK_INT(command_parse_shebang(buf, 11, &interp, &arg), 0);
	CHECK_STR(interp, "");
	CHECK_INT(parse("#!   \t\n", &interp, &arg, buf), COMPAT_EINVAL);
	CHECK_INT(parse("#", &interp, &arg, buf), COMPAT_EINVAL);
	CHECK_INT(parse("echo '#!/bin/sh'\n", &interp, &arg, buf), COMPAT_EINVAL);
	/* an interpreter name longer than what the kernel reads: refused */
	char longline[400] = "#!/";
	memset(longline + 3, 'a', 300);
	longline[303] = '\0';
	CHECK_INT(parse(longline, &interp, &arg, buf), COMPAT_EINVAL);
	/* a long argument is cut at 255 bytes, the name kept */
	memcpy(longline, "#!/bin/sh ", 10);
	memset(longline + 10, 'b', 300);
	longline[310] = '\0';
	CHECK_INT(parse(longline, &interp, &arg, buf), 0);
	CHECK_STR(interp, "/bin/sh");
	CHECK_INT(arg ? strlen(arg) : 0, COMMAND_SHEBANG_MAX - 1 - 10);
}

/* A directory with: tool (executable), plain (not executable), sub/ (a
 * directory), later/tool2 and first/tool2 (not executable there). */
static const char *bin_dir(void)
{
	static char d[600];
	if (!d[0]) {
		snprintf(d, sizeof d, "%s/bin", fx_tmpdir());
		fx_sh("mkdir -p %s/sub %s/first %s/later && cd %s && printf '#!/bin/sh\\n' > tool && chmod 755 tool &&"
		      " printf 'x\\n' > plain && chmod 644 plain && printf 'x\\n' > first/tool2 && chmod 644 first/tool2 &&"
		      " cp tool later/tool2 && mkdir -p sub2/sub",
		      d, d, d, d);
	}
	return d;
}

static void test_find(void)
{
	const char *d = bin_dir();
	char path[2000], *found;
	struct cerr err;
	snprintf(path, sizeof path, "/nonexistent:%s", d);
	CHECK_INT(command_find("tool", path, &found, &err), 0);
	char want[700];
	snprintf(want, sizeof want, "%s/tool", d);
	CHECK_STR(found, want);
	free(found);
	CHECK_INT(command_find("nosuch", path, &found, &err), COMPAT_ENOTFOUND);
	CHECK_INT(err.sys_errno, ENOENT);
	CHECK(found == NULL);
	CHECK_STR(err.msg, "nosuch: command not found");
	/* there, but not executable: 126, not 127 */
	CHECK_INT(command_find("plain", path, &found, &err), COMPAT_EPERM);
	CHECK_INT(err.sys_errno, EACCES);
	CHECK_INT(command_find("sub", path, &found, &err), COMPAT_EPERM);
	/* a non-executable file earlier in PATH is passed over */
	snprintf(path, sizeof path, "%s/first:%s/later", d, d);
	CHECK_INT(command_find("tool2", path, &found, &err), 0);
	snprintf(want, sizeof want, "%s/later/tool2", d);
	CHECK_STR(found, want);
	free(found);
	/* a name with '/' is not searched */
	snprintf(want, sizeof want, "%s/tool", d);
	CHECK_INT(command_find(want, "/nonexistent", &found, &err), 0);
	CHECK_STR(found, want);
	free(found);
	snprintf(want, sizeof want, "%s/nosuch", d);
	CHECK_INT(command_find(want, NULL, &found, &err), COMPAT_ENOTFOUND);
	CHECK_INT(err.sys_errno, ENOENT);
	CHECK_INT(command_find(d, NULL, &found, &err), COMPAT_EPERM);
	CHECK_STR(strrchr(err.msg, ':'), ": Is a directory");
	CHECK_INT(command_find("", NULL, &found, &err), COMPAT_ENOTFOUND);
	/* an empty PATH entry is the current directory */
	char cwd[600];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK_INT(chdir(d), 0);
	CHECK_INT(command_find("tool", "/nonexistent:", &found, &err), 0);
	CHECK_STR(found, "./tool");
	free(found);
	CHECK_INT(chdir(cwd), 0);
}

/* A script at d/NAME with the given text, executable. */
static void script(const char *name, const char *text)
{
	char p[800];
	snprintf(p, sizeof p, "%s/%s", bin_dir(), name);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(p, 0755);
}

static int program(const char *name, char **prog, unsigned *depth, struct cerr *err)
{
	char p[800];
	snprintf(p, sizeof p, "%s/%s", bin_dir(), name);
	return command_program(p, bin_dir(), prog, depth, err);
}

static void test_program(void)
{
	char *prog, text[1200];
	unsigned depth = 99;
	struct cerr err;
	if (access("/usr/bin/env", X_OK) != 0)
		SKIP("no /usr/bin/env here");
	/* an ELF file is itself */
	CHECK_INT(command_program(self, NULL, &prog, &depth, &err), 0);
	CHECK_STR(prog, self);
	CHECK_INT(depth, 0);
	free(prog);
	/* #!ELF; #!/usr/bin/env NAME with NAME a script in PATH; -S forms */
	snprintf(text, sizeof text, "#!%s -x\n", self);
	script("direct", text);
	CHECK_INT(program("direct", &prog, &depth, &err), 0);
	CHECK_STR(prog, self);
	CHECK_INT(depth, 1);
	free(prog);
	script("viaenv", "#!/usr/bin/env direct\n");
	CHECK_INT(program("viaenv", &prog, &depth, &err), 0);
	CHECK_STR(prog, self);
	CHECK_INT(depth, 2);
	free(prog);
	script("envs", "#!/usr/bin/env -S -i FOO=1 -u BAR direct --flag\n");
	CHECK_INT(program("envs", &prog, &depth, &err), 0);
	CHECK_STR(prog, self);
	free(prog);
	/* env gets "direct --flag" as one name without -S, and fails */
	script("envnos", "#!/usr/bin/env direct --flag\n");
	CHECK_INT(program("envnos", &prog, &depth, &err), COMPAT_ENOTFOUND);
	CHECK_INT(err.sys_errno, ENOENT);
	/* missing interpreter, missing env NAME: ENOENT (127) */
	script("bad", "#!/nonexistent/sh\n");
	CHECK_INT(program("bad", &prog, &depth, &err), COMPAT_ENOTFOUND);
	CHECK_INT(err.sys_errno, ENOENT);
	CHECK(strstr(err.msg, "its interpreter /nonexistent/sh: No such file or directory") != NULL);
	script("envbad", "#!/usr/bin/env no-such-command-here\n");
	CHECK_INT(program("envbad", &prog, &depth, &err), COMPAT_ENOTFOUND);
	CHECK_STR(err.msg, "no-such-command-here: command not found");
	/* interpreter not executable: EACCES (126) */
	snprintf(text, sizeof text, "#!%s/plain\n", bin_dir());
	script("noexec", text);
	CHECK_INT(program("noexec", &prog, &depth, &err), COMPAT_EPERM);
	CHECK_INT(err.sys_errno, EACCES);
	/* neither ELF nor #!: ENOEXEC (126); a file need not be executable itself */
	CHECK_INT(program("plain", &prog, &depth, &err), COMPAT_EINVAL);
	CHECK_INT(err.sys_errno, ENOEXEC);
	/* interpreters that are scripts, without end */
	snprintf(text, sizeof text, "#!%s/loop\n", bin_dir());
	script("loop", text);
	CHECK_INT(program("loop", &prog, &depth, &err), COMPAT_EINVAL);
	CHECK_INT(err.sys_errno, ELOOP);
	CHECK_INT(depth, COMMAND_MAX_DEPTH + 1);
	/* env forms not modelled: said so, not guessed (sys_errno 0) */
	script("envopt", "#!/usr/bin/env -C /tmp direct\n");
	CHECK_INT(program("envopt", &prog, &depth, &err), COMPAT_EINVAL);
	CHECK_INT(err.sys_errno, 0);
	script("envnone", "#!/usr/bin/env\n");
	CHECK_INT(program("envnone", &prog, &depth, &err), COMPAT_EINVAL);
	CHECK_INT(err.sys_errno, 0);
	script("envquote", "#!/usr/bin/env -S \"direct\"\n");
	CHECK_INT(program("envquote", &prog, &depth, &err), COMPAT_EINVAL);
	CHECK(prog == NULL);
}

static void test_kind(void)
{
	struct cerr err;
	char p[800];
	CHECK_INT(command_kind(self, &err), COMMAND_ELF);
	snprintf(p, sizeof p, "%s/tool", bin_dir());
	CHECK_INT(command_kind(p, &err), COMMAND_SCRIPT);
	snprintf(p, sizeof p, "%s/plain", bin_dir());
	CHECK_INT(command_kind(p, &err), COMMAND_OTHER);
	CHECK_INT(command_kind(bin_dir(), &err), COMPAT_EPERM);
	CHECK_INT(command_kind("/nonexistent/x", &err), COMPAT_ENOTFOUND);
	/* a FIFO is not read (the open does not block, nothing waits on it) */
	snprintf(p, sizeof p, "%s/fifo", fx_tmpdir());
	CHECK_INT(mkfifo(p, 0600), 0);
	CHECK_INT(command_kind(p, &err), COMPAT_EPERM);
	CHECK_STR(strrchr(err.msg, ':'), ": not a regular file");
}

int main(int argc, char **argv)
{
	static char real[4096];
	self = argc > 0 && realpath(argv[0], real) ? real : "/proc/self/exe";
	RUN(test_parse_shebang);
	RUN(test_find);
	RUN(test_program);
	RUN(test_kind);
	fx_sh("rm -rf %s", fx_tmpdir());
	return check_summary();
}
