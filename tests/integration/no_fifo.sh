#!/usr/bin/env bash
# A FIFO (or device) where a file is expected is never opened for reading:
# gen FIFO, a FIFO named libc.so.6 in gen's or check's library path or in
# an artifact's RUNPATH, all answer at once with a clear error or finding,
# and never hang (each run is bounded here: exit 124 would be a hang).
. "$(dirname "$0")/lib.sh"
T="timeout 20"
mkdir -p "$TMP/fifodir" "$TMP/devdir"
mkfifo "$TMP/fifo" "$TMP/fifodir/libc.so.6"
ln -s /dev/zero "$TMP/devdir/libc.so.6"

$T "$COMPAT" gen "$TMP/fifo" > /dev/null 2> "$TMP/err"; rc=$?
t "gen FIFO: exit 2, not a hang (exit $rc)" test "$rc" = 2
t "gen FIFO: one line saying it is not a regular file" \
	bash -c '[ $(wc -l < "$1") = 1 ] && grep -q "fifo: not a regular file" "$1"' _ "$TMP/err"

$T "$COMPAT" gen --list --library-path "$TMP/fifodir" /bin/true > "$TMP/out" 2>&1; rc=$?
t "gen --list with a FIFO named libc.so.6 on the library path: answers (exit $rc)" test "$rc" = 1
t "... libc.so.6 is not found there" grep -q "libc.so.6 => not found" "$TMP/out"
$T "$COMPAT" gen --tree --library-path "$TMP/fifodir" /bin/true > "$TMP/out" 2>&1
t "... and --tree says why" grep -q "fifodir/libc.so.6: not a regular file" "$TMP/out"
$T "$COMPAT" gen --library-path "$TMP/fifodir" -o "$TMP/true.json" /bin/true 2> /dev/null; rc=$?
t "gen (artifact) with that library path: done (exit $rc)" test "$rc" = 0
$T "$COMPAT" gen --list --library-path "$TMP/devdir" /bin/true > "$TMP/out" 2>&1; rc=$?
t "a device named libc.so.6: not opened either (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q "libc.so.6 => not found" "$2"' _ "$rc" "$TMP/out"

"$COMPAT" gen -o "$TMP/true.json" /bin/true
$T "$COMPAT" check --json --library-path "$TMP/fifodir" "$TMP/true.json" > "$TMP/r.json"; rc=$?
t "check --library-path with a FIFO named libc.so.6: answers (exit $rc)" test "$rc" = 1
t "... with a missing-soname that says where the search stopped" grep -q 'fifodir/libc.so.6, which is not a loadable ELF file' "$TMP/r.json"
/usr/bin/python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
a["attributes"]["llnl.compatlib.runpath"] = sys.argv[3]
json.dump(a, open(sys.argv[2], "w"))' "$TMP/true.json" "$TMP/runpath.json" "$TMP/fifodir"
$T "$COMPAT" check "$TMP/runpath.json" > "$TMP/out" 2>&1; rc=$?
t "an artifact whose RUNPATH holds the FIFO: answers (exit $rc)" test "$rc" = 1
$T "$COMPAT" check --exec "$TMP/runpath.json" -- /bin/true > /dev/null 2>&1; rc=$?
t "check --exec with it: refuses to run, not a hang (exit $rc)" test "$rc" = 1
