#!/usr/bin/env bash
# The loader cache with its LD_AUDIT object (docs/trace.md): after
# compat trace --cache DIR, the program loads every library at the first
# try, whether it finds them through DT_RPATH, DT_RUNPATH or
# LD_LIBRARY_PATH, for i386 too, dlopen by soname included; a changed
# library falls back to the normal search with one line; a broken map never
# breaks the program; the cache directory cannot be used to write outside
# it, and a cache that others can change is refused.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
T="timeout 60"

need_ptrace "audit cache"

W=$TMP/w
mkdir -p "$W"
N=12

# Every successful library open is the audit object or a file the map
# names; prints how many, fails otherwise.
opens_from_map() { $PY - "$1" "$2" <<'PY'
import json, re, sys
trace, cache = sys.argv[1], sys.argv[2]
mapped = {l.split(" ", 9)[9].rstrip("\n") for l in open(cache + "/compat-audit.map") if l[0].isdigit()}
n = 0
for l in open(trace):
    e = json.loads(l)
    if e["syscall"].startswith("open") and re.search(r"[^/]\.so(\.[0-9][^/]*)?$", e["path"]) and e["result"] >= 0:
        if e["path"] not in mapped and not re.match(re.escape(cache) + r"/compat-audit-\w+\.so$", e["path"]):
            sys.exit("not from the map: " + e["path"])
        n += 1
print(n)
PY
}

# make_libs DIR CC-FLAGS: libraries l0..l(N-1), each in its own directory
# DIR/dI; every third depends on the one before (found through its own
# DT_RUNPATH $ORIGIN/../dJ, so that each program kind resolves them).
make_libs() {
	local d=$1 i; shift
	for i in $(seq 0 $((N - 1))); do
		mkdir -p "$d/d$i" "$d/e$i"
		if [ $((i % 3)) = 2 ]; then
			echo "int f$((i - 1))(void); int f$i(void) { return $i + f$((i - 1))() - $((i - 1)); }" > "$d/d$i/l$i.c"
			gcc -w "$@" -shared -fPIC -Wl,-soname,libl$i.so.1 -o "$d/d$i/libl$i.so.1" "$d/d$i/l$i.c" \
				-L"$d/d$((i - 1))" -l:libl$((i - 1)).so.1 -Wl,--enable-new-dtags -Wl,-rpath,'$ORIGIN'/../d$((i - 1)) || return 1
		else
			echo "int f$i(void) { return $i; }" > "$d/d$i/l$i.c"
			gcc -w "$@" -shared -fPIC -Wl,-soname,libl$i.so.1 -o "$d/d$i/libl$i.so.1" "$d/d$i/l$i.c" || return 1
		fi
	done
	{
		for i in $(seq 0 $((N - 1))); do echo "int f$i(void);"; done
		echo "int main(void) { int s = 0;"
		for i in $(seq 0 $((N - 1))); do echo "s += f$i();"; done
		echo "return s == $((N * (N - 1) / 2)) ? 0 : 1; }"
	} > "$d/main.c"
}

# The search path: an empty directory before each library's own.
search_path() {
	local d=$1 i p=
	for i in $(seq 0 $((N - 1))); do p=$p${p:+:}$d/e$i:$d/d$i; done
	echo "$p"
}

link_args() {
	local d=$1 i
	for i in $(seq 0 $((N - 1))); do echo "-L$d/d$i -l:libl$i.so.1"; done
}

make_libs "$W/x" || { nok "audit cache: building the fixture libraries"; exit 0; }
SP=$(search_path "$W/x")
gcc -w -o "$W/rpath" "$W/x/main.c" $(link_args "$W/x") -Wl,--disable-new-dtags -Wl,-rpath,"$SP"
gcc -w -o "$W/runpath" "$W/x/main.c" $(link_args "$W/x") -Wl,--enable-new-dtags -Wl,-rpath,"$SP"
gcc -w -o "$W/llp" "$W/x/main.c" $(link_args "$W/x")
t "fixtures: DT_RPATH, DT_RUNPATH and plain programs" \
	bash -c 'readelf -d "$1" | grep -q "(RPATH)" && readelf -d "$2" | grep -q "(RUNPATH)" &&
		! readelf -d "$3" | grep -q "PATH)"' _ "$W/rpath" "$W/runpath" "$W/llp"

