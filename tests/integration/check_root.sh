#!/usr/bin/env bash
# check --root DIR judges the tree at DIR with its own loaders and
# libraries, and reads nothing outside it:
#  - a Debian 11 style tree, whose lib64/ld-linux-x86-64.so.2 is an absolute
#    symlink (to /lib/x86_64-linux-gnu/ld-2.31.so): its loader, not the host's;
#  - a tree holding only a symlink to the host's libz: it has no libz;
#  - an aarch64 tree (its loaders are aarch64): an aarch64 host, where an
#    x86_64 program is the wrong architecture.
# The aarch64 files are x86_64 ones with e_machine patched: only their
# headers, dynamic sections and symbol tables are read, never run.
. "$(dirname "$0")/lib.sh"
json_has() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"
}
patch_machine() { printf '\267\000' | dd of="$1" bs=1 seek=18 conv=notrunc status=none; }  # EM_AARCH64

HOSTLIBC=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)
HOSTLD=$(readlink -f /lib64/ld-linux-x86-64.so.2)
cat > "$TMP/hello.c" <<'C'
#include <stdio.h>
int main(void) { puts("hello"); return 0; }
C
build_c "$TMP/hello" "$TMP/hello.c"
"$COMPAT" gen -o "$TMP/hello.json" "$TMP/hello"

# Debian 11 style: the loader reached through an absolute symlink.
R=$TMP/deb11
mkdir -p "$R/lib64" "$R/lib/x86_64-linux-gnu" "$R/etc"
cp "$HOSTLD" "$R/lib/x86_64-linux-gnu/ld-2.31.so"
ln -s /lib/x86_64-linux-gnu/ld-2.31.so "$R/lib64/ld-linux-x86-64.so.2"
cp "$HOSTLIBC" "$R/lib/x86_64-linux-gnu/libc-2.31.so"
ln -s libc-2.31.so "$R/lib/x86_64-linux-gnu/libc.so.6"
: > "$R/etc/ld.so.conf"
/sbin/ldconfig -r "$R" -X
[ -e /lib/x86_64-linux-gnu/ld-2.31.so ] && skip "this host has /lib/x86_64-linux-gnu/ld-2.31.so: the escape test would pass by accident"
"$COMPAT" check --json --root "$R" "$TMP/hello.json" > "$TMP/r.json"; rc=$?
t "--root: a loader behind an absolute symlink inside the tree is found there (exit $rc)" json_has "$TMP/r.json" \
	'r["compatible"] and r["resolved"]["libc.so.6"] == "/lib/x86_64-linux-gnu/libc.so.6"'
"$COMPAT" check --root "$TMP/deb11/../deb11" "$TMP/hello.json" > /dev/null
t "--root given with '..' is the same tree (exit $?)" test $? = 0
(cd "$TMP" && "$COMPAT" check --root deb11 hello.json > /dev/null)
t "--root given as a relative path is the same tree (exit $?)" test $? = 0

# A tree whose only libz is a symlink to the host's.
Z=$TMP/zonly
mkdir -p "$Z/lib/x86_64-linux-gnu" "$Z/lib64"
cp -a "$R/lib/x86_64-linux-gnu/." "$Z/lib/x86_64-linux-gnu/"
cp -a "$R/lib64/." "$Z/lib64/"
ln -s "$(readlink -f /lib/x86_64-linux-gnu/libz.so.1)" "$Z/lib/x86_64-linux-gnu/libz.so.1"
cat > "$TMP/z.json" <<'J'
{"version": "0.1.0", "attributes": {"llnl.compatlib.elf.class": "ELF64", "llnl.compatlib.elf.machine": "x86_64",
 "llnl.compatlib.elf.interpreter": "/lib64/ld-linux-x86-64.so.2", "llnl.compatlib.needed.libz.so.1": "ZLIB_1.2.0"}}
J
expect_status 0 "the host itself has libz.so.1" "$COMPAT" check "$TMP/z.json"
"$COMPAT" check --json --root "$Z" "$TMP/z.json" > "$TMP/r.json"; rc=$?
t "--root: a symlink to the host's libz provides nothing in the tree (exit $rc)" json_has "$TMP/r.json" \
	'not r["compatible"] and [f["soname"] for f in r["findings"] if f["kind"] == "missing-soname"] == ["libz.so.1"]'

# An aarch64 tree.
A=$TMP/arm64
mkdir -p "$A/lib/aarch64-linux-gnu"
cp "$HOSTLD" "$A/lib/ld-linux-aarch64.so.1" && patch_machine "$A/lib/ld-linux-aarch64.so.1"
cp "$HOSTLIBC" "$A/lib/aarch64-linux-gnu/libc.so.6" && patch_machine "$A/lib/aarch64-linux-gnu/libc.so.6"
cat > "$TMP/arm.json" <<'J'
{"version": "0.1.0", "attributes": {"llnl.compatlib.elf.class": "ELF64", "llnl.compatlib.elf.machine": "aarch64",
 "llnl.compatlib.elf.interpreter": "/lib/ld-linux-aarch64.so.1", "llnl.compatlib.needed.libc.so.6": "GLIBC_2.17",
 "llnl.compatlib.symbols.libc.so.6": "puts@GLIBC_2.2.5 printf"}}
J
"$COMPAT" check --json --root "$A" "$TMP/arm.json" > "$TMP/r.json"; rc=$?
t "--root of an aarch64 tree: an aarch64 program is judged there, compatible (exit $rc)" json_has "$TMP/r.json" \
	'r["compatible"] and r["resolved"]["libc.so.6"] == "/lib/aarch64-linux-gnu/libc.so.6" and not r["findings"]'
"$COMPAT" check --json --root "$A" "$TMP/hello.json" > "$TMP/r.json"; rc=$?
t "--root of an aarch64 tree: an x86_64 program is the wrong architecture (exit $rc)" json_has "$TMP/r.json" \
	'[f["kind"] for f in r["findings"]] == ["wrong-arch"] and "(aarch64)" in r["findings"][0]["detail"] and r["findings"][0]["folded"] == ["libc.so.6"]'
expect_status 1 "... and on this x86_64 host, the aarch64 program is" "$COMPAT" check "$TMP/arm.json"
