#!/usr/bin/env bash
# compat trace on programs built here: exit status and signals, forks,
# threads and execs, dlopen, the three output formats, Ctrl-C, and the
# error when ptrace is not permitted.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
T="timeout 60"

# Is ptrace usable at all here? (A container may forbid it.)
need_ptrace "trace"

cat > "$TMP/exit7.c" <<'C'
int main(void) { return 7; }
C
cat > "$TMP/killed.c" <<'C'
#include <signal.h>
int main(void) { raise(SIGKILL); return 0; }
C
cat > "$TMP/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("hello from the program"); return 0; }
C
# fork + two threads + exec of the hello program, each opening a file.
cat > "$TMP/family.c" <<'C'
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
static void *worker(void *arg) { int fd = open((const char *)arg, O_RDONLY); if (fd >= 0) close(fd); return NULL; }
int main(int argc, char **argv)
{
	pthread_t t[2];
	pthread_create(&t[0], NULL, worker, "/etc/passwd");
	pthread_create(&t[1], NULL, worker, "/nonexistent-from-thread");
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/etc/hostname", O_RDONLY);
		if (fd >= 0) close(fd);
		execl(argv[1], argv[1], (char *)0);
		_exit(126);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
C
cat > "$TMP/plug.c" <<'C'
int plug_value(void) { return 42; }
C
cat > "$TMP/dl.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	void *h = dlopen(argv[1], RTLD_NOW);
	if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
	int (*f)(void) = (int (*)(void))dlsym(h, "plug_value");
	return f && f() == 42 ? 0 : 1;
}
C
cat > "$TMP/sleeper.c" <<'C'
#include <unistd.h>
int main(void) { sleep(20); return 0; }
C
build_c "$TMP/exit7" "$TMP/exit7.c"
build_c "$TMP/killed" "$TMP/killed.c"
build_c "$TMP/hello" "$TMP/hello.c"
build_c "$TMP/family" "$TMP/family.c" -pthread
build_c "$TMP/sleeper" "$TMP/sleeper.c"
mkdir -p "$TMP/plugins"
gcc -w -shared -fPIC -Wl,-soname,libplug.so.3 -o "$TMP/plugins/libplug.so.3" "$TMP/plug.c"
build_c "$TMP/dl" "$TMP/dl.c" -ldl

# Exit status: the program's, or 128 + signal.
expect_status 7 "exit status 7 is propagated" $T "$COMPAT" trace -o /dev/null -- "$TMP/exit7"
expect_status 137 "killed by SIGKILL: exit 128+9" $T "$COMPAT" trace -o /dev/null -- "$TMP/killed"
expect_status 7 "loader-only: exit status 7 is propagated" $T "$COMPAT" trace --loader-only -o /dev/null -- "$TMP/exit7"
expect_status 137 "loader-only: killed by SIGKILL: exit 137" $T "$COMPAT" trace --loader-only -o /dev/null -- "$TMP/killed"
expect_status 127 "a command that does not exist: exit 127" $T "$COMPAT" trace -o /dev/null -- "$TMP/nonexistent"
t "... with a one-line message naming it" grep -q "^compat trace: cannot run $TMP/nonexistent: No such file" "$TMP/err"
expect_status 2 "no command: usage, exit 2" "$COMPAT" trace
expect_status 2 "unknown format: exit 2" "$COMPAT" trace --format xml -- true
expect_status 2 "-o into a missing directory: exit 2 before running anything" \
	"$COMPAT" trace -o "$TMP/missing/dir/out" -- touch "$TMP/ran"
t "... and the program did not run" test ! -e "$TMP/ran"
expect_status 0 "--help exits 0" "$COMPAT" trace --help
expect_status 0 "compat-trace symlink works" $T "$BIN/compat-trace" -o /dev/null -- "$TMP/hello"

# The program's stdout stays its own; the trace goes to stderr by default.
$T "$COMPAT" trace -- "$TMP/hello" > "$TMP/out" 2> "$TMP/err"
t "stdout holds only the program's output" test "$(cat "$TMP/out")" = "hello from the program"
t "the trace goes to stderr by default (text: <unix-ns> Open <path>)" \
	grep -qE "^[0-9]{19} Open $TMP/hello$" "$TMP/err"
