#!/usr/bin/env bash
# The multicall binary: dispatch by name and by argument, --help and
# --version everywhere, usage errors exit 2.
. "$(dirname "$0")/lib.sh"
# first_lines FILE EXPECTED: the file's lines are exactly EXPECTED.
exactly() { [ "$(cat "$1")" = "$2" ]; }
expect_status 0 "compat --version" "$COMPAT" --version
t "compat --version: version and commit" grep -qE '^compat [0-9]+\.[0-9]+\.[0-9]+ \(commit [0-9a-f]+(-dirty)?\)$' "$TMP/out"
t "compat --version: how it was linked, read from the process" grep -qx 'link: static libraries, dynamic glibc' "$TMP/out"
t "compat --version: the libraries' versions" grep -qE '^libraries: glibc 2\.[0-9]+, libelf 0\.[0-9]+, nghttp2 1\.' "$TMP/out"
expect_status 2 "compat with no applet: exit 2" "$COMPAT"
t "compat with no applet: one line and a hint" exactly "$TMP/err" $'compat: no applet named\nTry \'compat --help\'.'
expect_status 2 "an unknown applet: exit 2" "$COMPAT" frobnicate
t "an unknown applet: one line and a hint" exactly "$TMP/err" $'compat: unknown applet \'frobnicate\'\nTry \'compat --help\'.'
expect_status 2 "compat PROGRAM: exit 2" "$COMPAT" /bin/true
t "compat PROGRAM: did you mean 'compat check PROGRAM'?" \
	exactly "$TMP/err" $'compat: \'/bin/true\' is not an applet; did you mean \'compat check /bin/true\'?\nTry \'compat --help\'.'
expect_status 0 "compat --help" "$COMPAT" --help
t "compat --help lists the applets" grep -q 'applets: check gen labels pull push serve trace' "$TMP/out"
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
