#!/usr/bin/python3
"""A server-reflection client, as grpcurl and grpc_cli are, on Debian's
python3-grpcio: it knows nothing of compat's protos but what the server
tells it.

Usage: reflection.py ADDR GEN_DIR EXPECTED_SET ARTIFACT
GEN_DIR holds reflection_pb2.py / reflection_v1alpha_pb2.py (protoc, from
this repository's proto/reflection*.proto); EXPECTED_SET is protoc's own
FileDescriptorSet of proto/*.proto; ARTIFACT a compatible artifact.
Prints TAP-like lines; exits 1 if any failed (or on an exception)."""
import sys, traceback
sys.path.insert(0, sys.argv[2])
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
import reflection_pb2, reflection_v1alpha_pb2

ADDR, EXPECTED, ART = sys.argv[1], sys.argv[3], sys.argv[4]
PKG = "convergedcomputing.org.grpc.v1"
failed = 0


def t(name, cond, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    if not cond:
        failed += 1
        if detail != "":
            print("#   " + str(detail).replace("\n", "\n#   "), flush=True)


expected = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(open(EXPECTED, "rb").read()).file}
chan = grpc.insecure_channel(ADDR)


def session(version, mod, requests):
    """One ServerReflectionInfo stream: the answers to requests, in order."""
    f = chan.stream_stream("/grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % version,
                           request_serializer=mod.ServerReflectionRequest.SerializeToString,
                           response_deserializer=mod.ServerReflectionResponse.FromString)
    return list(f(iter(requests), timeout=10))


def files_of(resp):
    return [descriptor_pb2.FileDescriptorProto.FromString(b) for b in resp.file_descriptor_response.file_descriptor_proto]


for version, mod in (("v1", reflection_pb2), ("v1alpha", reflection_v1alpha_pb2)):
    Req = mod.ServerReflectionRequest
    answers = session(version, mod, [
        Req(host="localhost", list_services=""),
        Req(file_containing_symbol=PKG + ".CompatibilityService"),
        Req(file_containing_symbol="grpc.health.v1.Health"),
        Req(file_by_filename="health.proto"),
        Req(file_containing_symbol=PKG + ".Response.ResultType"),
        Req(file_containing_symbol="grpc.health.v1.Health.Check"),
        Req(file_containing_symbol=PKG + ".NoSuchService"),
        Req(file_by_filename="no_such.proto"),
        Req(all_extension_numbers_of_type=PKG + ".Response"),
    ])
    t("%s: one answer per request on one stream (%d of 9)" % (version, len(answers)), len(answers) == 9)
    if len(answers) != 9:
        continue
    ls, svc, health, byname, enum, method, nosym, nofile, ext = answers
    names = [s.name for s in ls.list_services_response.service]
    t("%s: list_services names our services and reflection" % version,
      names == [PKG + ".CompatibilityService", "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"], names)
    t("%s: each answer carries its request" % version,
      ls.original_request.WhichOneof("message_request") == "list_services" and ls.valid_host == "localhost" and
      nofile.original_request.file_by_filename == "no_such.proto", (ls, nofile))
    fds = files_of(svc)
    ok = len(fds) == 1 and fds[0].name == "compat.proto" and fds[0].package == PKG
    t("%s: CompatibilityService by symbol: compat.proto, parsed by descriptor_pb2" % version, ok, fds)
    if ok:
        s = fds[0].service[0]
        t("%s: ... its methods and their types" % version,
          s.name == "CompatibilityService" and
          [(m.name, m.input_type, m.output_type) for m in s.method] ==
          [("CheckCompatibility", "." + PKG + ".CompatRequest", "." + PKG + ".Response"),
           ("LocateLibraries", "." + PKG + ".LocateRequest", "." + PKG + ".LocateResponse")], s)
        t("%s: ... the same descriptor protoc makes of proto/compat.proto" % version, fds[0] == expected["compat.proto"])
        t("%s: ... Finding.warning, field 4, is in it" % version,
          [(f.name, f.number) for m in fds[0].message_type if m.name == "Finding" for f in m.field][-1] == ("warning", 4))
    hf = files_of(health)
    t("%s: Health by symbol: health.proto with Check and a server-streaming Watch" % version,
      len(hf) == 1 and hf[0] == expected["health.proto"] and
      [(m.name, m.server_streaming) for m in hf[0].service[0].method] == [("Check", False), ("Watch", True)], hf)
    t("%s: file_by_filename health.proto" % version, files_of(byname) == hf)
    t("%s: a nested enum by symbol" % version, [f.name for f in files_of(enum)] == ["compat.proto"])
    t("%s: a method by symbol" % version, [f.name for f in files_of(method)] == ["health.proto"])
    for name, a, what in (("symbol", nosym, PKG + ".NoSuchService"), ("file", nofile, "no_such.proto")):
        e = a.error_response
        t("%s: an unknown %s: error_response NOT_FOUND naming it" % (version, name),
          a.WhichOneof("message_response") == "error_response" and e.error_code == grpc.StatusCode.NOT_FOUND.value[0]
          and e.error_message == "%s not found: %s" % (name, what), a)
    t("%s: all_extension_numbers_of_type of our message: none" % version,
      ext.WhichOneof("message_response") == "all_extension_numbers_response" and
      ext.all_extension_numbers_response.base_type_name == PKG + ".Response" and
      list(ext.all_extension_numbers_response.extension_number) == [], ext)

# The point of it all: call CheckCompatibility knowing only what reflection said.
fds = files_of(session("v1", reflection_pb2, [reflection_pb2.ServerReflectionRequest(
    file_containing_symbol=PKG + ".CompatibilityService.CheckCompatibility")])[0])
pool = descriptor_pool.DescriptorPool()
for fd in fds:
    pool.Add(fd)
m = pool.FindServiceByName(PKG + ".CompatibilityService").FindMethodByName("CheckCompatibility")
factory = message_factory.MessageFactory(pool)
In, Out = factory.GetPrototype(m.input_type), factory.GetPrototype(m.output_type)
call = chan.unary_unary("/%s/%s" % (m.containing_service.full_name, m.name),
                        request_serializer=In.SerializeToString, response_deserializer=Out.FromString)
r = call(In(payload=open(ART).read()), timeout=10)
t("CheckCompatibility called with message classes built from the served descriptors: compatible",
  r.compatible and m.output_type.enum_types_by_name["ResultType"].values_by_number[r.status].name == "SUCCESS", r)

# A bad request on the stream ends it with a status that says why.
raw = chan.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                         request_serializer=lambda b: b, response_deserializer=lambda b: b)
try:
    list(raw(iter([b"\x22\x10a"]), timeout=10))
    t("a malformed request ends the stream with INVALID_ARGUMENT", False, "no error")
except grpc.RpcError as e:
    t("a malformed request ends the stream with INVALID_ARGUMENT (%s)" % e.details(),
      e.code() == grpc.StatusCode.INVALID_ARGUMENT and "malformed ServerReflectionRequest" in e.details())
sys.exit(1 if failed else 0)