t "text: a failed lookup is a Lookup line" grep -qE '^[0-9]{19} Lookup /etc/ld.so.preload$' "$TMP/err"
t "text: the loader's open of libc is an Open line" grep -qE '^[0-9]{19} Open /.*/libc\.so\.6$' "$TMP/err"
$T "$COMPAT" trace -o - -- "$TMP/exit7" > "$TMP/out" 2> "$TMP/err"
t "-o - writes the trace to stdout" grep -qE "^[0-9]+ Open $TMP/exit7$" "$TMP/out"

# Relative paths are resolved against the cwd.
(cd "$TMP/plugins" && $T "$COMPAT" trace -f jsonl -o "$TMP/rel.jsonl" -- cat ./libplug.so.3 > /dev/null)
t "a relative path is resolved against the cwd" grep -q "\"path\":\"$TMP/plugins/libplug.so.3\",\"result\":3" "$TMP/rel.jsonl"

# fork, threads, exec: events from every task, every line valid JSON.
$T "$COMPAT" trace -f jsonl -o "$TMP/fam.jsonl" -- "$TMP/family" "$TMP/hello" > /dev/null
rc=$?
t "family: exit status 0 after fork/threads/exec" test "$rc" = 0
check=$($PY - "$TMP/fam.jsonl" "$TMP" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
tmp = sys.argv[2]
def who(path, ok=None):
    return {(e["pid"], e["tid"]) for e in ev if e["path"] == path and (ok is None or (e["result"] >= 0) == ok)}
main = who(tmp + "/family")
t1 = who("/etc/passwd", True)
t2 = who("/nonexistent-from-thread", False)
child = who("/etc/hostname", True)
execd = who(tmp + "/hello", True)
bad = []
if len(main) != 1: bad.append("main %s" % main)
(mp, mt), = main if len(main) == 1 else {(0, 0)}
for name, s in (("thread1", t1), ("thread2", t2)):
    if not any(p == mp and t != mp for p, t in s): bad.append("%s %s" % (name, s))
if {t for _, t in t1} & {t for _, t in t2}: bad.append("threads share a tid")
if not any(p != mp for p, _ in child): bad.append("child %s" % child)
if not (execd and {p for p, _ in execd} <= {p for p, _ in child}): bad.append("exec %s vs %s" % (execd, child))
if not all(e["syscall"] in ("open","openat","openat2","execve","execveat","stat","lstat","newfstatat","statx","access","faccessat","faccessat2") for e in ev): bad.append("syscall names")
if any(e["result"] < 0 and "errno" not in e for e in ev): bad.append("errno missing")
print("ok" if not bad else " ".join(bad))
PY
)
t "family: events from the main thread, both threads, the forked child and its exec ($check)" test "$check" = ok
t "jsonl: every line parses" $PY -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    json.loads(l); n += 1
sys.exit(0 if n > 10 else 1)' "$TMP/fam.jsonl"

# An exec from a non-leader thread (the kernel gives it the leader's id)
# and a vfork-style posix_spawn.
cat > "$TMP/texec.c" <<'C'
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
static char *prog;
static void *run(void *arg) { execl(prog, prog, (char *)0); return NULL; }
int main(int argc, char **argv)
{
	pid_t pid;
	int st;
	prog = argv[1];
	if (posix_spawn(&pid, prog, NULL, NULL, argv + 1, environ) != 0 || waitpid(pid, &st, 0) != pid)
		return 3;
	pthread_t t;
	pthread_create(&t, NULL, run, NULL);
	pthread_join(t, NULL);
	return 4;
}
C
build_c "$TMP/texec" "$TMP/texec.c" -pthread
$T "$COMPAT" trace -f jsonl -o "$TMP/texec.jsonl" -- "$TMP/texec" "$TMP/hello" > "$TMP/out"
rc=$?
t "exec from a thread after posix_spawn: exit 0 and both ran (exit $rc)" \
	test "$rc" = 0 -a "$(grep -c hello "$TMP/out")" = 2
t "... two successful execs of hello, from the spawned child and from the main pid" $PY -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
main = [e["pid"] for e in ev if e["path"] == sys.argv[2] + "/texec" and e["result"] == 0][0]
ex = [e for e in ev if e["path"] == sys.argv[2] + "/hello" and e["syscall"] == "execve" and e["result"] == 0]
assert len(ex) == 2, ex
assert {e["pid"] for e in ex} == {main, [e["pid"] for e in ex if e["pid"] != main][0]}
assert any(e["pid"] == main and e["tid"] == main for e in ex)
' "$TMP/texec.jsonl" "$TMP"

