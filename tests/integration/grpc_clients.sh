#!/usr/bin/env bash
# Clients generated from this repository's protos by the standard gRPC
# tooling (protoc + grpc_python_plugin, Debian's python3-grpcio) work against
# compat serve: the Health stub from proto/health.proto, the
# CompatibilityService stub from proto/compat.proto, Finding.warning.
. "$(dirname "$0")/lib.sh"
if ! /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	skip "grpc clients: python3-grpcio is not installed"; exit 0; fi
if ! command -v grpc_python_plugin > /dev/null; then
	skip "grpc clients: grpc_python_plugin (protobuf-compiler-grpc) is not installed"; exit 0; fi
G=$TMP/gen; mkdir -p "$G"
t "stubs generated from proto/compat.proto and proto/health.proto" \
	protoc -I"$COMPAT_ROOT/proto" --python_out="$G" --grpc_out="$G" \
	--plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
	"$COMPAT_ROOT/proto/compat.proto" "$COMPAT_ROOT/proto/health.proto"

# A library that defines no symbol versions: a need for a version from it is
# a warning (cannot be confirmed), not a finding.
mkdir -p "$TMP/lib"
echo 'int nov(void) { return 1; }' > "$TMP/nov.c"
gcc -shared -fPIC -o "$TMP/lib/libnov.so.1" "$TMP/nov.c" -Wl,-soname,libnov.so.1
cat > "$TMP/warn.json" <<E
{"version": "0.1.0", "attributes": {
  "llnl.compatlib.executable-name": "warned",
  "llnl.compatlib.elf.class": "ELF64", "llnl.compatlib.elf.machine": "x86_64",
  "llnl.compatlib.library-name.0": "libnov.so.1",
  "llnl.compatlib.needed.libnov.so.1": "NOV_1.0"}}
E

start_server "$TMP/srv.out" --listen 127.0.0.1:0 || { nok "compat serve starts"; exit 0; }
timeout 60 /usr/bin/python3 - "$G" "$SERVER_ADDR" "$TMP/warn.json" "$TMP/lib" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc
import compat_pb2, compat_pb2_grpc, health_pb2, health_pb2_grpc

def t(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and detail:
        print("#   " + str(detail).replace("\n", "\n#   "))

chan = grpc.insecure_channel(sys.argv[2])
health = health_pb2_grpc.HealthStub(chan)
r = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
t("Health stub: Check says SERVING", r.status == health_pb2.HealthCheckResponse.SERVING, r)
try:
    next(iter(health.Watch(health_pb2.HealthCheckRequest(), timeout=10)))
    t("Health stub: Watch answers UNIMPLEMENTED", False, "got a message")
except grpc.RpcError as e:
    t("Health stub: Watch answers UNIMPLEMENTED", e.code() == grpc.StatusCode.UNIMPLEMENTED, e)

svc = compat_pb2_grpc.CompatibilityServiceStub(chan)
req = compat_pb2.CompatRequest(payload=open(sys.argv[3]).read(), library_path=[sys.argv[4]])
r = svc.CheckCompatibility(req, timeout=10)
warn = [f for f in r.findings if f.kind == "missing-version"]
t("CompatibilityService stub: a version that cannot be confirmed is a warning",
  r.status == compat_pb2.Response.SUCCESS and r.compatible and len(warn) == 1 and warn[0].warning, r)
loc = svc.LocateLibraries(compat_pb2.LocateRequest(soname=["libc.so.6"]), timeout=10)
t("CompatibilityService stub: LocateLibraries finds libc.so.6",
  len(loc.locations) == 1 and loc.locations[0].path.endswith("/libc.so.6"), loc)
PY
rc=$?; [ $rc = 0 ] || nok "the generated-stub client ran to its end (exit $rc)"