# cached KIND PROGRAM [env...]: --cache run, then --from-cache run, both
# counted from compat trace's own jsonl trace.
cached() {
	local kind=$1 prog=$2; shift 2
	local c=$W/cache-$kind
	env "$@" $T "$COMPAT" trace -f jsonl -o "$W/$kind-before.jsonl" --cache "$c" -- "$prog"
	local rc1=$?
	read -r ok0 failed0 <<< "$(lib_opens "$W/$kind-before.jsonl")"
	env "$@" $T "$COMPAT" trace --from-cache "$c" -f jsonl -o "$W/$kind-after.jsonl" -- "$prog" 2> "$W/$kind-err"
	local rc2=$?
	read -r ok1 failed1 <<< "$(lib_opens "$W/$kind-after.jsonl")"
	t "$kind: both runs exit 0 ($rc1, $rc2)" test "$rc1 $rc2" = "0 0"
	t "$kind: without the cache ld.so fails library opens ($failed0 failed, $ok0 ok)" test "$failed0" -ge "$N"
	t "$kind: with the cache, 0 failed library opens ($failed1 failed, $ok1 ok)" \
		test "$failed1" = 0 -a "$ok1" -gt "$N"
	local from
	from=$(opens_from_map "$W/$kind-after.jsonl" "$(readlink -f "$c")" 2>&1)
	t "$kind: every library comes from the cache map, through the audit object ($from)" \
		test "${from:-0}" -gt "$N"
	t "$kind: no look at /etc/ld.so.cache" bash -c '! grep -q "\"/etc/ld.so.cache\"" "$1"' _ "$W/$kind-after.jsonl"
	t "$kind: the report compares with the --cache run" \
		grep -q "^compat trace: library opens: $ok1 ok, 0 failed (was $failed0 failed)$" "$W/$kind-err"
	t "$kind: and the time to reach the entry point" \
		grep -q "^compat trace: start: entry point reached after [0-9.]* ms (was: entry point reached after [0-9.]* ms)$" \
		"$W/$kind-err"
}

cached rpath "$W/rpath"
cached runpath "$W/runpath"
cached llp "$W/llp" LD_LIBRARY_PATH="$SP"
sed 's/^/# /' "$W/rpath-err"

# The production launcher: no tracer in the program, traced from outside.
$T "$COMPAT" trace -f jsonl -o "$W/exec.jsonl" -- "$COMPAT" check --exec --cache "$W/cache-rpath" -- "$W/rpath" \
	2> "$W/exec-err"
rc=$?
# the program's own opens: those of its pid after compat exec'd it
$PY - "$W/exec.jsonl" "$W/rpath" > "$W/exec-prog.jsonl" <<'PY'
import json, sys
pid = None
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["syscall"] == "execve" and e["path"] == sys.argv[2] and e["result"] == 0:
        pid = e["pid"]
    elif pid is not None and e["pid"] == pid:
        print(l, end="")
PY
read -r ok2 failed2 <<< "$(lib_opens "$W/exec-prog.jsonl")"
t "check --exec --cache: the program runs (exit $rc) with 0 failed library opens ($failed2 failed, $ok2 ok)" \
	test "$rc $failed2" = "0 0" -a "$ok2" -gt "$N"
t "check --exec --cache: it loads the audit object, and its libraries from the map" \
	bash -c 'grep -q "/compat-audit-x86_64.so\",\"result\":[0-9]" "$1" &&
		grep -q "\"$2/x/d5/libl5.so.1\",\"result\":[0-9]" "$1"' _ "$W/exec-prog.jsonl" "$W"
# The launcher itself searches nothing when the cache covers the program as
# it is now (every library an unchanged recorded file): no failed opens
# before the exec either, and nothing said.
$PY - "$W/exec.jsonl" "$W/rpath" > "$W/exec-launcher.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["syscall"] == "execve" and e["path"] == sys.argv[2] and e["result"] == 0:
        break
    print(l, end="")
PY
read -r okl failedl <<< "$(lib_opens "$W/exec-launcher.jsonl")"
t "check --exec --cache: the launcher searches nothing for a covered program ($failedl failed library opens)" \
	test "$failedl" = 0
