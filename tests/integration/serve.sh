#!/usr/bin/env bash
# compat serve with real clients: Debian's python3-grpcio (interop, bad input,
# floods), signals, IPv6. The server is started here on a free port.
. "$(dirname "$0")/lib.sh"
PEERS=$COMPAT_ROOT/../shared/peers/artifacts
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	skip "serve interop: /usr/bin/python3 lacks grpc or protobuf (python3-grpcio, python3-protobuf)"; exit 0
fi
mkdir -p "$TMP/gen"
protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/compat.proto" "$COMPAT_ROOT/proto/health.proto"

start() { # listen-address; sets PID and ADDR
	"$BIN/compat-server" --listen "$1" "${@:2}" > "$TMP/srv.out" 2> "$TMP/srv.err" &
	PID=$!
	cleanup_hooks+=("kill -9 $PID 2>/dev/null")
	for i in $(seq 100); do grep -q 'server listening:' "$TMP/srv.out" && break; sleep 0.05; done
	ADDR=$(sed -n 's/^server listening: //p' "$TMP/srv.out")
}

start 127.0.0.1:0
t "compat-server prints 'server listening: ADDR'" test -n "$ADDR"
timeout 300 /usr/bin/python3 "$(dirname "$0")/serve_grpc.py" "$ADDR" "$TMP/gen" "$PEERS"

kill -HUP "$PID"; sleep 0.5
t "SIGHUP rebuilds the index and keeps serving" bash -c 'grep -q "index rebuilt" "$1" && kill -0 "$2"' _ "$TMP/srv.err" "$PID"
kill -TERM "$PID"; wait "$PID"; rc=$?
t "SIGTERM: the server exits 0" test "$rc" = 0

if /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2> /dev/null; then
	start '[::]:0'
	port=${ADDR##*:}
	out=$(timeout 20 /usr/bin/python3 - "$TMP/gen" "$PEERS/xz.json" "$port" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc, compat_pb2
for host in ("[::1]", "127.0.0.1"):
    ch = grpc.insecure_channel("%s:%s" % (host, sys.argv[3]))
    f = ch.unary_unary("/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility",
                       request_serializer=compat_pb2.CompatRequest.SerializeToString,
                       response_deserializer=compat_pb2.Response.FromString)
    print(host, f(compat_pb2.CompatRequest(payload=open(sys.argv[2]).read()), timeout=10).compatible)
PY
)
	t "[::] serves IPv6 and IPv4 clients" bash -c 'grep -q "\[::1\] True" <<< "$1" && grep -q "127.0.0.1 True" <<< "$1"' _ "$out"
	kill -TERM "$PID"; wait "$PID"
else
	skip "IPv6: this machine has no ::1"
fi
expect_status 2 "serve: a bad --listen address is refused" "$COMPAT" serve --listen nonsense
expect_status 2 "serve: a bad limit is refused" "$COMPAT" serve --max-streams 0
