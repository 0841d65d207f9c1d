#!/usr/bin/env bash
# Server reflection (grpc.reflection.v1 and v1alpha) with a client that
# knows only what the server tells it (tests/integration/reflection.py on
# Debian's python3-grpcio); grpc_cli and grpcurl when installed (neither is
# packaged in Debian 12); compat serve --log's lines, exactly; --quiet.
. "$(dirname "$0")/lib.sh"
HERE=$(dirname "$0")
PEERS=$COMPAT_ROOT/tests/fixtures/prototype
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	skip "reflection: /usr/bin/python3 lacks grpc or protobuf (python3-grpcio, python3-protobuf)"; exit 0
fi
mkdir -p "$TMP/gen"
protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/reflection.proto" \
	"$COMPAT_ROOT/proto/reflection_v1alpha.proto" "$COMPAT_ROOT/proto/compat.proto"
protoc -I"$COMPAT_ROOT/proto" --include_imports --descriptor_set_out="$TMP/expected.pb" "$COMPAT_ROOT"/proto/*.proto

"$COMPAT" serve --listen 127.0.0.1:0 --log > "$TMP/srv.out" 2> "$TMP/srv.err" &
PID=$!
cleanup_hooks+=("kill -9 $PID 2> /dev/null")
wait_for_line "$TMP/srv.out" '^server listening: ' || { nok "compat serve --log starts"; exit 0; }
ADDR=$(sed -n 's/^server listening: //p' "$TMP/srv.out")

timeout 60 /usr/bin/python3 "$HERE/reflection.py" "$ADDR" "$TMP/gen" "$TMP/expected.pb" "$PEERS/xz.json"
rc=$?; [ $rc = 0 ] || nok "reflection.py ran to its end with every check passed (exit $rc)"

for tool in grpc_cli grpcurl; do
	if ! command -v $tool > /dev/null; then
		skip "$tool list: $tool is not installed (not packaged in Debian 12; reflection.py makes the requests they make)"
		continue
	fi
	if [ $tool = grpc_cli ]; then out=$(timeout 20 grpc_cli ls "$ADDR" 2>&1); else out=$(timeout 20 grpcurl -plaintext "$ADDR" list 2>&1); fi
	t "$tool list: our services" grep -qx 'convergedcomputing.org.grpc.v1.CompatibilityService' <<< "$out"
done

# The request log: one line per request, however it ends. Requests of
# every kind, one at a time, then the log compared line for line (ports
# and microseconds vary: replaced by PORT and N).
kill -TERM "$PID"; wait "$PID"
"$COMPAT" serve --listen 127.0.0.1:0 --log --request-timeout 1000 > "$TMP/log.out" 2> "$TMP/log.err" &
PID=$!
cleanup_hooks+=("kill -9 $PID 2> /dev/null")
wait_for_line "$TMP/log.out" '^server listening: ' || { nok "compat serve --log starts"; exit 0; }
ADDR=$(sed -n 's/^server listening: //p' "$TMP/log.out")
"$COMPAT" check --host "$ADDR" "$PEERS/xz.json" > /dev/null
"$COMPAT" check --host "$ADDR" "$PEERS/missing.json" > /dev/null
"$COMPAT" check --host "$ADDR" "$PEERS/bad.json" 2> /dev/null
timeout 30 /usr/bin/python3 - "$TMP/gen" "$ADDR" <<'PY'
import sys, threading, time
sys.path.insert(0, sys.argv[1])
import grpc, compat_pb2, reflection_pb2 as R
ch = grpc.insecure_channel(sys.argv[2])
def unary(path, req, resp):
    return ch.unary_unary(path, request_serializer=req.SerializeToString, response_deserializer=resp.FromString)
CHECK = "/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility"
r = unary(CHECK, compat_pb2.CompatRequest, compat_pb2.Response)(compat_pb2.CompatRequest(uri="registry.invalid/x:1"), timeout=5)
assert r.status == compat_pb2.Response.DENIED, r
try:
    unary("/convergedcomputing.org.grpc.v1.CompatibilityService/NoSuch", compat_pb2.CompatRequest, compat_pb2.Response)(compat_pb2.CompatRequest(), timeout=5)
    raise SystemExit("NoSuch answered")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.UNIMPLEMENTED, e
f = ch.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                     request_serializer=R.ServerReflectionRequest.SerializeToString,
                     response_deserializer=R.ServerReflectionResponse.FromString)
assert len(list(f(iter([R.ServerReflectionRequest(list_services="")] * 2), timeout=5))) == 2
# A client that gives up: its call is reset before any answer.
ev = threading.Event()
def wait_forever():
    yield compat_pb2.CompatRequest()
    ev.wait(10)
g = ch.stream_unary(CHECK, request_serializer=compat_pb2.CompatRequest.SerializeToString,
                    response_deserializer=compat_pb2.Response.FromString).future(wait_forever(), timeout=10)
time.sleep(0.3)
g.cancel()
ev.set()
time.sleep(0.3)
# A stream of reflection requests never ended: DEADLINE_EXCEEDED at --request-timeout.
def one_then_wait():
    yield R.ServerReflectionRequest(list_services="")
    time.sleep(3)
try:
    list(f(one_then_wait(), timeout=10))
    raise SystemExit("the endless stream was not ended")
except grpc.RpcError as e:
    assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e
PY
rc=$?; t "the log's clients ran (exit $rc)" test $rc = 0
curl -s --http2-prior-knowledge -o /dev/null "http://$ADDR/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility"
curl -s --http2-prior-knowledge -o /dev/null -H 'content-type: text/plain' -d x "http://$ADDR/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility"
sleep 0.3
kill -TERM "$PID"; wait "$PID"
S=/convergedcomputing.org.grpc.v1.CompatibilityService
sed -E 's/^127\.0\.0\.1:[0-9]+ /127.0.0.1:PORT /; s/ [0-9]+us$/ Nus/' "$TMP/log.err" > "$TMP/log.norm"
cat > "$TMP/log.want" <<E
127.0.0.1:PORT $S/CheckCompatibility OK compatible Nus
127.0.0.1:PORT $S/CheckCompatibility OK incompatible Nus
127.0.0.1:PORT $S/CheckCompatibility OK error Nus
127.0.0.1:PORT $S/CheckCompatibility OK denied Nus
127.0.0.1:PORT $S/NoSuch UNIMPLEMENTED - Nus
127.0.0.1:PORT /grpc.reflection.v1.ServerReflection/ServerReflectionInfo OK - Nus
127.0.0.1:PORT $S/CheckCompatibility CANCELLED - Nus
127.0.0.1:PORT /grpc.reflection.v1.ServerReflection/ServerReflectionInfo DEADLINE_EXCEEDED - Nus
127.0.0.1:PORT $S/CheckCompatibility HTTP_405 - Nus
127.0.0.1:PORT $S/CheckCompatibility HTTP_415 - Nus
E
if diff "$TMP/log.want" "$TMP/log.norm" > "$TMP/log.diff"; then
	ok "--log: one line per request: address, method, status, verdict, microseconds"
else
	nok "--log: one line per request: address, method, status, verdict, microseconds"
	sed 's/^/#   /' "$TMP/log.diff" | head -20
fi
t "--log: the time is plausible (a verdict in under a second)" \
	awk 'NR == 1 { sub(/us$/, "", $5); exit !($5 + 0 > 0 && $5 + 0 < 1000000) }' "$TMP/log.err"

# Without --log, the same requests write nothing; with --quiet, not even
# the index rebuild; "server listening:" stays on stdout.
"$COMPAT" serve --listen 127.0.0.1:0 --quiet > "$TMP/q.out" 2> "$TMP/q.err" &
PID=$!
cleanup_hooks+=("kill -9 $PID 2> /dev/null")
if wait_for_line "$TMP/q.out" '^server listening: '; then
	ok "--quiet: 'server listening:' still on stdout"
	ADDR=$(sed -n 's/^server listening: //p' "$TMP/q.out")
	"$COMPAT" check --host "$ADDR" "$PEERS/xz.json" > /dev/null
	kill -HUP "$PID"
	sleep 0.5
	expect_status 0 "--quiet: serving after SIGHUP" "$COMPAT" check --host "$ADDR" "$PEERS/xz.json"
	kill -TERM "$PID"; wait "$PID"; rc=$?
	t "--quiet: exits 0 on SIGTERM" test $rc = 0
	t "--quiet: nothing on stderr (no request lines, no 'index rebuilt')" test ! -s "$TMP/q.err"
else
	nok "--quiet: 'server listening:' still on stdout"
fi