# perfetto: Chrome trace JSON with X slices and name metadata.
$T "$COMPAT" trace -f perfetto -o "$TMP/fam.json" -- "$TMP/family" "$TMP/hello" > /dev/null
t "perfetto: json.load parses it; X slices per open, process and thread names" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
x = [e for e in ev if e["ph"] == "X"]
m = [e for e in ev if e["ph"] == "M"]
assert x and all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 and "pid" in e and "tid" in e for e in x)
assert any(e["args"]["path"] == "/etc/passwd" and e["cat"] == "open" for e in x)
assert any(e["args"]["path"] == "/nonexistent-from-thread" and e["cat"] == "lookup" and e["args"]["errno"] == "ENOENT" for e in x)
pids = {e["pid"] for e in x}
assert len(pids) >= 2, pids
assert pids <= {e["pid"] for e in m if e["name"] == "process_name"}
assert {e["tid"] for e in x} <= {e["tid"] for e in m if e["name"] == "thread_name"}
assert any(e["args"]["name"] == "hello" for e in m if e["name"] == "process_name")
' "$TMP/fam.json"

# dlopen of a library named at run time: in the trace artifact, not in gen's.
$T "$COMPAT" trace -o "$TMP/dl.txt" --artifact "$TMP/dl-trace.json" -- "$TMP/dl" "$TMP/plugins/libplug.so.3"
rc=$?
t "dlopen: the program ran (exit 0)" test "$rc" = 0
t "dlopen: the trace shows the open of the plugin" grep -qE "^[0-9]+ Open $TMP/plugins/libplug.so.3$" "$TMP/dl.txt"
t "dlopen: the trace artifact lists the dlopen'd soname" \
	grep -qE '"llnl.compatlib.library-name.[0-9]+": "libplug.so.3"' "$TMP/dl-trace.json"
t "dlopen: and libc as a need" grep -q '"llnl.compatlib.needed.libc.so.6"' "$TMP/dl-trace.json"
"$COMPAT" gen -o "$TMP/dl-gen.json" "$TMP/dl"
t "dlopen: compat gen's static artifact does not list it" bash -c '
	grep -q "library-name" "$1" && ! grep -q libplug "$1"' _ "$TMP/dl-gen.json"
t "dlopen: the trace artifact keeps everything gen found (symbols, isa-level)" $PY -c '
import json, sys
g = json.load(open(sys.argv[1]))["attributes"]; tr = json.load(open(sys.argv[2]))["attributes"]
libs = lambda a: sorted(v for k, v in a.items() if ".library-name." in k)
n = len(libs(tr))
assert sorted(k for k in tr if ".library-name." in k) == sorted("llnl.compatlib.library-name.%d" % i for i in range(n))
assert set(libs(g)) < set(libs(tr)) and libs(tr) == sorted(libs(tr))
for k, v in g.items():
    if ".library-name." not in k: assert tr.get(k) == v, k
' "$TMP/dl-gen.json" "$TMP/dl-trace.json"

# --loader-only: the loader's lookups (start and dlopen) are recorded, the
# program's own opens are not; children and their execs are still followed.
cat > "$TMP/dlown.c" <<'C'
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	int fd = open("/etc/hostname", O_RDONLY);
	if (fd >= 0) close(fd);
	return dlopen(argv[1], RTLD_NOW) ? 0 : 1;
}
C
build_c "$TMP/dlown" "$TMP/dlown.c" -ldl
$T "$COMPAT" trace --loader-only -f jsonl -o "$TMP/lo.jsonl" --artifact "$TMP/lo-art.json" \
	-- "$TMP/dlown" "$TMP/plugins/libplug.so.3"
rc=$?
t "loader-only: the program runs (exit $rc)" test "$rc" = 0
t "loader-only: the dlopen of the plugin is recorded" \
	grep -q "\"path\":\"$TMP/plugins/libplug.so.3\",\"result\":[0-9]" "$TMP/lo.jsonl"
