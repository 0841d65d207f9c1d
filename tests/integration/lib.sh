# Shared helpers for integration scripts (sourced). Each test prints
# "ok - NAME", "not ok - NAME" or "skip - NAME: reason".
set -u
COMPAT_ROOT=${COMPAT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${COMPAT_BIN:-$COMPAT_ROOT/bin}
COMPAT=$BIN/compat
TMP=$(mktemp -d /tmp/compat-it.XXXXXX)
cleanup_hooks=()
on_exit() { for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do eval "$h"; done; rm -rf "$TMP"; }
trap on_exit EXIT

ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }
skip() { echo "skip - $*"; }

# t NAME COMMAND...: ok when the command succeeds.
t() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

# expect_status N NAME COMMAND...: ok when the command exits with N.
expect_status() {
	local want=$1 name=$2; shift 2
	"$@" > "$TMP/out" 2> "$TMP/err"; local got=$?
	if [ "$got" = "$want" ]; then ok "$name"; else
		nok "$name (exit $got, wanted $want)"; sed 's/^/#   /' "$TMP/err" | head -5; fi
}

# build_c OUT SRC [gcc args...]: compile a fixture from a here-doc'd source file.
build_c() { local out=$1 src=$2; shift 2; gcc -w -o "$out" "$src" "$@"; }
