#!/usr/bin/env bash
# gen and check under valgrind: no invalid reads or writes, no leaks.
. "$(dirname "$0")/lib.sh"
if ! command -v valgrind > /dev/null; then skip "valgrind is not installed"; exit 0; fi
if [ "${SANITIZE:-0}" != 0 ]; then skip "valgrind: a sanitizer build cannot run under valgrind"; exit 0; fi
PEERS=$COMPAT_ROOT/tests/fixtures/prototype
vg() { # name expected-status args...
	local name=$1 want=$2; shift 2
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$COMPAT" "$@" > /dev/null 2> "$TMP/vg"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "valgrind: $name"; else
		nok "valgrind: $name (exit $rc, wanted $want)"; grep '==' "$TMP/vg" | head -8 | sed 's/^/#   /'; fi
}
vg "gen /usr/bin/curl (symbols, versions)" 0 gen /usr/bin/curl
vg "gen --tree" 0 gen --tree /usr/bin/xz
vg "gen on a directory" 0 gen /usr/lib/x86_64-linux-gnu/gconv
vg "gen on a non-ELF file" 2 gen /etc/passwd
vg "check compatible" 0 check "$PEERS/xz.json"
vg "check incompatible, --json" 1 check --json "$PEERS/missing.json"
vg "check on broken JSON" 2 check "$PEERS/bad.json"
vg "check --library-path" 0 check --library-path /usr/lib/x86_64-linux-gnu "$PEERS/xz.json"
vg "gen --list over several programs (searches remembered)" 0 gen --list /usr/bin/xz /bin/true /usr/bin/gzip
vg "check of several artifacts, one incompatible, --json lines" 1 check --json "$PEERS/xz.json" "$PEERS/missing.json" "$PEERS/xz.json"
vg "check of several artifacts, one unreadable" 2 check "$PEERS/xz.json" "$PEERS/bad.json"