t "loader-only: so is the loader's open of libc" grep -q '"path":"/[^"]*/libc.so.6","result":[0-9]' "$TMP/lo.jsonl"
t "loader-only: the program's own open of /etc/hostname is not" bash -c '! grep -q /etc/hostname "$1"' _ "$TMP/lo.jsonl"
t "loader-only: the artifact lists the plugin" grep -q '"libplug.so.3"' "$TMP/lo-art.json"
$T "$COMPAT" trace --loader-only -f jsonl -o "$TMP/lofam.jsonl" -- "$TMP/family" "$TMP/hello" > /dev/null
t "loader-only: the forked child's exec is followed and its loader traced" $PY -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ex = [e for e in ev if e["path"] == sys.argv[2] + "/hello" and e["result"] == 0]
assert len(ex) == 1, ex
assert any(e["pid"] == ex[0]["pid"] and e["path"].endswith("/libc.so.6") and e["result"] >= 0 for e in ev)
assert not any(e["path"] in ("/etc/passwd", "/etc/hostname", "/nonexistent-from-thread") for e in ev)
' "$TMP/lofam.jsonl" "$TMP"

# Ctrl-C: compat stays in the foreground group with the program, ignores
# SIGINT itself and exits with the program's status (128+2).
# (Python tells a normal exit with 130 from a death by SIGINT: -2.)
ctrlc=$($PY - "$COMPAT" "$TMP/sleeper" <<'PY'
import os, signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "trace", "-o", "/dev/null", "--", sys.argv[2]],
                     start_new_session=True,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
def sleeper_running():
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and d != str(p.pid) and os.getpgid(int(d)) == p.pid:
                return True
        except OSError:
            pass
    return False
deadline = time.time() + 20
while not sleeper_running() and time.time() < deadline:
    time.sleep(0.05)
time.sleep(0.2)
os.killpg(p.pid, signal.SIGINT)   # what the terminal does on Ctrl-C
try:
    print(p.wait(timeout=20))
except subprocess.TimeoutExpired:
    os.killpg(p.pid, signal.SIGKILL); print("hung")
PY
)
t "Ctrl-C (SIGINT to the process group): the program dies, compat exits 130 itself (got $ctrlc)" \
	test "$ctrlc" = 130
# timeout(1) gives its command the default SIGINT disposition back (a
# non-interactive shell starts background jobs with SIGINT ignored).
$T "$COMPAT" trace -o /dev/null -- "$TMP/sleeper" &
tpid=$!
cpid= spid=
for _ in $(seq 100); do
	cpid=$(pgrep -P "$tpid" | head -1)
	[ -n "$cpid" ] && spid=$(pgrep -P "$cpid" | head -1)
	[ -n "$spid" ] && break
	sleep 0.1
done
sleep 0.2
kill -INT "$cpid"
sleep 0.5
if kill -0 "$cpid" 2> /dev/null && kill -0 "$spid" 2> /dev/null; then
	ok "SIGINT to compat alone is ignored while tracing"; else
	nok "SIGINT to compat alone is ignored while tracing"; fi
kill -TERM "$cpid" 2> /dev/null; wait "$tpid" 2> /dev/null
sleep 0.3
state=$(awk '{print $3}' "/proc/$spid/stat" 2> /dev/null)
if [ -n "$spid" ] && { [ -z "$state" ] || [ "$state" = Z ]; }; then
	ok "compat killed: the traced program dies with it (PTRACE_O_EXITKILL)"; else
	nok "compat killed: the traced program dies with it (PTRACE_O_EXITKILL)"; kill -9 "$spid" 2> /dev/null; fi

# ptrace not permitted: a process that is already traced cannot be traced
# again, so PTRACE_TRACEME fails with EPERM under strace -f.
if command -v strace > /dev/null; then
	# (LeakSanitizer cannot run under ptrace: off for a SANITIZE=1 build)
	ASAN_OPTIONS=detect_leaks=0 $T strace -f -o /dev/null "$COMPAT" trace -o /dev/null -- true > "$TMP/out" 2> "$TMP/err"; rc=$?
	t "ptrace not permitted: exit 2 (got $rc)" test "$rc" = 2
	t "... naming ptrace_scope and CAP_SYS_PTRACE" \
		grep -q "ptrace is not permitted.*yama/ptrace_scope.*CAP_SYS_PTRACE" "$TMP/err"
else
	skip "ptrace not permitted: strace is not installed"
fi
