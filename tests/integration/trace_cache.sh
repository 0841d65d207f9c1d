#!/usr/bin/env bash
# The search-removal claim, measured: a program linked against 20 libraries
# spread over the 20 directories of LD_LIBRARY_PATH makes ld.so fail many
# opens; after compat trace --cache, --from-cache finds each at the first try.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
T="timeout 60"

need_ptrace "trace cache"

W=$TMP/w
mkdir -p "$W"
llp=
for i in $(seq 0 19); do
	mkdir -p "$W/d$i"
	echo "int f$i(void) { return $i; }" > "$W/d$i/l$i.c"
	gcc -w -shared -fPIC -Wl,-soname,libl$i.so.1 -o "$W/d$i/libl$i.so.1" "$W/d$i/l$i.c"
	ln -s "libl$i.so.1" "$W/d$i/libl$i.so"
	llp=$llp${llp:+:}$W/d$i
done
{
	for i in $(seq 0 19); do echo "int f$i(void);"; done
	echo "int main(void) { int s = 0;"
	for i in $(seq 0 19); do echo "s += f$i();"; done
	echo "return s == 190 ? 0 : 1; }"
} > "$W/main.c"
gcc -w -o "$W/main" "$W/main.c" $(for i in $(seq 0 19); do echo "-L$W/d$i -ll$i"; done)
export LD_LIBRARY_PATH=$llp


$T "$COMPAT" trace -f jsonl -o "$W/before.jsonl" --cache "$W/cache" -- "$W/main"
rc=$?
t "--cache run: the program runs (exit 0)" test "$rc" = 0
read -r ok0 failed0 <<< "$(lib_opens "$W/before.jsonl")"
t "before: ld.so fails many library opens along LD_LIBRARY_PATH ($failed0 failed, $ok0 ok)" \
	test "$failed0" -ge 190
t "the stats file records them" grep -qx "library-opens-failed $failed0" "$W/cache/compat-trace.stats"
t "the cache holds a symlink per soname (libl7.so.1 -> its file)" \
	bash -c 'test "$(readlink -f "$1"/glibc-hwcaps/*/libl7.so.1 2> /dev/null || readlink -f "$1"/libl7.so.1)" = "$2"' \
	_ "$W/cache" "$W/d7/libl7.so.1"

t "and in the cache directory itself, for a CPU of a lower level" \
	test "$(readlink -f "$W/cache/libl7.so.1")" = "$W/d7/libl7.so.1"

$T "$COMPAT" trace --from-cache "$W/cache" -f jsonl -o "$W/after.jsonl" -- "$W/main" 2> "$W/err"
rc=$?
t "--from-cache run: the program runs (exit 0)" test "$rc" = 0
read -r ok1 failed1 <<< "$(lib_opens "$W/after.jsonl")"
t "after: no failed library opens ($failed1 failed, $ok1 ok)" test "$failed1" = 0 -a "$ok1" -ge 21
t "after: every successful library open is the audit object or a file the cache map names" \
	$PY -c '
import json, sys
cache = sys.argv[2]
mapped = {l.split(" ", 9)[9].rstrip("\n") for l in open(cache + "/compat-audit.map") if l[0].isdigit()}
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["syscall"].startswith("open") and ".so" in e["path"] and e["result"] >= 0:
        assert e["path"] in mapped or e["path"] == cache + "/compat-audit-x86_64.so", e["path"]
        n += 1
assert n >= 21, n' "$W/after.jsonl" "$(readlink -f "$W/cache")"
t "the summary line compares with the --cache run" \
	grep -qx "compat trace: library opens: $ok1 ok, 0 failed (was $failed0 failed)" "$W/err"
sed 's/^/# /' "$W/err"

# --loader-only sees the same library lookups as the full trace.
$T "$COMPAT" trace --loader-only -f jsonl -o "$W/lo.jsonl" -- "$W/main"
read -r ok2 failed2 <<< "$(lib_opens "$W/lo.jsonl")"
t "loader-only: the same library opens as the full trace ($ok2/$failed2 vs $ok0/$failed0)" \
	test "$ok2 $failed2" = "$ok0 $failed0"

# --copy: node-local staging, works with the originals gone.
$T "$COMPAT" trace -o /dev/null --cache "$W/copy" --copy -- "$W/main"
mv "$W/d3" "$W/d3.away"
$T "$COMPAT" trace --from-cache "$W/copy" -- "$W/main" 2> "$W/err"
rc=$?
t "--copy: the copies are regular files and the program runs without the originals (exit $rc)" \
	bash -c 'test "$1" = 0 && ! find "$2" -type l | grep -q . && grep -q " 0 failed" "$3"' _ "$rc" "$W/copy" "$W/err"
mv "$W/d3.away" "$W/d3"

expect_status 2 "--from-cache with a missing directory: exit 2" \
	"$COMPAT" trace --from-cache "$W/nope" -- "$W/main"
expect_status 2 "--copy without --cache: exit 2" "$COMPAT" trace --copy -- "$W/main"
