#!/usr/bin/env bash
# compat serve with real clients: Debian's python3-grpcio (interop, bad input,
# floods), signals, IPv6. The server is started here on a free port.
. "$(dirname "$0")/lib.sh"
PEERS=$COMPAT_ROOT/tests/fixtures/prototype
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	skip "serve interop: /usr/bin/python3 lacks grpc or protobuf (python3-grpcio, python3-protobuf)"; exit 0
fi
mkdir -p "$TMP/gen"
protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/compat.proto" "$COMPAT_ROOT/proto/health.proto"

start() { # listen-address; sets PID and ADDR
	: > "$TMP/srv.out"	# emptied here: the background shell's '>' may come after the wait starts
	"$BIN/compat-server" --listen "$1" "${@:2}" > "$TMP/srv.out" 2> "$TMP/srv.err" &
	PID=$!
	cleanup_hooks+=("kill -9 $PID 2>/dev/null")
	if ! wait_for_line "$TMP/srv.out" 'server listening:' 30; then
		nok "the server with ${*:2} did not start within 30 s"
		sed 's/^/#   /' "$TMP/srv.err" | head -5
	fi
	ADDR=$(sed -n 's/^server listening: //p' "$TMP/srv.out")
}

start 127.0.0.1:0
t "compat-server prints 'server listening: ADDR'" test -n "$ADDR"
timeout 300 /usr/bin/python3 "$(dirname "$0")/serve_grpc.py" "$ADDR" "$TMP/gen" "$PEERS"
rc=$?; [ $rc = 0 ] || nok "serve_grpc.py ran to its end (exit $rc)"

# compat check --host: the same report and exit codes as a local check.
expect_status 0 "check --host: compatible (exit 0)" "$BIN/compat-check" --host "$ADDR" "$PEERS/xz.json"
t "check --host: the resolved libraries are shown" grep -q 'libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6' "$TMP/out"
expect_status 1 "check --host: incompatible (exit 1)" "$COMPAT" check --host "$ADDR" --json "$PEERS/missing.json"
t "check --host --json: the server's findings" grep -q '"kind":"missing-soname"' "$TMP/out"
expect_status 2 "check --host: an artifact the server cannot read (exit 2)" "$COMPAT" check --host "$ADDR" "$PEERS/bad.json"
t "check --host: the server's reason is shown" grep -q 'unexpected token' "$TMP/err"
# --library-path travels as CompatRequest.library_path and is searched first
# by the server: the same artifact is compatible with one copy of the
# library and lacks a version with the other.
. "$(dirname "$0")/fixtures.sh"
LD_LIBRARY_PATH="$FX/vboth" "$COMPAT" gen -o "$TMP/v.json" "$FX/exe_v"
expect_status 0 "check --host --library-path: the full copy is compatible" "$COMPAT" check --host "$ADDR" --library-path "/nonexistent:$FX/vboth" "$TMP/v.json"
expect_status 1 "check --host --library-path: the old copy lacks FOO_2.0" "$COMPAT" check --host "$ADDR" --library-path "$FX/v1" "$TMP/v.json"
t "check --host --library-path: the finding names the version" grep -q 'libfxv.so.1 provides up to FOO_1.0; FOO_2.0 needed by bar, foo_new' "$TMP/out"
expect_status 3 "check --host: no server there (exit 3)" "$COMPAT" check --host 127.0.0.1:1 "$PEERS/xz.json"
t "check --host: the address is in the message" grep -q '127.0.0.1:1' "$TMP/err"

kill -HUP "$PID"
t "SIGHUP rebuilds the index and keeps serving" bash -c '. "$3"; wait_for_line "$1" "index rebuilt" 10 && kill -0 "$2"' _ "$TMP/srv.err" "$PID" "$COMPAT_ROOT/tests/integration/lib.sh"
kill -TERM "$PID"; wait "$PID"; rc=$?
t "SIGTERM: the server exits 0" test "$rc" = 0

if /usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2> /dev/null; then
	start '[::]:0' --log
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
	m=/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility
	t "--log on [::]: an IPv6 client as [ADDR]:PORT" grep -qE "^\[::1\]:[0-9]+ $m OK compatible [0-9]+us\$" "$TMP/srv.err"
	t "--log on [::]: an IPv4 client as plain IPv4, not ::ffff:" grep -qE "^127\.0\.0\.1:[0-9]+ $m OK compatible [0-9]+us\$" "$TMP/srv.err"
else
	skip "IPv6: this machine has no ::1"
