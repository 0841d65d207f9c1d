#!/usr/bin/env bash
# The multicall binary: dispatch by name and by argument, --help and
# --version everywhere, usage errors exit 2.
. "$(dirname "$0")/lib.sh"
expect_status 0 "compat --version" "$COMPAT" --version
t "compat --version names the version" grep -q '^compat [0-9]' "$TMP/out"
expect_status 2 "compat with no applet: usage, exit 2" "$COMPAT"
expect_status 2 "an unknown applet: exit 2" "$COMPAT" frobnicate
t "an unknown applet: the applets are listed" grep -q 'applets: check gen labels pull push serve trace' "$TMP/err"
for a in check gen labels pull push serve trace; do
	expect_status 0 "compat $a --help" "$COMPAT" "$a" --help
	t "compat $a --help prints its usage on stdout" grep -q "usage: compat $a" "$TMP/out"
	expect_status 0 "compat $a --version" "$COMPAT" "$a" --version
	expect_status 2 "compat $a with a bad option: exit 2" "$COMPAT" "$a" --no-such-option
done
for n in compat-gen compat-check compat-server compat-trace; do
	expect_status 0 "$n --help (dispatch by name)" "$BIN/$n" --help
done
expect_status 0 "compat-server --help" "$BIN/compat-server" --help
t "compat-server is the serve applet" grep -q 'usage: compat serve' "$TMP/out"
ln -sf "$COMPAT" "$TMP/compat-check"
expect_status 0 "a symlink elsewhere dispatches by its basename" "$TMP/compat-check" "$COMPAT_ROOT/tests/fixtures/prototype/xz.json"
