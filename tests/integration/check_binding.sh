#!/usr/bin/env bash
# check binds symbols as ld.so does, and gen records what did not bind.
#  - The same-host case of the sqlite3 report: a library pair (v1 without a
#    function, v2 with it), a program linked against v2, gen run where v1 is
#    on the library path: the artifact records the function as unbound;
#    check against v1 says undefined-symbol, against v2 compatible; the real
#    loader (LD_BIND_NOW) agrees both times.
#  - The glibc 2.34 merge: a symbol recorded under one library binds in
#    another of the closure when the first only defines its version.
. "$(dirname "$0")/lib.sh"
json_has() { # report.json python-expression-over-r
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"
}
runs() { env -u LD_LIBRARY_PATH LD_BIND_NOW=1 "$@" > /dev/null 2> "$TMP/loader.err"; }

mkdir -p "$TMP/v1" "$TMP/v2"
cat > "$TMP/db1.c" <<'C'
int db_open(void) { return 1; }
C
cat > "$TMP/db2.c" <<'C'
int db_open(void) { return 1; }
int db_stmt_explain(void) { return 2; }
C
cat > "$TMP/tool.c" <<'C'
int db_open(void);
int db_stmt_explain(void);
int main(void) { return db_open() + db_stmt_explain() == 3 ? 0 : 1; }
C
gcc -w -shared -fPIC -o "$TMP/v1/libdb.so.0" -Wl,-soname,libdb.so.0 "$TMP/db1.c"
gcc -w -shared -fPIC -o "$TMP/v2/libdb.so.0" -Wl,-soname,libdb.so.0 "$TMP/db2.c"
build_c "$TMP/tool" "$TMP/tool.c" -L"$TMP/v2" -l:libdb.so.0

"$COMPAT" gen --library-path "$TMP/v1" -o "$TMP/tool.json" "$TMP/tool" 2> "$TMP/gen.err"; rc=$?
t "gen on the older host succeeds (exit $rc)" test "$rc" = 0
t "gen records db_stmt_explain as unbound" json_has "$TMP/tool.json" \
	'r["attributes"].get("llnl.compatlib.unbound") == "db_stmt_explain"'
t "gen warns once, naming it" bash -c '[ $(wc -l < "$1") = 1 ] && grep -q "1 symbol bound to nothing here.*db_stmt_explain" "$1"' _ "$TMP/gen.err"
t "gen still records db_open as bound to libdb.so.0" json_has "$TMP/tool.json" \
	'r["attributes"].get("llnl.compatlib.symbols.libdb.so.0") == "db_open"'

"$COMPAT" check --json --library-path "$TMP/v1" "$TMP/tool.json" > "$TMP/r1.json"; rc=$?
t "check against v1: undefined-symbol db_stmt_explain (exit $rc)" json_has "$TMP/r1.json" \
	'not r["compatible"] and [f["symbols"] for f in r["findings"] if f["kind"] == "undefined-symbol"] == [["db_stmt_explain"]]'
runs env LD_LIBRARY_PATH="$TMP/v1" "$TMP/tool"; lrc=$?
t "... and the loader agrees: symbol lookup error (exit $lrc)" \
	bash -c '[ "$1" = 127 ] && grep -q "symbol lookup error.*undefined symbol: db_stmt_explain" "$2"' _ "$lrc" "$TMP/loader.err"
expect_status 0 "check against v2: compatible" "$COMPAT" check --library-path "$TMP/v2" "$TMP/tool.json"
runs env LD_LIBRARY_PATH="$TMP/v2" "$TMP/tool"
t "... and the loader agrees: the program runs (exit $?)" test $? = 0

