#!/usr/bin/env bash
# compat trace --artifact: objects opened by path (dlopen of a path, as
# Python opens its extension modules) are the application's own files, not
# sonames the host must provide; their own needs are. A dlopen by name is a
# host need.
. "$(dirname "$0")/lib.sh"
T="timeout 60"

need_ptrace "trace --artifact"
json_has() { # file python-expression-over-attributes-a
	/usr/bin/python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["attributes"]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$@"
}

mkdir -p "$TMP/plugins" "$TMP/deps" "$TMP/byname"
cat > "$TMP/pdep.c" <<'C'
int pdep(void) { return 40; }
C
cat > "$TMP/plug.c" <<'C'
int pdep(void);
int plug_value(void) { return pdep() + 2; }
C
cat > "$TMP/byname.c" <<'C'
int byname_value(void) { return 1; }
C
cat > "$TMP/dl.c" <<'C'
#include <dlfcn.h>
int main(int argc, char **argv)
{
	void *p = dlopen(argv[1], RTLD_NOW), *n = dlopen("libbyname.so.2", RTLD_NOW);
	int (*f)(void) = p ? (int (*)(void))dlsym(p, "plug_value") : 0;
	return f && n && f() == 42 ? 0 : 1;
}
C
gcc -w -shared -fPIC -o "$TMP/deps/libpdep.so.1" -Wl,-soname,libpdep.so.1 "$TMP/pdep.c"
gcc -w -shared -fPIC -o "$TMP/plugins/libplug.so.3" -Wl,-soname,libplug.so.3 "$TMP/plug.c" -L"$TMP/deps" -l:libpdep.so.1
gcc -w -shared -fPIC -o "$TMP/byname/libbyname.so.2" -Wl,-soname,libbyname.so.2 "$TMP/byname.c"
build_c "$TMP/dl" "$TMP/dl.c" -ldl

LD_LIBRARY_PATH="$TMP/deps:$TMP/byname" $T "$COMPAT" trace -o /dev/null --artifact "$TMP/dl.json" \
	-- "$TMP/dl" "$TMP/plugins/libplug.so.3"
t "the traced program ran (exit $?)" test $? = 0
t "a library dlopen'd by path is listed in the closure" json_has "$TMP/dl.json" '"libplug.so.3" in a.values()'
t "... but is not a host need" json_has "$TMP/dl.json" '"llnl.compatlib.needed.libplug.so.3" not in a'
t "... its own need is" json_has "$TMP/dl.json" '"llnl.compatlib.needed.libpdep.so.1" in a'
t "... and the symbol it binds there" json_has "$TMP/dl.json" 'a.get("llnl.compatlib.symbols.libpdep.so.1") == "pdep"'
t "a library dlopen'd by name is a host need" json_has "$TMP/dl.json" '"llnl.compatlib.needed.libbyname.so.2" in a'
expect_status 0 "check: compatible where the plugin's dependency and the named library are found" \
	"$COMPAT" check --library-path "$TMP/deps:$TMP/byname" "$TMP/dl.json"
"$COMPAT" check --json "$TMP/dl.json" > "$TMP/r.json"; rc=$?
t "check: without them, the host lacks exactly those two (exit $rc)" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
m = sorted(f["soname"] for f in r["findings"] if f["kind"] == "missing-soname")
sys.exit(0 if m == ["libbyname.so.2", "libpdep.so.1"] and sys.argv[2] == "1" else 1)' "$TMP/r.json" "$rc"

# Python's extension modules are opened by path: traced on this host, the
# artifact is compatible on this very host (it was not: they were taken for
# sonames the host must provide).
PY=/usr/bin/python3
if "$PY" -c 'import ssl, sqlite3, ctypes' 2> /dev/null; then
	$T "$COMPAT" trace -o /dev/null --artifact "$TMP/py.json" -- "$PY" -c 'import ssl, sqlite3, ctypes'
	t "python3: traced (exit $?)" test $? = 0
	t "python3: the extension modules are in the closure" \
		json_has "$TMP/py.json" 'any(v.startswith("_ssl.") for k, v in a.items() if ".library-name." in k)'
	t "python3: no extension module is a host need" \
		json_has "$TMP/py.json" 'not any(k.startswith("llnl.compatlib.needed._") for k in a)'
	t "python3: what they link is (libssl.so.3, libsqlite3.so.0, libffi)" \
		json_has "$TMP/py.json" 'all(any(k.startswith("llnl.compatlib.needed." + n) for k in a) for n in ("libssl.so", "libsqlite3.so", "libffi.so"))'
	t "python3: the Python API they import is the program's: no plugin-imports" \
		json_has "$TMP/py.json" '"llnl.compatlib.plugin-imports" not in a'
	"$COMPAT" check "$TMP/py.json" > "$TMP/out" 2>&1; rc=$?
	t "python3: the artifact is compatible on the host it was traced on (exit $rc)" test "$rc" = 0
	[ "$rc" = 0 ] || sed 's/^/#   /' "$TMP/out" | head -8
else
	skip "python3: ssl, sqlite3 or ctypes cannot be imported here"
fi
