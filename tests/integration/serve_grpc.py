#!/usr/bin/python3
"""Interop: Debian's python3-grpcio against compat serve.

Usage: serve_grpc.py HOST:PORT GEN_DIR ARTIFACTS_DIR
GEN_DIR holds compat_pb2.py / health_pb2.py made by protoc from proto/.
Prints TAP-like lines; the calling script counts them."""
import json, socket, sys, time
sys.path.insert(0, sys.argv[2])
import grpc
import compat_pb2, health_pb2

addr, arts = sys.argv[1], sys.argv[3]
SVC = "/convergedcomputing.org.grpc.v1.CompatibilityService/"
chan = grpc.insecure_channel(addr)
check = chan.unary_unary(SVC + "CheckCompatibility",
                         request_serializer=compat_pb2.CompatRequest.SerializeToString,
                         response_deserializer=compat_pb2.Response.FromString)
locate = chan.unary_unary(SVC + "LocateLibraries",
                          request_serializer=compat_pb2.LocateRequest.SerializeToString,
                          response_deserializer=compat_pb2.LocateResponse.FromString)
health = chan.unary_unary("/grpc.health.v1.Health/Check",
                          request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                          response_deserializer=health_pb2.HealthCheckResponse.FromString)

def t(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and detail:
        print("#   " + str(detail).replace("\n", "\n#   "))

def code_of(fn, *a, **kw):
    try:
        fn(*a, timeout=10, **kw)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as e:
        return e.code(), e.details()

def normal_request_works(after):
    r = check(compat_pb2.CompatRequest(payload=open(arts + "/xz.json").read()), timeout=10)
    t("a normal request still succeeds after " + after, r.status == compat_pb2.Response.SUCCESS and r.compatible)

h = health(health_pb2.HealthCheckRequest(), timeout=10)
t("health: whole server SERVING", h.status == health_pb2.HealthCheckResponse.SERVING)
h = health(health_pb2.HealthCheckRequest(service="convergedcomputing.org.grpc.v1.CompatibilityService"), timeout=10)
t("health: the service SERVING", h.status == health_pb2.HealthCheckResponse.SERVING)
c, _ = code_of(health, health_pb2.HealthCheckRequest(service="no.such.Service"))
t("health: unknown service is NOT_FOUND", c == grpc.StatusCode.NOT_FOUND, c)

r = check(compat_pb2.CompatRequest(payload=open(arts + "/xz.json").read()), timeout=10)
rep = json.loads(r.payload)
t("check: the prototype's xz.json is compatible", r.status == compat_pb2.Response.SUCCESS and r.compatible, r)
t("check: the JSON report resolves libc.so.6", rep["resolved"].get("libc.so.6", "").endswith("/libc.so.6"), rep)

r = check(compat_pb2.CompatRequest(payload=open(arts + "/missing.json").read()), timeout=10)
t("check: missing.json is incompatible with a missing-soname finding",
  r.status == compat_pb2.Response.SUCCESS and not r.compatible and
  any(f.kind == "missing-soname" and f.soname == "libcompat-fixture-absent.so.9" for f in r.findings), r)

r = check(compat_pb2.CompatRequest(payload=open(arts + "/bad.json").read()), timeout=10)
t("check: broken JSON is status ERROR with a message", r.status == compat_pb2.Response.ERROR and
  not r.compatible and "error" in json.loads(r.payload), r)

r = check(compat_pb2.CompatRequest(uri="registry.example.com/app/artifact:1"), timeout=10)
t("check: a uri on a registry not allowed is DENIED", r.status == compat_pb2.Response.DENIED, r)

art = json.dumps({"version": "0.1.0", "attributes": {
    "llnl.compatlib.elf.class": "ELF64", "llnl.compatlib.elf.machine": "x86_64",
    "llnl.compatlib.needed.libc.so.6": "GLIBC_2.2.5 GLIBC_99.0",
    "llnl.compatlib.symbols.libc.so.6": "printf no_such_function_here"}})
r = check(compat_pb2.CompatRequest(payload=art), timeout=10)
kinds = sorted(f.kind for f in r.findings)
t("check: every finding is reported (missing-version and undefined-symbol)",
  not r.compatible and kinds == ["missing-version", "undefined-symbol"], kinds)

r = check(compat_pb2.CompatRequest(payload=art, library_path=["/nonexistent"]), timeout=10)
t("check: library_path is accepted", r.status == compat_pb2.Response.SUCCESS)

l = locate(compat_pb2.LocateRequest(soname=["libc.so.6", "libnope.so.7"]), timeout=10)
m = {x.soname: x.path for x in l.locations}
t("locate: libc.so.6 found, an unknown soname empty",
  m.get("libc.so.6") == "/lib/x86_64-linux-gnu/libc.so.6" and m.get("libnope.so.7") == "", m)

c, _ = code_of(chan.unary_unary(SVC + "NoSuchMethod"), b"")
t("an unknown method is UNIMPLEMENTED", c == grpc.StatusCode.UNIMPLEMENTED, c)

big = "x" * (5 * 1024 * 1024)
c, d = code_of(check, compat_pb2.CompatRequest(payload=big))
t("a 5 MiB message is RESOURCE_EXHAUSTED", c == grpc.StatusCode.RESOURCE_EXHAUSTED, (c, d))
normal_request_works("a 5 MiB message")

# large and compressible, so that grpcio really sets the compressed flag
c, d = code_of(check, compat_pb2.CompatRequest(payload="{" + " " * 100000), compression=grpc.Compression.Gzip)
t("a compressed message is refused (UNIMPLEMENTED)", c == grpc.StatusCode.UNIMPLEMENTED, (c, d))

# Raw sockets: garbage instead of the HTTP/2 preface, then a normal client.
host, port = addr.rsplit(":", 1)
s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\x00" * 100)
closed = False
try:
    while s.recv(4096):
        pass
    closed = True          # EOF: the server hung up
except OSError:
    pass                   # still open after 5 s
s.close()
t("garbage instead of the preface: the server closes the connection", closed)
normal_request_works("garbage on another connection")

# Invalid frames after a valid preface: a DATA frame on stream 0.
s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00" +
          b"\x00\x00\x04\x00\x00\x00\x00\x00\x00abcd")
got = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
except OSError:
    pass
s.close()
def goaway_code(frames):
    """Error code of the first GOAWAY frame (type 7) in raw HTTP/2 bytes."""
    i = 0
    while i + 9 <= len(frames):
        n = int.from_bytes(frames[i:i + 3], "big")
        if frames[i + 3] == 7 and n >= 8:
            return int.from_bytes(frames[i + 13:i + 17], "big")
        i += 9 + n
    return None
t("an invalid frame gets GOAWAY(PROTOCOL_ERROR) and the connection closes", goaway_code(got) == 1, got[-40:])
normal_request_works("an invalid frame")

# Many idle connections while another client is served.
idle = []
try:
    for i in range(300):
        idle.append(socket.create_connection((host.strip("[]"), int(port)), timeout=5))
except OSError as e:
    print("#   opened %d idle connections (%s)" % (len(idle), e))
t1 = time.time()
r = check(compat_pb2.CompatRequest(payload=open(arts + "/xz.json").read()), timeout=10)
t("%d idle connections held open: another client is served (%.0f ms)" % (len(idle), (time.time() - t1) * 1000),
  r.compatible and time.time() - t1 < 2)
for x in idle:
    x.close()

# A client that never reads: sends many requests and reads nothing.
s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
s.settimeout(0.5)
try:
    for i in range(200):
        s.sendall(b"\x00\x00\x00\x06\x00\x00\x00\x00\x00" + b"12345678")   # PING frames
except OSError:
    pass
normal_request_works("a client that never reads")
s.close()

# Rapid reset (CVE-2023-44487): open and cancel streams as fast as possible.
s = socket.create_connection((host.strip("[]"), int(port)), timeout=5)
frames = [b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"]
hdr = b"\x83\x86\x84"          # :method POST, :scheme http, :path / (HPACK static table)
for i in range(3000):
    sid = (2 * i + 1).to_bytes(4, "big")
    frames.append(len(hdr).to_bytes(3, "big") + b"\x01\x04" + sid + hdr)          # HEADERS, END_HEADERS
    frames.append(b"\x00\x00\x04\x03\x00" + sid + b"\x00\x00\x00\x08")             # RST_STREAM CANCEL
try:
    s.sendall(b"".join(frames))
except OSError:
    pass
got = b""
s.settimeout(2)
try:
    while len(got) < 1 << 20:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except OSError:
    pass
s.close()
print("#   rapid reset: GOAWAY code %s after 3000 opened-and-reset streams" % goaway_code(got))
t("rapid reset: the flooding connection is closed with GOAWAY", goaway_code(got) is not None)
normal_request_works("a rapid-reset storm")