t "... and says nothing" test ! -s "$W/exec-err"
# A library changed since the cache: the launcher says so, judges the
# program, and still runs it (the audit object falls back for that file).
: > "$W/l3.stamp" && touch -r "$W/x/d3/libl3.so.1" "$W/l3.stamp"	# its times, to put back
touch -d '2001-01-01' "$W/x/d3/libl3.so.1"
"$COMPAT" check --exec --cache "$W/cache-rpath" -- "$W/rpath" > /dev/null 2> "$W/exec-changed-err"; rc=$?
t "check --exec --cache, a library changed: judged, then run (exit $rc)" \
	bash -c '[ "$1" = 0 ] && grep -q "does not cover .*libl3.so.1 changed since the cache was made): judging it" "$2"' \
	_ "$rc" "$W/exec-changed-err"
touch -r "$W/l3.stamp" "$W/x/d3/libl3.so.1"	# the same file again, as recorded

# i386, where this machine can build and run it.
if gcc -m32 -o "$W/m32probe" -x c - <<< 'int main(void) { return 0; }' 2> /dev/null && "$W/m32probe"; then
	make_libs "$W/y" -m32 || nok "i386: building the fixture libraries"
	SP32=$(search_path "$W/y")
	gcc -w -m32 -o "$W/rpath32" "$W/y/main.c" $(link_args "$W/y") -Wl,--disable-new-dtags -Wl,-rpath,"$SP32"
	cached i386 "$W/rpath32"
	t "i386: the cache holds the i386 audit object, not the x86-64 one" \
		bash -c 'test -s "$1/compat-audit-i386.so" && ! test -e "$1/compat-audit-x86_64.so"' _ "$W/cache-i386"
else
	skip "i386: gcc -m32 cannot build or run an i386 program here (gcc-multilib, libc6-dev-i386)"
fi

# dlopen by soname, from a directory of the program's DT_RPATH.
mkdir -p "$W/p/empty" "$W/p/plug"
echo 'int plug(void) { return 42; }' > "$W/p/plug/p.c"
gcc -w -shared -fPIC -Wl,-soname,libplug.so.1 -o "$W/p/plug/libplug.so.1" "$W/p/plug/p.c"
cat > "$W/p/main.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
int main(void)
{
	void *h = dlopen("libplug.so.1", RTLD_NOW);
	int (*f)(void) = h ? (int (*)(void))dlsym(h, "plug") : 0;
	if (!f) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
	return f() == 42 ? 0 : 1;
}
C
gcc -w -o "$W/dl" "$W/p/main.c" -ldl -Wl,--disable-new-dtags -Wl,-rpath,"$W/p/empty:$W/p/empty2:$W/p/plug"
N=1 cached dlopen "$W/dl"
t "dlopen: the plugin is in the map under its soname" grep -q " libplug.so.1 $W/p/plug/libplug.so.1$" \
	"$W/cache-dlopen/compat-audit.map"

# The map names each library by the path ld.so opened (here through a
# symlinked directory), not its real path: the library's $ORIGIN and the
# names dladdr and dl_iterate_phdr report stay as without the cache.
O=$W/o
mkdir -p "$O/store/lib-a" "$O/app"
ln -s ../store/lib-a "$O/app/lib"
echo 'int a(void) { return 7; }' > "$O/a.c"
gcc -w -shared -fPIC -Wl,-soname,liba.so.1 -o "$O/store/lib-a/liba.so.1" "$O/a.c"
cat > "$O/main.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
int a(void);
int main(void)
{
	Dl_info i;
	if (!dladdr((void *)a, &i))
		return 1;
	printf("%s\n", i.dli_fname);
	return a() == 7 ? 0 : 1;
}
C
gcc -w -o "$O/main" "$O/main.c" -L"$O/app/lib" -l:liba.so.1 -ldl -Wl,--disable-new-dtags -Wl,-rpath,"$O/app/lib"
"$O/main" > "$O/plain.out"
$T "$COMPAT" trace -o /dev/null --cache "$O/cache" -- "$O/main" > /dev/null
$T "$COMPAT" trace --from-cache "$O/cache" -o /dev/null -- "$O/main" > "$O/cached.out" 2> /dev/null
t "a library reached through a symlinked directory keeps the name ld.so gave it ($(cat "$O/cached.out"))" \
	bash -c 'test "$(cat "$1")" = "$2/app/lib/liba.so.1" && cmp -s "$1" "$3"' _ "$O/cached.out" "$O" "$O/plain.out"