fi
# TLS: a CA and a server certificate made here by openssl; Python's grpcio and
# compat check --host as clients; then client certificates required.
if command -v openssl > /dev/null; then
	C=$TMP/tls; mkdir -p "$C"
	(cd "$C" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=compat test CA' &&
	 openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' &&
	 printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext &&
	 openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext &&
	 openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj '/CN=client' &&
	 openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2) > "$TMP/openssl.log" 2>&1
	start 127.0.0.1:0 --tls-cert "$C/srv.pem" --tls-key "$C/srv.key"
	port=${ADDR##*:}
	tls_py() { # ca [client-cert client-key]: health over TLS, prints the status name
		timeout 20 /usr/bin/python3 - "$TMP/gen" "$port" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc, health_pb2
a = sys.argv[3:]
rd = lambda p: open(p, "rb").read()
creds = grpc.ssl_channel_credentials(root_certificates=rd(a[0]), private_key=rd(a[2]) if len(a) > 2 else None,
                                     certificate_chain=rd(a[1]) if len(a) > 2 else None)
ch = grpc.secure_channel("localhost:" + sys.argv[2], creds)
f = ch.unary_unary("/grpc.health.v1.Health/Check", request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                   response_deserializer=health_pb2.HealthCheckResponse.FromString)
try:
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(f(health_pb2.HealthCheckRequest(), timeout=5).status))
except grpc.RpcError as e:
    print(e.code().name)
PY
	}
	out=$(tls_py "$C/ca.pem")
	t "TLS: python3-grpcio over TLS with the test CA: SERVING ($out)" test "$out" = SERVING
	expect_status 0 "TLS: compat check --host --tls-ca" "$COMPAT" check --host "localhost:$port" --tls-ca "$C/ca.pem" "$PEERS/xz.json"
	expect_status 0 "TLS: --tls-name for an IP address" "$COMPAT" check --host "127.0.0.1:$port" --tls-ca "$C/ca.pem" --tls-name localhost "$PEERS/xz.json"
	expect_status 3 "TLS: a server certificate from another CA is refused (exit 3)" "$COMPAT" check --host "localhost:$port" --tls-ca /etc/ssl/certs/ca-certificates.crt "$PEERS/xz.json"
	t "TLS: the refusal says why" grep -q 'verification failed' "$TMP/err"
	expect_status 3 "TLS: a plaintext client gets no answer (exit 3)" "$COMPAT" check --host "localhost:$port" "$PEERS/xz.json"
	kill -TERM "$PID"; wait "$PID"
	start 127.0.0.1:0 --tls-cert "$C/srv.pem" --tls-key "$C/srv.key" --tls-client-ca "$C/ca.pem"
	port=${ADDR##*:}
	out=$(tls_py "$C/ca.pem" "$C/cli.pem" "$C/cli.key")
	t "TLS client certificates: a client with one is served ($out)" test "$out" = SERVING
	out=$(tls_py "$C/ca.pem")
	t "TLS client certificates: a client without one is refused ($out)" test "$out" = UNAVAILABLE
	kill -TERM "$PID"; wait "$PID"
else
	skip "TLS: openssl is not installed"
fi

# The server under valgrind: requests, bad input, SIGTERM; no errors, no leaks.
if command -v valgrind > /dev/null && [ "${SANITIZE:-0}" = 0 ]; then
	valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$COMPAT" serve --listen 127.0.0.1:0 > "$TMP/vg.out" 2> "$TMP/vg.err" &
	VPID=$!
	cleanup_hooks+=("kill -9 $VPID 2>/dev/null")
	for i in $(seq 200); do grep -q 'server listening:' "$TMP/vg.out" && break; sleep 0.1; done
	VADDR=$(sed -n 's/^server listening: //p' "$TMP/vg.out")
	"$COMPAT" check --host "$VADDR" "$PEERS/xz.json" > /dev/null
	"$COMPAT" check --host "$VADDR" "$PEERS/missing.json" > /dev/null
	"$COMPAT" check --host "$VADDR" "$PEERS/bad.json" 2> /dev/null
	printf 'garbage\r\n\r\n' | timeout 5 /usr/bin/python3 -c '
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p))); s.sendall(sys.stdin.buffer.read()); s.recv(100)' "$VADDR" 2> /dev/null
	kill -TERM "$VPID"; wait "$VPID"; vrc=$?
	t "valgrind: the server ran requests and bad input and stopped clean (exit $vrc)" test "$vrc" = 0
	[ "$vrc" = 0 ] || grep '==' "$TMP/vg.err" | head -10 | sed 's/^/#   /'
else
	skip "serve under valgrind: valgrind missing or a sanitizer build"
fi
expect_status 2 "serve: a bad --listen address is refused" "$COMPAT" serve --listen nonsense
expect_status 2 "serve: a bad limit is refused" "$COMPAT" serve --max-streams 0
