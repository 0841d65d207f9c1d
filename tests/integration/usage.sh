#!/usr/bin/env bash
# What a user types first (issue 13's table, the CLI rows): each case
# asserts the exact first line of output and the exit status. Fixtures are
# built here with gcc: a program, one that needs a library that is gone,
# scripts whose interpreters are those programs.
. "$(dirname "$0")/lib.sh"

# line1 NAME FILE EXPECTED: the first line of FILE is EXPECTED.
line1() {
	local got
	got=$(head -1 "$2")
	if [ "$got" = "$3" ]; then ok "$1"; else nok "$1"; echo "#   got:    $got"; echo "#   wanted: $3"; fi
}
# exactly NAME FILE EXPECTED: all of FILE is EXPECTED.
exactly() {
	if [ "$(cat "$2")" = "$3" ]; then ok "$1"; else nok "$1"; sed 's/^/#   got: /' "$2" | head -5; fi
}
# run STATUS NAME COMMAND...: expect_status, keeping stdout/stderr in out/err.
run() { expect_status "$@"; }

mkdir -p "$TMP/app" "$TMP/gone" "$TMP/mix" "$TMP/bin"
cat > "$TMP/hello.c" <<'C'
#include <stdio.h>
int main(int argc, char **argv) { printf("hello %d\n", argc); return 0; }
C
build_c "$TMP/app/prog" "$TMP/hello.c"
cp "$TMP/app/prog" "$TMP/mix/prog"
echo 'int gone_fn(void) { return 1; }' > "$TMP/gone.c"
gcc -shared -fPIC -o "$TMP/gone/libgone.so.1" "$TMP/gone.c" -Wl,-soname,libgone.so.1
cat > "$TMP/needs.c" <<'C'
int gone_fn(void);
int main(void) { return gone_fn(); }
C
build_c "$TMP/bin/interp" "$TMP/needs.c" -L"$TMP/gone" -l:libgone.so.1
rm -r "$TMP/gone"	# the interpreter's library is gone: it cannot run here

# ---- compat check ./prog: an answer, as ldd ./prog gives one ----
run 0 "check ./prog: exit 0" bash -c 'cd "$1" && "$2" check ./prog' _ "$TMP/app" "$COMPAT"
line1 "check ./prog: the verdict, named as the program" "$TMP/out" "compatible: prog (1 host library found)"
run 1 "check PROGRAM that needs a missing library: exit 1" "$COMPAT" check "$TMP/bin/interp"
line1 "check PROGRAM: NOT compatible, one finding" "$TMP/out" "NOT compatible: interp (1 finding)"
t "check PROGRAM: the finding names the library" grep -q '^  missing-soname .*libgone.so.1' "$TMP/out"

# ---- compat check DIR: what is under it, as gen DIR ----
run 0 "check DIR: exit 0" "$COMPAT" check "$TMP/app"
line1 "check DIR: judged as gen DIR describes it" "$TMP/out" "compatible: app (1 host library found)"
run 1 "check DIR with a program that cannot run here: exit 1" "$COMPAT" check "$TMP/bin"
line1 "check DIR: NOT compatible" "$TMP/out" "NOT compatible: bin (1 finding)"