# A glibc-hwcaps variant suits the CPU it was chosen on only: never pinned.
G=$W/g
mkdir -p "$G/lib/glibc-hwcaps/x86-64-v2"
echo 'int hw(void) { return 1; }' > "$G/hw.c"
gcc -w -shared -fPIC -Wl,-soname,libhw.so.1 -o "$G/lib/libhw.so.1" "$G/hw.c"
cp "$G/lib/libhw.so.1" "$G/lib/glibc-hwcaps/x86-64-v2/"
echo 'int hw(void); int main(void) { return hw() == 1 ? 0 : 1; }' > "$G/main.c"
gcc -w -o "$G/main" "$G/main.c" -L"$G/lib" -l:libhw.so.1 -Wl,--disable-new-dtags -Wl,-rpath,"$G/lib"
$T "$COMPAT" trace -f jsonl -o "$G/t.jsonl" --cache "$G/cache" -- "$G/main"
t "the map never names a glibc-hwcaps file" bash -c '! grep -q /glibc-hwcaps/ "$1"' _ "$G/cache/compat-audit.map"
if grep -q "\"$G/lib/glibc-hwcaps/x86-64-v2/libhw.so.1\",\"result\":[0-9]" "$G/t.jsonl"; then
	t "a library ld.so took from glibc-hwcaps/x86-64-v2 is left to the normal search" \
		bash -c '! grep -q " libhw.so.1 " "$1" && "$2" trace --from-cache "$3" -o /dev/null -- "$4" 2> /dev/null' \
		_ "$G/cache/compat-audit.map" "$COMPAT" "$G/cache" "$G/main"
else
	skip "glibc-hwcaps variant: this CPU is below x86-64-v2, ld.so took the plain library"
fi

expect_status 2 "a cache directory with ':' in its path is refused (LD_AUDIT is a ':' list)" \
	bash -c 'cp -a "$1" "$2" && "$3" trace --from-cache "$2" -- "$4"' _ "$O/cache" "$W/co:lon" "$COMPAT" "$O/main"

# A library that changed since the cache was made: the normal search, one line.
cp "$W/x/d4/libl4.so.1" "$W/l4.save"
touch -d '2001-01-01' "$W/x/d4/libl4.so.1"
$T "$COMPAT" trace --from-cache "$W/cache-rpath" -f jsonl -o "$W/changed.jsonl" -- "$W/rpath" 2> "$W/changed-err"
rc=$?
t "changed library (mtime): the program still runs (exit $rc)" test "$rc" = 0
t "changed library: exactly one line says so, naming the file and the name searched" \
	test "$(grep -c '^compat-audit: ' "$W/changed-err")" = 1 -a \
	"$(grep -c "^compat-audit: $W/x/d4/libl4.so.1 was modified (mtime) since the cache was made; libl4.so.1 is searched as usual$" "$W/changed-err")" = 1
t "changed library: it is found by the normal search (failed opens only for it)" \
	$PY -c '
import json, sys
fails = [e["path"] for e in map(json.loads, open(sys.argv[1])) if e["syscall"].startswith("open") and e["result"] < 0]
assert fails and all(p.endswith("/libl4.so.1") for p in fails), fails' "$W/changed.jsonl"
sed 's/^/# /' "$W/changed-err" | grep compat-audit
cp "$W/l4.save" "$W/x/d4/libl4.so.1.new" && mv "$W/x/d4/libl4.so.1.new" "$W/x/d4/libl4.so.1"
$T "$COMPAT" trace --from-cache "$W/cache-rpath" -o /dev/null -- "$W/rpath" 2> "$W/changed-err"
rc=$?
t "replaced library (another inode): runs (exit $rc), one line" \
	test "$rc $(grep -c "^compat-audit: $W/x/d4/libl4.so.1 is another file (device or inode) since the cache was made; libl4.so.1 is searched as usual$" "$W/changed-err")" = "0 1"

# The cache made again, for what follows.
$T "$COMPAT" trace -o /dev/null --cache "$W/cache-rpath" -- "$W/rpath"

