#!/usr/bin/env bash
# compat check: each finding of DESIGN §4 on fixtures built here, and for
# several of them the real loader's verdict on the same setup agrees.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
PEERS=$COMPAT_ROOT/tests/fixtures/prototype

# finding KIND SONAME: the JSON report holds that finding (not a warning).
has_finding() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if any(f["kind"] == sys.argv[2] and f["soname"] == sys.argv[3] and not f["warning"]
                  for f in r["findings"]) else 1)' "$TMP/report.json" "$1" "$2"
}
check_json() { "$COMPAT" check --json "$@" > "$TMP/report.json"; }
# The loader's own verdict: run the program with LD_BIND_NOW so a missing
# symbol fails at start, as a missing version or library does.
runs() { env -u LD_LIBRARY_PATH LD_BIND_NOW=1 "$@" > /dev/null 2> "$TMP/loader.err"; }

LD_LIBRARY_PATH="$FX/vboth" "$COMPAT" gen -o "$TMP/v.json" "$FX/exe_v"

check_json --library-path "$FX/vboth" "$TMP/v.json"; rc=$?
t "compatible when the library has FOO_2.0 and bar (exit 0)" test "$rc" = 0
runs env LD_LIBRARY_PATH="$FX/vboth" "$FX/exe_v"
t "... and the loader agrees: the program runs" test $? = 0

check_json --library-path "$FX/v1" "$TMP/v.json"; rc=$?
t "missing-version: host copy defines only FOO_1.0 (exit 1)" bash -c '[ "$1" = 1 ]' _ "$rc"
t "missing-version finding names libfxv.so.1" has_finding missing-version libfxv.so.1
t "missing-version detail names FOO_2.0" grep -q 'FOO_2.0' "$TMP/report.json"
runs env LD_LIBRARY_PATH="$FX/v1" "$FX/exe_v"
t "... and the loader agrees: version FOO_2.0 not found" grep -q "FOO_2.0' not found" "$TMP/loader.err"

check_json --library-path "$FX/nosym" "$TMP/v.json"; rc=$?
t "undefined-symbol: host copy lacks bar (exit 1)" test "$rc" = 1
t "undefined-symbol finding names libfxv.so.1" has_finding undefined-symbol libfxv.so.1
t "undefined-symbol names bar, with its version" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if any(f["kind"] == "undefined-symbol" and f["symbols"] == ["bar@FOO_2.0"] for f in r["findings"]) else 1)' "$TMP/report.json"
t "no missing-version finding for a library that has the version" bash -c '! grep -q missing-version "$1"' _ "$TMP/report.json"
runs env LD_LIBRARY_PATH="$FX/nosym" "$FX/exe_v"
t "... and the loader agrees: undefined symbol bar" grep -q 'undefined symbol: bar' "$TMP/loader.err"

check_json --library-path "$FX/empty" "$TMP/v.json"; rc=$?
t "missing-soname: no libfxv.so.1 on the host (exit 1)" test "$rc" = 1
t "missing-soname finding names libfxv.so.1" has_finding missing-soname libfxv.so.1
runs env LD_LIBRARY_PATH="$FX/empty" "$FX/exe_v"
t "... and the loader agrees: cannot open libfxv.so.1" grep -q 'libfxv.so.1: cannot open shared object file' "$TMP/loader.err"

# The order of the search, as ld.so's: the program's DT_RPATH before
# LD_LIBRARY_PATH (--library-path), its DT_RUNPATH after it; each labelled.
gcc -o "$TMP/exe_v_rpath" "$FX/src/main_v.c" -L"$FX/vboth" -l:libfxv.so.1 -Wl,--disable-new-dtags,-rpath,"$FX/vboth"
gcc -o "$TMP/exe_v_runpath" "$FX/src/main_v.c" -L"$FX/vboth" -l:libfxv.so.1 -Wl,--enable-new-dtags,-rpath,"$FX/vboth"
"$COMPAT" gen -o "$TMP/v_rpath.json" "$TMP/exe_v_rpath"
"$COMPAT" gen -o "$TMP/v_runpath.json" "$TMP/exe_v_runpath"
check_json --library-path "$FX/v1" "$TMP/v_rpath.json"; rc=$?
t "DT_RPATH comes before --library-path: the full copy is found first (exit $rc)" test "$rc" = 0
runs env LD_LIBRARY_PATH="$FX/v1" "$TMP/exe_v_rpath"
t "... and the loader agrees: it runs" test $? = 0
check_json --library-path "$FX/v1" "$TMP/v_runpath.json"; rc=$?
t "DT_RUNPATH comes after --library-path: the old copy is found first (exit $rc)" has_finding missing-version libfxv.so.1
runs env LD_LIBRARY_PATH="$FX/v1" "$TMP/exe_v_runpath"
t "... and the loader agrees: version FOO_2.0 not found" grep -q "FOO_2.0' not found" "$TMP/loader.err"
t "... the places searched are labelled as ld.so's steps" /usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["searched"]
sys.exit(0 if [x["why"] for x in s][:2] == ["[LD_LIBRARY_PATH]", "[runpath]"] and s[1]["dir"] == sys.argv[2] else 1)' "$TMP/report.json" "$FX/vboth"