# ---- compat gen /usr/bin/*: scripts skipped, one line each ----
printf '#!/bin/sh\necho hi\n' > "$TMP/mix/a.sh"
printf 'just text\n' > "$TMP/mix/notes.txt"
run 0 "gen FILES with a script and a text file among them: exit 0" "$COMPAT" gen -o "$TMP/mix.json" "$TMP/mix"/*
line1 "gen FILES: the script is skipped with one warning" "$TMP/err" \
	"compat gen: $TMP/mix/a.sh: a '#!' script, not an ELF file (skipped)"
t "gen FILES: one warning per skipped file, nothing else" test "$(wc -l < "$TMP/err")" = 2
t "gen FILES: the ELF file was described" grep -q '"llnl.compatlib.needed.libc.so.6"' "$TMP/mix.json"
run 2 "gen FILES with no ELF file at all: exit 2" "$COMPAT" gen "$TMP/mix/a.sh" "$TMP/mix/notes.txt"
t "gen FILES with no ELF file: a warning each, then why nothing was written" \
	test "$(tail -1 "$TMP/err")" = "compat gen: none of the 2 files named is an ELF file" -a ! -s "$TMP/out"
run 2 "gen SCRIPT: exit 2" "$COMPAT" gen "$TMP/mix/a.sh"
exactly "gen SCRIPT: one line" "$TMP/err" "compat gen: $TMP/mix/a.sh: a '#!' script, not an ELF file"
run 0 "gen --list FILES: non-ELF files skipped too" "$COMPAT" gen --list "$TMP/mix"/*
line1 "gen --list FILES: the list starts with the ELF file" "$TMP/out" "$TMP/mix/prog:"
# The real thing: every file of /usr/bin, in one call.
timeout 120 "$COMPAT" gen -o "$TMP/usrbin.json" /usr/bin/* > /dev/null 2> "$TMP/err"; rc=$?
t "gen /usr/bin/*: exit 0 (got $rc)" test "$rc" = 0
t "gen /usr/bin/*: every line on stderr a skipped file or a gen warning" \
	bash -c '! grep -v -e "(skipped)$" -e "recorded as unbound" -e "which the image" "$1"' _ "$TMP/err"

# ---- a typo, or no argument: one line and a hint, for every applet ----
for a in check gen labels pull push serve trace; do
	run 2 "$a --jsn: exit 2" "$COMPAT" "$a" --jsn
	exactly "$a --jsn: one line naming the option, then the hint" "$TMP/err" \
		"compat $a: unrecognized option '--jsn'"$'\n'"Try 'compat $a --help'."
	t "$a --jsn: nothing on stdout" test ! -s "$TMP/out"
done
for a in check gen pull push trace; do
	run 2 "$a without an operand: exit 2" "$COMPAT" "$a"
	t "$a without an operand: says what is missing" bash -c 'head -1 "$1" | grep -q "^compat $2: missing "' _ "$TMP/err" "$a"
	t "$a without an operand: two lines, the second the hint" \
		test "$(sed -n 2p "$TMP/err")" = "Try 'compat $a --help'." -a "$(wc -l < "$TMP/err")" = 2
done
run 2 "check without an operand" "$COMPAT" check
line1 "check without an operand: the line" "$TMP/err" "compat check: missing operand (a PROGRAM, DIR, ARTIFACT, REF or -)"
run 2 "through a link: compat-check --jsn" "$BIN/compat-check" --jsn
line1 "through a link: the applet's name" "$TMP/err" "compat check: unrecognized option '--jsn'"
run 2 "an option without its argument (long)" "$COMPAT" check --root
line1 "... named as getopt names it" "$TMP/err" "compat check: option '--root' requires an argument"
run 2 "an option without its argument (short)" "$COMPAT" gen -o
line1 "... named as getopt names it (short)" "$TMP/err" "compat gen: option requires an argument -- 'o'"
run 2 "an unknown short option inside a cluster" "$COMPAT" gen --list -tx "$TMP/app/prog"
line1 "... named by its letter" "$TMP/err" "compat gen: invalid option -- 'x'"
run 2 "an argument to an option that takes none" "$COMPAT" check --json=yes x
line1 "... said so" "$TMP/err" "compat check: option '--json' doesn't allow an argument"
run 2 "an ambiguous abbreviation" "$COMPAT" check --hos x y
line1 "... with the candidates" "$TMP/err" "compat check: option '--hos' is ambiguous; possibilities: '--host' '--hosts'"
run 2 "an extra operand (with --host, one artifact)" "$COMPAT" check --host 127.0.0.1:1 a b
line1 "... named" "$TMP/err" "compat check: extra operand 'b' (one operand with --host)"
run 0 "an option after the operand, as GNU tools take it" "$COMPAT" check "$TMP/app/prog" --json
t "... is an option, not an extra operand" grep -q '^{"schema":1,"name":"prog",' "$TMP/out"
run 2 "check --exec without -- before the command" "$COMPAT" check --exec "$TMP/app/prog"
exactly "... one line and the hint" "$TMP/err" "compat check: --exec needs a command after --"$'\n'"Try 'compat check --help'."
run 2 "options that do not go together" "$COMPAT" check --cache /tmp x
exactly "... one line and the hint" "$TMP/err" "compat check: --cache goes with --exec"$'\n'"Try 'compat check --help'."
run 2 "serve with an operand: exit 2" "$COMPAT" serve 127.0.0.1:0
exactly "... one line naming it, then the hint" "$TMP/err" "compat serve: extra operand '127.0.0.1:0'"$'\n'"Try 'compat serve --help'."
run 2 "serve with a bad number: exit 2" "$COMPAT" serve --max-streams 0
exactly "... one line with the range, then the hint" "$TMP/err" \
	"compat serve: --max-streams: expected a number from 1 to 100000, got '0'"$'\n'"Try 'compat serve --help'."
run 2 "serve --tls-cert without --tls-key: exit 2" "$COMPAT" serve --tls-cert x.pem
exactly "... says they go together" "$TMP/err" \
	"compat serve: --tls-cert and --tls-key go together (and --tls-client-ca needs them)"$'\n'"Try 'compat serve --help'."
run 2 "serve --listen without its argument: exit 2" "$COMPAT-server" --listen
exactly "... named as getopt names it, through the prototype's name" "$TMP/err" \
	"compat serve: option '--listen' requires an argument"$'\n'"Try 'compat serve --help'."
run 2 "compat --jsn (no applet)" "$COMPAT" --jsn
line1 "compat --jsn: an option, not an applet" "$TMP/err" "compat: unrecognized option '--jsn'"

# ---- check --exec -- CMD: 127 not found, 126 cannot execute ----
run 127 "check --exec -- /nonexist: exit 127" "$COMPAT" check --exec -- /nonexist
exactly "check --exec -- /nonexist: one line" "$TMP/err" "compat check: /nonexist: No such file or directory"
run 127 "check --exec -- NAME not in PATH: exit 127" env PATH="$TMP/app" "$COMPAT" check --exec -- no-such-command
exactly "check --exec -- NAME not in PATH: command not found" "$TMP/err" "compat check: no-such-command: command not found"
run 0 "check --exec -- NAME found in PATH: runs it" env PATH="$TMP/app" "$COMPAT" check --exec -- prog a
line1 "check --exec -- NAME: the program's own output" "$TMP/out" "hello 2"
cp "$TMP/app/prog" "$TMP/noexec"; chmod 644 "$TMP/noexec"
run 126 "check --exec -- a file without execute permission: exit 126" "$COMPAT" check --exec -- "$TMP/noexec"
exactly "... Permission denied" "$TMP/err" "compat check: $TMP/noexec: Permission denied"
run 126 "check --exec -- a directory: exit 126" "$COMPAT" check --exec -- "$TMP/app"
printf 'echo no interpreter line\n' > "$TMP/nosh"; chmod 755 "$TMP/nosh"
run 126 "check --exec -- an executable that is neither ELF nor #!: exit 126 (ENOEXEC)" "$COMPAT" check --exec -- "$TMP/nosh"
line1 "... says why" "$TMP/err" "compat check: $TMP/nosh: neither an ELF file nor a '#!' script (Exec format error)"
printf '#!/nonexistent/sh\necho\n' > "$TMP/badinterp"; chmod 755 "$TMP/badinterp"
run 127 "check --exec -- a script whose interpreter is missing: exit 127" "$COMPAT" check --exec -- "$TMP/badinterp"
line1 "... names the interpreter" "$TMP/err" "compat check: $TMP/badinterp: its interpreter /nonexistent/sh: No such file or directory"
run 1 "check --exec -- a program that cannot run here: exit 1, not run" "$COMPAT" check --exec -- "$TMP/bin/interp"
line1 "... the verdict on stderr" "$TMP/err" "NOT compatible: interp (1 finding)"

"$COMPAT" gen -o "$TMP/prog.json" "$TMP/app/prog" || nok "gen the artifact"
run 0 "check --exec ARTIFACT --json -- CMD: options after the artifact, CMD after --" \
	"$COMPAT" check --exec "$TMP/prog.json" --json -- "$TMP/app/prog" --json
line1 "... CMD ran with its own --json" "$TMP/out" "hello 2"

# ---- check --exec -- ./entrypoint.sh: judged by its interpreter, exec'd as the kernel would ----
printf '#!/bin/sh\necho "from $0 $*"\nexit 7\n' > "$TMP/app/entrypoint.sh"; chmod 755 "$TMP/app/entrypoint.sh"
run 7 "check --exec -- ./entrypoint.sh: runs, with the script's status" \
	bash -c 'cd "$1" && "$2" check --exec -- ./entrypoint.sh a b' _ "$TMP/app" "$COMPAT"
line1 "... the script's own output and arguments" "$TMP/out" "from ./entrypoint.sh a b"
printf '#!/usr/bin/env sh\necho "env $*"\n' > "$TMP/app/viaenv.sh"; chmod 755 "$TMP/app/viaenv.sh"
run 0 "check --exec -- a #!/usr/bin/env NAME script: runs" "$COMPAT" check --exec -- "$TMP/app/viaenv.sh" x
line1 "... through env" "$TMP/out" "env x"
printf '#!%s\n' "$TMP/bin/interp" > "$TMP/app/broken.sh"; chmod 755 "$TMP/app/broken.sh"
run 1 "check --exec -- a script whose interpreter cannot run here: exit 1" "$COMPAT" check --exec -- "$TMP/app/broken.sh"
line1 "... judged by the interpreter" "$TMP/err" "NOT compatible: broken.sh via $TMP/bin/interp (1 finding)"
printf '#!/usr/bin/env interp\n' > "$TMP/app/broken-env.sh"; chmod 755 "$TMP/app/broken-env.sh"
run 1 "check --exec -- #!/usr/bin/env NAME, NAME cannot run here: exit 1" \
	env PATH="$TMP/bin:/usr/bin:/bin" "$COMPAT" check --exec -- "$TMP/app/broken-env.sh"
line1 "... NAME found in PATH, as env finds it" "$TMP/err" "NOT compatible: broken-env.sh via $TMP/bin/interp (1 finding)"
run 0 "check SCRIPT (no --exec): judged by its interpreter" "$COMPAT" check "$TMP/app/entrypoint.sh"
line1 "... named with it" "$TMP/out" "compatible: entrypoint.sh via /bin/sh (1 host library found)"

# ---- gen --tree -o f.txt: the tree in the file ----
run 0 "gen --tree -o FILE: exit 0" "$COMPAT" gen --tree -o "$TMP/tree.txt" "$TMP/app/prog"
line1 "gen --tree -o FILE: the tree is in FILE" "$TMP/tree.txt" "$TMP/app/prog"
t "gen --tree -o FILE: and not on stdout" test ! -s "$TMP/out"
t "gen --tree -o FILE: libc in the tree" grep -q '^└── libc.so.6 .* \[ld.so.cache\]$' "$TMP/tree.txt"
run 0 "gen --list -o FILE: exit 0" "$COMPAT" gen --list -o "$TMP/list.txt" "$TMP/app/prog"
t "gen --list -o FILE: the list is in FILE" grep -q $'^\tlibc.so.6 => ' "$TMP/list.txt"

# ---- --json: a schema version; an error is an object on stdout ----
run 0 "check --json PROGRAM: exit 0" "$COMPAT" check --json "$TMP/app/prog"
t "check --json: schema 1 and the name first" grep -q '^{"schema":1,"name":"prog","compatible":true,' "$TMP/out"
run 2 "check --json with an error: exit 2" "$COMPAT" check --json "$TMP/nonexistent.json"
exactly "check --json with an error: the error object on stdout" "$TMP/out" \
	"{\"schema\":1,\"error\":{\"message\":\"$TMP/nonexistent.json: No such file or directory\",\"exit\":2}}"
exactly "check --json with an error: the line on stderr" "$TMP/err" "compat check: $TMP/nonexistent.json: No such file or directory"
run 2 "a usage error after --json: exit 2" "$COMPAT" check --json --jsn
line1 "... the error object on stdout too" "$TMP/out" '{"schema":1,"error":{"message":"unrecognized option '"'--jsn'"'","exit":2}}'
run 2 "a usage error before --json: exit 2" "$COMPAT" gen --jsn --json
line1 "... is JSON too" "$TMP/out" '{"schema":1,"error":{"message":"unrecognized option '"'--jsn'"'","exit":2}}'
run 3 "check --json --host unreachable: exit 3" "$COMPAT" check --json --host 127.0.0.1:1 "$TMP/app/prog"
line1 "... the object carries exit 3" "$TMP/out" \
	'{"schema":1,"error":{"message":"cannot reach 127.0.0.1:1: Connection refused","exit":3}}'
run 127 "check --exec --json, command not found: exit 127" "$COMPAT" check --exec --json -- /nonexist
line1 "... the object carries exit 127" "$TMP/out" \
	'{"schema":1,"error":{"message":"/nonexist: No such file or directory","exit":127}}'
run 0 "gen --list --json: exit 0" "$COMPAT" gen --list --json "$TMP/app/prog" "$TMP/mix/a.sh"
t "gen --list --json: schema 1, a resolution per file, the skipped one said so" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1, d
f, s = d["files"]
assert f["file"] == sys.argv[2] and s["file"] == sys.argv[3] and "script" in s["skipped"], d
o = f["objects"]
assert o[0]["found_by"] == "[program]" and o[f["interpreter"]]["found_by"] == "[interpreter]", o
libc = [x for x in o if x["name"] == "libc.so.6"][0]
assert libc["found_by"] == "[ld.so.cache]" and libc["path"].endswith("/libc.so.6"), libc
assert {"name": "libc.so.6", "object": o.index(libc)} in o[0]["needs"], o[0]
' "$TMP/out" "$TMP/app/prog" "$TMP/mix/a.sh"
run 0 "gen --tree --json -o FILE: exit 0" "$COMPAT" gen --tree --json -o "$TMP/tree.json" "$TMP/app/prog"
line1 "gen --tree --json -o FILE: the JSON is in FILE" "$TMP/tree.json" "{"
t "gen --tree --json -o FILE: schema 1" /usr/bin/python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["schema"] == 1' "$TMP/tree.json"
run 1 "gen --list --json, a library not found: exit 1" "$COMPAT" gen --list --json "$TMP/bin/interp"
t "... the missing library: path null and where it was searched" /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))["files"][0]["objects"]
g = [x for x in o if x["name"] == "libgone.so.1"][0]
assert g["path"] is None and g["found_by"] is None and g["searched"][0]["why"] == "[ld.so.cache]", g
' "$TMP/out"

# ---- the same program, checked here and through --host: the same name ----
if start_server "$TMP/srv.out" --listen 127.0.0.1:0; then
	run 0 "check --host ADDR ARTIFACT: exit 0" "$COMPAT" check --host "$SERVER_ADDR" "$TMP/prog.json"
	line1 "check --host ADDR prog.json: named prog, not prog.json" "$TMP/out" "compatible: prog (1 host library found)"
	run 0 "check --host ADDR PROGRAM: exit 0 (described here, judged there)" "$COMPAT" check --host "$SERVER_ADDR" "$TMP/app/prog"
	line1 "check --host ADDR ./prog: named prog too" "$TMP/out" "compatible: prog (1 host library found)"
	run 0 "check prog.json here: exit 0" "$COMPAT" check "$TMP/prog.json"
	line1 "check prog.json here: the same name" "$TMP/out" "compatible: prog (1 host library found)"
	run 1 "check --host ADDR SCRIPT whose interpreter cannot run there: exit 1" \
		"$COMPAT" check --host "$SERVER_ADDR" "$TMP/app/broken.sh"
	line1 "... named as here" "$TMP/out" "NOT compatible: broken.sh via $TMP/bin/interp (1 finding)"
else
	nok "compat serve starts"
fi