# The audit object never breaks the program, whatever its map holds (set
# by hand here: --from-cache refuses a bad map before it runs anything).
B=$W/broken
mkdir -p "$B"
cp "$W/cache-llp/compat-audit-x86_64.so" "$B/"
good=$W/cache-llp/compat-audit.map
broken_case() {
	local name=$1 want=$2
	$T env LD_AUDIT="$B/compat-audit-x86_64.so" LD_LIBRARY_PATH="$SP" "$W/llp" 2> "$W/broken-err"
	local rc=$?
	t "broken map ($name): the program runs (exit $rc) and one line says why" \
		test "$rc $(grep -c "^compat-audit: $B/compat-audit.map: $want; libraries are searched as usual$" "$W/broken-err")" = "0 1"
}
broken_case "missing" "missing"
{ head -1 "$good"; sed -n 2p "$good" | head -c 30; } > "$B/compat-audit.map"
broken_case "truncated line" "malformed at line 2"
{ head -1 "$good"; sed -n 3p "$good"; sed -n 2p "$good"; } > "$B/compat-audit.map"
broken_case "out of order" "malformed at line 3"
sed '2s/ [0-9]* / 99999999999999999999999 /' "$good" > "$B/compat-audit.map"
broken_case "number overflow" "malformed at line 2"
sed '2s| /| relative/|' "$good" > "$B/compat-audit.map"
broken_case "relative path" "malformed at line 2"
head -c 5000 /dev/urandom > "$B/compat-audit.map"
broken_case "random bytes" "malformed at line 1"
{ cat "$good"; head -c 1100000 /dev/zero | tr '\0' '#'; } > "$B/compat-audit.map"
broken_case "larger than 1 MiB" "larger than the limit of bytes 1048576"
cp "$good" "$B/compat-audit.map"
chmod 666 "$B/compat-audit.map"
broken_case "world-writable" "writable by others (group or other write bit, or another user's file)"
chmod 644 "$B/compat-audit.map"
ln -sf "$good" "$B/compat-audit.map"
broken_case "a symlink" "cannot be opened, errno 40"

# Hardening: trace --cache never writes outside DIR.
H=$W/h
mkdir -p "$H/outside" "$H/cache"
echo precious > "$H/outside/stats"
echo precious > "$H/outside/map"
echo precious > "$H/outside/lib"
ln -s "$H/outside/stats" "$H/cache/compat-trace.stats"
ln -s "$H/outside/map" "$H/cache/compat-audit.map"
ln -s "$H/outside/lib" "$H/cache/libl0.so.1"
$T "$COMPAT" trace -o /dev/null --cache "$H/cache" --copy -- "$W/rpath" 2> "$W/h-err"
rc=$?
t "--cache over planted symlinks: succeeds (exit $rc)" test "$rc" = 0
t "--cache over planted symlinks: nothing outside DIR changed" \
	test "$(cat "$H/outside/stats" "$H/outside/map" "$H/outside/lib")" = "precious
precious
precious"
t "--cache over planted symlinks: they were replaced by the cache's own files" \
	bash -c 'test -f "$1/compat-trace.stats" -a ! -L "$1/compat-trace.stats" -a ! -L "$1/compat-audit.map" -a ! -L "$1/libl0.so.1"' \
	_ "$H/cache"
t "--cache over planted symlinks: the cache works" \
	bash -c '"$1" trace --from-cache "$2" -o /dev/null -- "$3" 2>&1 | grep -q " 0 failed"' \
	_ "$COMPAT" "$H/cache" "$W/rpath"
ln -s "$H/outside" "$H/link"
expect_status 2 "--cache DIR where DIR is a symlink: refused (exit 2)" \
	"$COMPAT" trace -o /dev/null --cache "$H/link" -- "$W/rpath"
t "  with a message saying so" grep -q "is a symlink or not a directory: refusing" "$TMP/err"
t "  and nothing written through it" test "$(ls "$H/outside" | wc -l)" = 3
if [ -d "$W/cache-llp/glibc-hwcaps" ]; then
	mkdir -p "$H/c2"
	ln -s "$H/outside" "$H/c2/glibc-hwcaps"
	expect_status 2 "--cache DIR whose glibc-hwcaps is a symlink: refused (exit 2)" \
		"$COMPAT" trace -o /dev/null --cache "$H/c2" -- "$W/rpath"
	t "  and nothing written through it" test "$(ls "$H/outside" | wc -l)" = 3