# A linker script called like a library provides nothing.
mkdir -p "$TMP/script"; echo 'GROUP ( /lib/x86_64-linux-gnu/libc.so.6 )' > "$TMP/script/libfxv.so.1"
check_json --library-path "$TMP/script" "$TMP/v.json"
t "a linker script named libfxv.so.1 provides nothing" has_finding missing-soname libfxv.so.1

edit() { # in out key value: set an attribute
	/usr/bin/python3 -c '
import json, sys
a = json.load(open(sys.argv[1])); a["attributes"]["llnl.compatlib." + sys.argv[3]] = sys.argv[4]
json.dump(a, open(sys.argv[2], "w"))' "$@"
}
edit "$TMP/v.json" "$TMP/arm.json" elf.machine aarch64
check_json --library-path "$FX/vboth" "$TMP/arm.json"; rc=$?
t "wrong-arch: an aarch64 artifact on this x86_64 host (exit 1)" bash -c '[ "$1" = 1 ] && grep -q wrong-arch "$2"' _ "$rc" "$TMP/report.json"
edit "$TMP/v.json" "$TMP/musl.json" elf.interpreter /lib/ld-musl-x86_64.so.1
check_json --library-path "$FX/vboth" "$TMP/musl.json"; rc=$?
t "missing-interpreter: /lib/ld-musl-x86_64.so.1 (exit 1)" bash -c '[ "$1" = 1 ] && grep -q "missing-interpreter" "$2" && grep -q ld-musl "$2"' _ "$rc" "$TMP/report.json"

# ISA level: a program marked x86-64-v4 on a CPU whose AVX512F is masked the
# way glibc's loader masks it (GLIBC_TUNABLES), so the test runs on any CPU.
echo 'int main(void) { return 0; }' > "$TMP/isa.c"
if gcc -o "$TMP/isa4" "$TMP/isa.c" -Wl,-z,x86-64-v4 2>/dev/null; then
	"$COMPAT" gen -o "$TMP/isa4.json" "$TMP/isa4"
	t "gen records isa-level x86-64-v4 from the GNU property note" grep -q '"x86-64-v4"' "$TMP/isa4.json"
	GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F "$COMPAT" check --json "$TMP/isa4.json" > "$TMP/report.json"; rc=$?
	t "isa-level: x86-64-v4 needed, AVX512F masked (exit 1)" bash -c '[ "$1" = 1 ] && grep -q "isa-level" "$2"' _ "$rc" "$TMP/report.json"
	GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 "$COMPAT" check --json "$TMP/isa4.json" > "$TMP/report.json"
	t "isa-level: the detail names the level this CPU reaches" grep -q 'this CPU supports x86-64-v2' "$TMP/report.json"
else
	skip "isa-level: this linker cannot mark x86-64-v4 (-z x86-64-v4)"
fi

# No GNU property note (a shared object built from objects without one, as
# llama.cpp's AVX-512 builds of libggml-cpu): the ISA level is unknown, not
# x86-64-v1, and check says it did not check it.
"$COMPAT" gen -o "$TMP/nonote.json" "$FX/l/libfxl.so.1"
t "gen: no isa-level without a GNU property note" bash -c '! grep -q isa-level "$1"' _ "$TMP/nonote.json"
"$COMPAT" check "$TMP/nonote.json" > "$TMP/out"
t "check: 'ISA level not recorded: not checked'" grep -qx '  note: ISA level not recorded: not checked' "$TMP/out"

