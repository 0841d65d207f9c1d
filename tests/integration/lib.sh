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

# wait_for_line FILE PATTERN [SECONDS]: wait until a line of FILE matches the
# grep pattern (a server's "server listening:"); 1 when it does not in time.
wait_for_line() {
	local file=$1 pat=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 20; i++)); do
		grep -q -- "$pat" "$file" 2> /dev/null && return 0
		sleep 0.05
	done
	return 1
}

# start_server OUTFILE ARGS...: start "compat serve ARGS" in the background,
# its output in OUTFILE, stopped when the script exits. Sets SERVER_PID and
# SERVER_ADDR (from its "server listening: ADDR" line); 1 when it does not
# come up within 10 s.
start_server() {
	local out=$1; shift
	: > "$out"	# emptied first: the background '>' may come after the wait starts
	"$COMPAT" serve "$@" > "$out" 2>&1 &
	SERVER_PID=$!
	cleanup_hooks+=("kill $SERVER_PID 2> /dev/null; wait $SERVER_PID 2> /dev/null")
	SERVER_ADDR=
	wait_for_line "$out" '^server listening: ' || return 1
	SERVER_ADDR=$(sed -n 's/^server listening: //p' "$out" | head -1)
}

# debian_tarball SUITE [mmdebstrap options...]: a tarball of a Debian tree
# (mmdebstrap, deb.debian.org), built once per SUITE and options and kept in
# $COMPAT_TEST_CACHE (default /var/cache/compat-tests) between runs. Prints
# its path; 1 when mmdebstrap is missing or fails (its log on stderr).
debian_tarball() {
	local suite=$1; shift
	local dir=${COMPAT_TEST_CACHE:-/var/cache/compat-tests}
	local key
	key=$(printf '%s\n' "$suite" "$@" | sha256sum | cut -c1-16)
	local tar=$dir/debian-$suite-$key.tar
	command -v mmdebstrap > /dev/null || return 1
	mkdir -p "$dir" || return 1
	(
		flock 9
		[ -s "$tar" ] && exit 0
		tmp=$dir/.building-$suite-$key.tar
		rm -f "$tmp"
		mmdebstrap --quiet "$@" "$suite" "$tmp" http://deb.debian.org/debian >&2 &&
			mv "$tmp" "$tar"
	) 9> "$dir/.lock-$suite-$key" || return 1
	echo "$tar"
}

# make_test_certs DIR [SAN]: with openssl, a CA (ca.pem, ca.key), a server
# certificate for SAN (default DNS:localhost; srv.pem, srv.key) and a client
# certificate (cli.pem, cli.key), valid two days. 1 when openssl fails.
make_test_certs() {
	local d=$1 san=${2:-DNS:localhost}
	mkdir -p "$d"
	(cd "$d" &&
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=compat test CA' &&
		openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' &&
		printf 'subjectAltName=%s\n' "$san" > ext &&
		openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext &&
		openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj '/CN=client' &&
		openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2) > "$d/openssl.log" 2>&1
}

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_docker_registry NAME [EXTRA_YAML [CURL_OPTS [SCHEME]]]: Debian's
# docker-registry on a free loopback port, storage under $TMP/NAME, stopped
# at exit. Sets REG (127.0.0.1:PORT) and REG_PID; 1 when it does not answer
# /v2/ within 10 s.
start_docker_registry() {
	local name=$1 port i
	port=$(free_port)
	mkdir -p "$TMP/$name"
	{
		echo "version: 0.1"; echo "log: {level: error}"
		echo "storage: {filesystem: {rootdirectory: $TMP/$name/data}}"
		echo "http:"; echo "  addr: 127.0.0.1:$port"
		[ -n "${2:-}" ] && printf '%s\n' "$2"
	} > "$TMP/$name/config.yml"
	docker-registry serve "$TMP/$name/config.yml" > "$TMP/$name/log" 2>&1 &
	REG_PID=$!
	cleanup_hooks+=("kill $REG_PID 2> /dev/null")
	REG=127.0.0.1:$port
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null ${3:-} "${4:-http}://$REG/v2/" && return 0
		sleep 0.1
	done
	return 1
}

# start_fake SCRIPT ARGS...: a Python fake (registry_fake.py, ...) that
# writes its port to the file named by its first argument, in the
# background, stopped at exit. Sets FREG (127.0.0.1:PORT) and FPID.
start_fake() {
	local script=$1 portfile=$2; shift 2
	rm -f "$portfile"
	/usr/bin/python3 "$script" "$portfile" "$@" &
	FPID=$!
	cleanup_hooks+=("kill $FPID 2> /dev/null")
	local i=0
	while [ ! -s "$portfile" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	FREG=127.0.0.1:$(cat "$portfile" 2> /dev/null)
}

# need_ptrace NAME: skip the whole script (exit 0) when this machine does not
# let compat trace a program (ptrace or seccomp refused), saying so.
need_ptrace() {
	local probe prc
	probe=$(timeout 60 "$COMPAT" trace -o /dev/null -- true 2>&1); prc=$?
	if [ $prc != 0 ] && grep -q "not permitted\|seccomp" <<< "$probe"; then
		skip "$1: ptrace or seccomp is not permitted on this machine: $probe"
		exit 0
	fi
}

# lib_opens TRACE.jsonl: "OK FAILED", the successful and failed opens of
# library-looking names (NAME.so or NAME.so.N) in a compat trace.
lib_opens() { /usr/bin/python3 - "$1" <<'PY'
import json, re, sys
ok = failed = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["syscall"].startswith("open") and re.search(r"[^/]\.so(\.[0-9][^/]*)?$", e["path"]):
        if e["result"] >= 0: ok += 1
        else: failed += 1
print(ok, failed)
PY
}