else
	skip "--cache DIR whose glibc-hwcaps is a symlink: this CPU is x86-64-v1, the cache has no glibc-hwcaps"
fi

# --from-cache and check --exec --cache refuse a cache others can change.
R=$W/r
cp -a "$W/cache-rpath" "$R"
unsafe() {
	local what=$1 want=$2
	expect_status 2 "--from-cache, $what: refused (exit 2)" "$COMPAT" trace --from-cache "$R" -- "$W/rpath"
	t "  saying $want" grep -q -- "$want" "$TMP/err"
	rm -f "$W/ran"
	expect_status 2 "check --exec --cache, $what: refused (exit 2)" \
		"$COMPAT" check --exec --cache "$R" -- sh -c "touch $W/ran"
	t "  saying $want, and the command did not run" \
		bash -c 'grep -q -- "$1" "$2" && test ! -e "$3"' _ "$want" "$TMP/err" "$W/ran"
}
chmod g+w "$R"
unsafe "DIR group-writable" "writable by group or others (mode 775)"
chmod g-w "$R"
chmod o+w "$R/compat-audit.map"
unsafe "map world-writable" "compat-audit.map: writable by group or others"
chmod o-w "$R/compat-audit.map"
chmod g+w "$R/compat-audit-x86_64.so"
unsafe "audit object group-writable" "compat-audit-x86_64.so: writable by group or others"
chmod g-w "$R/compat-audit-x86_64.so"
mv "$R/compat-audit.map" "$R/real.map"
ln -s real.map "$R/compat-audit.map"
unsafe "map a symlink" "compat-audit.map: not a regular file"
rm "$R/compat-audit.map"
mv "$R/real.map" "$R/compat-audit.map"
if [ "$(id -u)" = 0 ]; then
	chown 65534 "$R/compat-audit-x86_64.so"
	unsafe "audit object owned by another user" "owned by uid 65534"
	chown 0 "$R/compat-audit-x86_64.so"
	mkdir -p "$H/theirs"
	chown 65534 "$H/theirs"
	expect_status 2 "--cache DIR owned by another user: refused (exit 2)" \
		"$COMPAT" trace -o /dev/null --cache "$H/theirs" -- "$W/rpath"
	t "  saying so, with nothing written" \
		bash -c 'grep -q "owned by uid 65534, not by this user" "$1" && test -z "$(ls -A "$2")"' _ "$TMP/err" "$H/theirs"
else
	skip "caches owned by another user: needs root to chown the fixtures"
fi
$T "$COMPAT" trace --from-cache "$R" -o /dev/null -- "$W/rpath" 2> "$W/r-err"
t "the same cache, made safe again, is used (exit $?)" grep -q " 0 failed" "$W/r-err"
expect_status 2 "--from-cache with a malformed map: refused with its line" \
	bash -c 'cp -a "$1" "$2" && sed -i "2s/^2 62 /2 62 x /" "$2/compat-audit.map" && "$3" trace --from-cache "$2" -- "$4"' \
	_ "$R" "$W/bad" "$COMPAT" "$W/rpath"
t "  naming the file and line" grep -q "compat-audit.map:2: malformed cache map" "$TMP/err"

# Set-id programs: ld.so ignores LD_AUDIT for them; compat says so.
cp "$W/rpath" "$W/rpath-suid"
chmod u+s "$W/rpath-suid"
$T "$COMPAT" trace --from-cache "$W/cache-rpath" -o /dev/null -- "$W/rpath-suid" 2> "$W/suid-err"
t "set-user-ID program: --from-cache says LD_AUDIT does not apply outside the tracer" \
	grep -q "is set-user-ID or set-group-ID: .*ld.so ignores LD_AUDIT" "$W/suid-err"
$T "$COMPAT" check --exec --cache "$W/cache-rpath" -- "$W/rpath-suid" 2> "$W/suid-err"
t "set-user-ID program: check --exec --cache says so too (and runs it: exit $?)" \
	grep -q "is set-user-ID or set-group-ID: ld.so ignores LD_AUDIT" "$W/suid-err"