# Several findings at once: all reported, the root cause first, with the
# missing libraries it explains folded into it.
edit "$TMP/musl.json" "$TMP/two.json" needed.libfxnone.so.7 ""
check_json --library-path "$FX/v1" "$TMP/two.json"
t "every finding is reported; the root cause first, the missing library folded into it" /usr/bin/python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["findings"]
kinds = [x["kind"] for x in f]
sys.exit(0 if kinds[0] == "missing-interpreter" and "libfxnone.so.7" in f[0]["folded"]
         and "missing-version" in kinds and "missing-soname" not in kinds else 1)' "$TMP/report.json"

# The prototype's own artifacts.
expect_status 0 "the prototype's xz.json (0.0.1) is compatible here" "$COMPAT" check "$PEERS/xz.json"
check_json "$PEERS/missing.json"; rc=$?
t "the prototype's missing.json: missing-soname, exit 1" bash -c '[ "$1" = 1 ] && grep -q missing-soname "$2"' _ "$rc" "$TMP/report.json"
expect_status 2 "broken JSON: exit 2" "$COMPAT" check "$PEERS/bad.json"
t "broken JSON: one line naming the file and the line" bash -c '[ $(wc -l < "$1") = 1 ] && grep -qE "bad.json:[0-9]+:" "$1"' _ "$TMP/err"
echo '{"version": 1, "attributes": {}}' > "$TMP/badver.json"
expect_status 2 "version not a string: exit 2" "$COMPAT" check "$TMP/badver.json"
t "version not a string: the message says so" grep -q 'expected string for "version"' "$TMP/err"
echo '{"version":"0.1.0","attributes":{"x.other":"kept","llnl.compatlib.library-name.0":"libc.so.6"}}' > "$TMP/unknown.json"
expect_status 0 "unknown attributes are ignored" "$COMPAT" check "$TMP/unknown.json"
expect_status 0 "artifact on stdin" bash -c '"$1" check - < "$2"' _ "$COMPAT" "$PEERS/xz.json"

# An i386 program on this x86_64 host is judged against the 32-bit loader.
if [ "$HAVE_M32" = 1 ] && [ -e /lib/ld-linux.so.2 ]; then
	gcc -m32 -o "$TMP/hello32" "$TMP/isa.c"
	"$COMPAT" gen -o "$TMP/hello32.json" "$TMP/hello32"
	t "an i386 artifact says ELF32 i386" grep -q '"i386"' "$TMP/hello32.json"
	expect_status 0 "an i386 program is compatible where 32-bit glibc is installed" "$COMPAT" check "$TMP/hello32.json"
	t "... and it runs" "$TMP/hello32"
	"$COMPAT" check --json "$TMP/hello32.json" > "$TMP/report.json"
	t "... resolved against 32-bit libraries" grep -q 'lib32/libc.so.6' "$TMP/report.json"
else
	skip "i386: gcc -m32 or /lib/ld-linux.so.2 missing (install gcc-multilib)"
fi

# --exec: the container entrypoint.
out=$("$COMPAT" check --exec -- /usr/bin/xz --version)
t "--exec without artifact describes and runs the command" grep -q 'XZ Utils' <<< "$out"
"$BIN/compat-check" --exec "$PEERS/xz.json" -- /bin/sh -c 'echo $$' > "$TMP/pid" & pid=$!
wait $pid; rc=$?
t "--exec replaces itself (execve, no extra process)" bash -c '[ "$1" = 0 ] && [ "$(cat "$2")" = "$3" ]' _ "$rc" "$TMP/pid" "$pid"
expect_status 7 "--exec passes the command's exit status" "$COMPAT" check --exec -- /bin/sh -c 'exit 7'
"$COMPAT" check --exec "$PEERS/missing.json" -- /bin/echo SHOULD-NOT-RUN > "$TMP/out" 2> "$TMP/err"; rc=$?
t "--exec on an incompatible artifact exits 1 and does not run the command" \
	bash -c '[ "$1" = 1 ] && ! grep -q SHOULD-NOT-RUN "$2" && grep -q "libcompat-fixture-absent.so.9" "$3"' _ "$rc" "$TMP/out" "$TMP/err"
expect_status 2 "--exec without a command is a usage error" "$COMPAT" check --exec