# The glibc 2.34 merge, in small: a program built against a libstub.so.0
# that defined thing@STUB_1.0 runs where libstub.so.0 only defines the
# version STUB_1.0 and libreal.so.1, which the stub needs, defines the
# symbol (Debian 12's libpthread.so.0 and libc.so.6).
mkdir -p "$TMP/old" "$TMP/new"
cat > "$TMP/thing.c" <<'C'
int thing(void) { return 42; }
C
cat > "$TMP/stub.c" <<'C'
int stub_placeholder;
C
cat > "$TMP/stubprog.c" <<'C'
int thing(void);
int main(void) { return thing() == 42 ? 0 : 1; }
C
echo 'STUB_1.0 { global: thing; local: *; };' > "$TMP/thing.map"
echo 'STUB_1.0 { global: stub_placeholder; local: *; };' > "$TMP/stub.map"
gcc -w -shared -fPIC -o "$TMP/old/libstub.so.0" -Wl,-soname,libstub.so.0 -Wl,--version-script,"$TMP/thing.map" "$TMP/thing.c"
build_c "$TMP/stubprog" "$TMP/stubprog.c" -L"$TMP/old" -l:libstub.so.0
gcc -w -shared -fPIC -o "$TMP/new/libreal.so.1" -Wl,-soname,libreal.so.1 -Wl,--version-script,"$TMP/thing.map" "$TMP/thing.c"
gcc -w -shared -fPIC -o "$TMP/new/libstub.so.0" -Wl,-soname,libstub.so.0 -Wl,--version-script,"$TMP/stub.map" \
	"$TMP/stub.c" -Wl,--no-as-needed -L"$TMP/new" -l:libreal.so.1
"$COMPAT" gen --library-path "$TMP/old" -o "$TMP/stub.json" "$TMP/stubprog"
t "gen: thing is recorded with its version under libstub.so.0" json_has "$TMP/stub.json" \
	'r["attributes"].get("llnl.compatlib.symbols.libstub.so.0") == "thing@STUB_1.0"'
expect_status 0 "check: compatible where the stub defines only the version and libreal.so.1 the symbol" \
	"$COMPAT" check --library-path "$TMP/new" "$TMP/stub.json"
runs env LD_LIBRARY_PATH="$TMP/new" "$TMP/stubprog"
t "... and the loader agrees: it runs (exit $?)" test $? = 0

# Debian 12 itself: any program that needs pthread_create through
# libpthread.so.0 binds it in libc.so.6 (skipped where no such program is).
prog=
for f in /usr/bin/* /usr/sbin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	if readelf -dW "$f" 2> /dev/null | grep -q 'NEEDED.*\[libpthread.so.0\]' &&
		readelf -sW --dyn-syms "$f" 2> /dev/null | grep -q ' UND pthread_create@GLIBC_2.2.5'; then
		prog=$f; break
	fi
done
if [ -n "$prog" ] && [ -e /lib/x86_64-linux-gnu/libpthread.so.0 ]; then
	"$COMPAT" gen -o "$TMP/pt.json" "$prog"
	t "$(basename "$prog"): pthread_create@GLIBC_2.2.5 recorded under the libc.so.6 it binds to here" \
		json_has "$TMP/pt.json" '"pthread_create@GLIBC_2.2.5" in r["attributes"].get("llnl.compatlib.symbols.libc.so.6", "").split()'
	/usr/bin/python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
at = a["attributes"]
# as a Debian 11 host would have recorded it: under libpthread.so.0
at["llnl.compatlib.symbols.libpthread.so.0"] = "pthread_create@GLIBC_2.2.5"
at.setdefault("llnl.compatlib.needed.libpthread.so.0", "GLIBC_2.2.5")
json.dump(a, open(sys.argv[2], "w"))' "$TMP/pt.json" "$TMP/pt11.json"
	expect_status 0 "$(basename "$prog"): recorded under libpthread.so.0 (a Debian 11 gen), it is compatible here" \
		"$COMPAT" check "$TMP/pt11.json"
else
	skip "no program here needs pthread_create@GLIBC_2.2.5 through libpthread.so.0"
fi
