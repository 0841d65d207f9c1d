#!/usr/bin/env bash
# serial: it measures latency and deadlines
# compat serve against hostile clients (issue 11): one case per attack, each
# driven by tests/integration/hostile.py (python3-grpcio and raw HTTP/2
# frames over sockets, loopback only, bounded in time). Every case also
# checks that a normal client on another connection is answered within
# 0.5 s during and after the attack, the RSS bound, and that the server's
# descriptor count comes back to its baseline.
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
PEERS=$COMPAT_ROOT/tests/fixtures/prototype
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	skip "hostile: /usr/bin/python3 lacks grpc or protobuf (python3-grpcio, python3-protobuf)"; exit 0
fi
mkdir -p "$TMP/gen"
protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/compat.proto" "$COMPAT_ROOT/proto/health.proto"
export COMPAT_CACHE=$TMP/cache HOME=$TMP/home
unset DOCKER_CONFIG
mkdir -p "$HOME"

# serve NAME ARGS...: start a server (its output in $TMP/NAME.out/.err);
# sets PID and ADDR. FDLIMIT=N: under that descriptor limit.
serve() {
	local name=$1; shift
	if [ -n "${FDLIMIT:-}" ]; then
		(ulimit -n "$FDLIMIT" && exec "$COMPAT" serve --listen 127.0.0.1:0 "$@") > "$TMP/$name.out" 2> "$TMP/$name.err" &
	else
		"$COMPAT" serve --listen 127.0.0.1:0 "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
	fi
	PID=$!
	cleanup_hooks+=("kill -9 $PID 2> /dev/null")
	ADDR=
	wait_for_line "$TMP/$name.out" '^server listening: ' 20 || { nok "$name: the server did not start"; return 1; }
	ADDR=$(sed -n 's/^server listening: //p' "$TMP/$name.out" | head -1)
}

# stop NAME: SIGTERM, and the server must exit 0 (under ASan, with no report).
stop() {
	local name=$1 rc
	kill -TERM "$PID" 2> /dev/null
	timeout 20 tail --pid="$PID" -f /dev/null
	wait "$PID"; rc=$?
	t "$name: the server exits 0 on SIGTERM (exit $rc)" test "$rc" = 0
	if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$TMP/$name.err"; then
		nok "$name: sanitizer report"; grep -E 'ERROR|SUMMARY|#[0-9] ' "$TMP/$name.err" | head -12 | sed 's/^/#   /'
	fi
}

# hostile CASE [KEY=VALUE...]: run one case of hostile.py against $ADDR/$PID.
hostile() {
	local c=$1; shift
	timeout 300 /usr/bin/python3 "$HERE/hostile.py" "$c" "$ADDR" "$PID" "$TMP/gen" "$PEERS/xz.json" "$@"
	local rc=$?
	[ $rc -le 1 ] || nok "$c: the Python driver failed (exit $rc)"
	return 0
}

# fake MODE: a fake registry (registry_fake.py); sets FREG and FPID.
fake() {
	rm -f "$TMP/fakeport"
	/usr/bin/python3 "$HERE/registry_fake.py" "$TMP/fakeport" "$1" "$PEERS/xz.json" &
	FPID=$!
	cleanup_hooks+=("kill $FPID 2> /dev/null")
	for i in $(seq 100); do [ -s "$TMP/fakeport" ] && break; sleep 0.05; done
	FREG=127.0.0.1:$(cat "$TMP/fakeport")
}

# 1. Use-after-free: a fetch completes for a connection reset by its client
#    while the loop is busy; both events in one epoll batch.
fake delay:3
serve uaf --allow-registry "$FREG" && hostile uaf registry="$FREG" delay=3 && stop uaf
kill "$FPID" 2> /dev/null

# 6. SSRF: redirects and token realms off --allow-registry.
fake "canary:$TMP/canary.log"; CANARY=$FREG; P1=$FPID
fake "redirect:http://$CANARY/secret"; REDIR=$FREG; P2=$FPID
fake "realm:http://$CANARY/token"; REALM=$FREG; P3=$FPID
fake "redirect:http://127.0.0.1:1/secret"; CLOSED=$FREG; P4=$FPID
serve ssrf --allow-registry "$REDIR" --allow-registry "$REALM" --allow-registry "$CLOSED" &&
	hostile ssrf canary="$CANARY" canary_log="$TMP/canary.log" redirect="$REDIR" realm="$REALM" closed="$CLOSED" &&
	stop ssrf
kill $P1 $P2 $P3 $P4 2> /dev/null

# 2. Quadratic needs, huge replies: bounded per request.
serve needs && hostile needs && stop needs

# 3. Directories a request names: a FIFO named libc.so.6, a directory
#    outside --allow-path, large directories read off the loop.
mkdir -p "$TMP/allowed/fifo" "$TMP/allowed/good" "$TMP/allowed/big" "$TMP/outside"
mkfifo "$TMP/allowed/fifo/libc.so.6"
libc=$(ldd /bin/true | awk '/libc.so.6/ {print $3}')
cp "$libc" "$TMP/allowed/good/libc.so.6"
for i in $(seq 3000); do : > "$TMP/allowed/big/file$i"; done
for i in $(seq 50); do ln -s "$libc" "$TMP/allowed/big/libx$i.so.1"; done
serve dirs --allow-path "$TMP/allowed" &&
	hostile dirs fifo="$TMP/allowed/fifo" big="$TMP/allowed/big" outside="$TMP/outside" good="$TMP/allowed/good" &&
	stop dirs

# 4. Incomplete 4 MiB messages on 2 connections x 50 streams.
serve memory --request-timeout 20000 && hostile memory && stop memory

# 5. Preface-only connections and half-open streams.
serve halfopen --max-connections 200 --request-timeout 1000 --idle-timeout 1800 &&
	hostile halfopen maxconn=200 && stop halfopen

# 7. SIGTERM with requests in flight: a slow fetch finishes, a hung one is
#    told within --drain-timeout, and the exit does not wait for it.
fake delay:2; SLOW=$FREG; P1=$FPID
fake delay:60; HUNG=$FREG; P2=$FPID
serve drain --allow-registry "$SLOW" --allow-registry "$HUNG" --drain-timeout 3000 &&
	hostile drain slow="$SLOW" hung="$HUNG" drain=3 && stop drain
kill $P1 $P2 2> /dev/null

# 8. Slow registry requests from clients that hang up.
fake delay:3; SLOW=$FREG; P1=$FPID
fake bearer; FAST=$FREG; P2=$FPID
serve queue --allow-registry "$SLOW" --allow-registry "$FAST" --fetch-workers 2 --max-jobs-per-conn 4 --max-queue 6 &&
	hostile queue slow="$SLOW" fast="$FAST" && stop queue
kill $P1 $P2 2> /dev/null

# 10. Server reflection, a streaming call: requests for ever, a huge
#     message, a stream never ended, bursts of tiny requests never read.
serve stream --request-timeout 2000 --max-stream-messages 1024 && hostile stream rt=2000 maxmsg=1024 && stop stream

# 11. Issue 15: SIGHUP rebuilds under load from 8 connections on 2 loops.
mkdir -p "$TMP/hup"
if cc -shared -fPIC -Wl,-soname,libhup.so.1 -o "$TMP/libhup.so" -x c - <<< 'int hup(void) { return 1; }'; then
	serve reload --threads 2 --library-path "$TMP/hup" &&
		hostile reload loops=2 libdir="$TMP/hup" lib="$TMP/libhup.so" err="$TMP/reload.err" && stop reload
else
	nok "reload: cannot build the fixture library with cc"
fi

# 9. A connection storm under a 64-descriptor limit, --max-connections 1024.
FDLIMIT=64 serve emfile --handshake-timeout 1000 &&
	t "emfile: --max-connections is lowered to fit the descriptor limit" grep -q 'max-connections 1024 lowered to' "$TMP/emfile.err" &&
	hostile emfile && stop emfile
