#!/usr/bin/env bash
# Artifacts in a real OCI registry (Debian's docker-registry on 127.0.0.1):
# push, pull by tag and digest, check by reference, gen --push; read back by
# skopeo and curl; the cache as an OCI layout; tampering; basic auth; TLS;
# a bearer-token flow and bad replies from a small fake registry.
. "$(dirname "$0")/lib.sh"
if ! command -v docker-registry > /dev/null; then skip "registry: docker-registry is not installed"; exit 0; fi
export COMPAT_CACHE=$TMP/cache
unset DOCKER_CONFIG
export HOME=$TMP/home; mkdir -p "$HOME"

start_registry() { start_docker_registry "$@"; }

"$COMPAT" gen --no-symbols -o "$TMP/xz.json" /usr/bin/xz
start_registry plain
out=$("$COMPAT" push --plain-http "$TMP/xz.json" "$REG/apps/xz:v1"); rc=$?
t "push: prints the manifest digest" bash -c '[ "$1" = 0 ] && [[ "$2" =~ ^sha256:[0-9a-f]{64}$ ]]' _ "$rc" "$out"
DIGEST=$out
man=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/apps/xz/manifests/v1")
t "curl: the manifest's sha256 is the digest push printed" test "sha256:$(printf %s "$man" | sha256sum | cut -d' ' -f1)" = "$DIGEST"
t "the manifest is an ORAS-style artifact (artifactType, empty config, titled layer)" /usr/bin/python3 -c '
import json, sys
m = json.loads(sys.argv[1])
assert m["artifactType"] == "application/vnd.llnl.compatlib.v1"
assert m["config"]["mediaType"] == "application/vnd.oci.empty.v1+json" and m["config"]["size"] == 2
l, = m["layers"]
assert l["mediaType"] == "application/vnd.llnl.compatlib.artifact.v1+json"
assert l["annotations"]["org.opencontainers.image.title"] == "compat.json"' "$man"
if command -v skopeo > /dev/null; then
	t "skopeo reads what compat pushed" bash -c 'skopeo inspect --raw --tls-verify=false "docker://$1/apps/xz:v1" | grep -q compatlib' _ "$REG"
else
	skip "skopeo interop: skopeo is not installed"
fi
"$COMPAT" pull --plain-http "$REG/apps/xz:v1" > "$TMP/pulled.json"
t "pull by tag gives back the same bytes" cmp -s "$TMP/pulled.json" "$TMP/xz.json"
rm -rf "$COMPAT_CACHE"
"$COMPAT" pull --plain-http -o "$TMP/pulled2.json" "$REG/apps/xz@$DIGEST"
t "pull by digest (-o) gives back the same bytes" cmp -s "$TMP/pulled2.json" "$TMP/xz.json"
t "the cache is an OCI layout with the artifact" bash -c '[ -f "$1/oci-layout" ] && [ -f "$1/index.json" ] && ls "$1/blobs/sha256" | grep -q .' _ "$COMPAT_CACHE"
if command -v skopeo > /dev/null; then
	"$COMPAT" pull --plain-http "$REG/apps/xz:v1" > /dev/null
	t "skopeo reads the cache as an OCI layout (oci:DIR:TAG)" bash -c 'skopeo inspect --raw "oci:$1:v1" | grep -q compatlib' _ "$COMPAT_CACHE"
fi
expect_status 0 "check REF: pulls and checks (compatible)" "$COMPAT" check --plain-http "$REG/apps/xz:v1"
expect_status 3 "a plain-HTTP registry spoken to in TLS: exit 3" "$COMPAT" pull "$REG/apps/xz:v1"
t "... the message says to try --plain-http" grep -q '(the server speaks plain HTTP? try --plain-http)$' "$TMP/err"
"$COMPAT" gen -o /dev/null --plain-http --push "$REG/apps/true:v1" /bin/true 2> "$TMP/err"
t "gen --push: pushed and named in the message" grep -q "pushed $REG/apps/true:v1@sha256:" "$TMP/err"
expect_status 0 "check REF on what gen --push sent" "$COMPAT" check --plain-http "$REG/apps/true:v1"
expect_status 2 "pull of an unknown tag: exit 2" "$COMPAT" pull --plain-http "$REG/apps/xz:nope"
expect_status 3 "pull from no registry: exit 3" "$COMPAT" pull --plain-http "127.0.0.1:1/apps/xz:v1"
t "... with the address in the message" grep -q '127.0.0.1:1' "$TMP/err"
expect_status 2 "a bad reference is refused" "$COMPAT" pull --plain-http "$REG/apps/xz@sha256:1234"

# --subject: attach an artifact to an image (here the manifest pushed as v1);
# docker-registry 2.8 has no referrers API, so the sha256-<hex> tag lists it.
"$COMPAT" gen --no-symbols -o "$TMP/true.json" /bin/true
# An attached manifest carries its creation time (the newest attached one
# wins); SOURCE_DATE_EPOCH pins it, so that the same attach twice is the
# same manifest.
export SOURCE_DATE_EPOCH=1764460800
sub=$("$COMPAT" push --plain-http --subject "$REG/apps/xz:v1" "$TMP/true.json" "$REG/apps/xz:true-sig"); rc=$?
t "push --subject: pushed (exit $rc)" test "$rc" = 0
m2=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/apps/xz/manifests/true-sig")
t "push --subject: the manifest's subject is the image's manifest" /usr/bin/python3 -c '
import json, sys
assert json.loads(sys.argv[1])["subject"]["digest"] == sys.argv[2]' "$m2" "$DIGEST"
fb=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/apps/xz/manifests/sha256-${DIGEST#sha256:}")
t "push --subject: the sha256-<hex> fallback index lists the artifact" /usr/bin/python3 -c '
import json, sys
ix = json.loads(sys.argv[1])
assert any(m["digest"] == sys.argv[2] and m["artifactType"] == "application/vnd.llnl.compatlib.v1" for m in ix["manifests"])' "$fb" "$sub"
"$COMPAT" push --plain-http --subject "$REG/apps/xz:v1" "$TMP/true.json" "$REG/apps/xz:true-sig" > /dev/null
fb2=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/apps/xz/manifests/sha256-${DIGEST#sha256:}")
t "push --subject twice (same SOURCE_DATE_EPOCH): listed once" /usr/bin/python3 -c '
import json, sys
assert len(json.loads(sys.argv[1])["manifests"]) == 1' "$fb2"
unset SOURCE_DATE_EPOCH
expect_status 2 "push --subject in another repository is refused" "$COMPAT" push --plain-http --subject "$REG/other/img:1" "$TMP/true.json" "$REG/apps/xz:x"

# The server fetches a request's uri from an allow-listed registry only.
if /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	mkdir -p "$TMP/gen"
	protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/compat.proto"
	start_server "$TMP/srv.out" --listen 127.0.0.1:0 --allow-registry "$REG"
	SADDR=$SERVER_ADDR
	uri_check() { # uri -> "STATUS compatible"
		timeout 30 /usr/bin/python3 - "$TMP/gen" "$SADDR" "$1" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc, compat_pb2
f = grpc.insecure_channel(sys.argv[2]).unary_unary(
    "/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility",
    request_serializer=compat_pb2.CompatRequest.SerializeToString,
    response_deserializer=compat_pb2.Response.FromString)
r = f(compat_pb2.CompatRequest(uri=sys.argv[3]), timeout=20)
print(compat_pb2.Response.ResultType.Name(r.status), r.compatible)
PY
	}
	out=$(uri_check "http://$REG/apps/xz:v1")
	t "server uri: an allowed registry is fetched and judged ($out)" test "$out" = "SUCCESS True"
	out=$(uri_check "registry.example.com/apps/xz:v1")
	t "server uri: another registry is DENIED ($out)" test "$out" = "DENIED False"
	out=$(uri_check "http://$REG/apps/xz:missing")
	t "server uri: a missing tag is ERROR ($out)" test "$out" = "ERROR False"
	kill -TERM $SERVER_PID; wait $SERVER_PID
else
	skip "server uri: /usr/bin/python3 lacks grpc (python3-grpcio)"
fi

# Tampering: change the artifact blob in the registry's storage.
ldig=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["layers"][0]["digest"][7:])' "$man")
blob=$(find "$TMP/plain/data" -path "*/blobs/sha256/*/$ldig/data")
if [ -f "$blob" ]; then
	sed -i 's/x86_64/x86_65/' "$blob"
	rm -rf "$COMPAT_CACHE"
	"$COMPAT" pull --plain-http "$REG/apps/xz:v1" > "$TMP/out" 2> "$TMP/err"; rc=$?
	t "a tampered blob fails the pull with a digest error" bash -c '[ "$1" = 2 ] && grep -q "digest mismatch" "$2"' _ "$rc" "$TMP/err"
	t "... and nothing is cached" bash -c '[ ! -e "$1/index.json" ] && ! ls "$1/blobs/sha256" 2>/dev/null | grep -q "$2"' _ "$COMPAT_CACHE" "$ldig"
else
	nok "tampering: the blob file was not found in the registry storage"
fi

# Basic auth (htpasswd, bcrypt) with credentials from ~/.docker/config.json.
if command -v htpasswd > /dev/null; then
	htpasswd -Bbn alice s3cret > "$TMP/htpasswd"
	start_registry auth "auth: {htpasswd: {realm: compat-test, path: $TMP/htpasswd}}" "-u alice:s3cret"
	expect_status 2 "basic auth: refused without credentials (exit 2)" "$COMPAT" push --plain-http "$TMP/xz.json" "$REG/apps/xz:v1"
	t "basic auth: the message says so" grep -q 'credentials' "$TMP/err"
	mkdir -p "$HOME/.docker"
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf alice:s3cret | base64)" > "$HOME/.docker/config.json"
	expect_status 0 "basic auth: push with ~/.docker/config.json" "$COMPAT" push --plain-http "$TMP/xz.json" "$REG/apps/xz:v1"
	rm -rf "$COMPAT_CACHE"
	expect_status 0 "basic auth: pull" "$COMPAT" pull --plain-http "$REG/apps/xz:v1"
	rm -f "$HOME/.docker/config.json"
else
	skip "basic auth: htpasswd is not installed (apache2-utils)"
fi

# TLS, with a CA made here.
if command -v openssl > /dev/null; then
	C=$TMP/regtls; mkdir -p "$C"
	(cd "$C" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=reg CA' &&
	 openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj '/CN=localhost' &&
	 printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > ext &&
	 openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext) > /dev/null 2>&1
	start_registry tls "  tls: {certificate: $C/srv.pem, key: $C/srv.key}" "--cacert $C/ca.pem" https
	LREG=localhost:${REG##*:}
	expect_status 0 "TLS: push with --ca-file" "$COMPAT" push --ca-file "$C/ca.pem" "$TMP/xz.json" "$LREG/apps/xz:v1"
	rm -rf "$COMPAT_CACHE"
	expect_status 0 "TLS: pull with --ca-file" "$COMPAT" pull --ca-file "$C/ca.pem" "$LREG/apps/xz:v1"
	expect_status 3 "TLS: an unknown CA is refused (exit 3)" "$COMPAT" pull "$LREG/apps/xz:v1"
else
	skip "TLS registry: openssl is not installed"
fi

# A fake registry: the bearer-token flow, and bad replies.
fake() { start_fake "$(dirname "$0")/registry_fake.py" "$TMP/fakeport" "$1" "$TMP/xz.json"; } # mode
fake bearer; rm -rf "$COMPAT_CACHE"
"$COMPAT" pull --plain-http "$FREG/apps/x:v1" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "bearer token flow: challenge, token endpoint, retry" bash -c '[ "$1" = 0 ] && cmp -s "$2" "$3"' _ "$rc" "$TMP/out" "$TMP/xz.json"
kill $FPID
fake badtoken; rm -rf "$COMPAT_CACHE"
"$COMPAT" pull --plain-http "$FREG/apps/x:v1" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "a token with CR LF in it is refused, not sent as a header (exit $rc)" \
	bash -c '[ "$1" = 2 ] && grep -q "no usable token" "$2"' _ "$rc" "$TMP/err"
kill $FPID

# A slow registry does not stall the server: its fetch runs off the loop.
if /usr/bin/python3 -c 'import grpc' 2> /dev/null; then
	fake slow
	start_server "$TMP/srv2.out" --listen 127.0.0.1:0 --allow-registry "$FREG"
	SADDR=$SERVER_ADDR
	rm -rf "$COMPAT_CACHE"
	out=$(timeout 60 /usr/bin/python3 - "$TMP/gen" "$SADDR" "http://$FREG/apps/x:v1" "$TMP/xz.json" <<'PY'
import sys, threading, time
sys.path.insert(0, sys.argv[1])
import grpc, compat_pb2
f = grpc.insecure_channel(sys.argv[2]).unary_unary(
    "/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility",
    request_serializer=compat_pb2.CompatRequest.SerializeToString,
    response_deserializer=compat_pb2.Response.FromString)
slow = {}
def run():
    slow["r"] = f(compat_pb2.CompatRequest(uri=sys.argv[3]), timeout=30)
th = threading.Thread(target=run); th.start()
time.sleep(0.5)
t0 = time.time()
fast = f(compat_pb2.CompatRequest(payload=open(sys.argv[4]).read()), timeout=10)
dt = time.time() - t0
th.join()
print("%s %.2f %s" % (fast.compatible, dt, compat_pb2.Response.ResultType.Name(slow["r"].status)))
PY
)
	read -r ok_fast dt slow_status <<< "$out"
	t "a slow registry fetch does not stall other requests (answered in ${dt}s)" \
		bash -c '[ "$1" = True ] && awk "BEGIN{exit !($2 < 1.5)}" && [ "$3" = SUCCESS ]' _ "$ok_fast" "$dt" "$slow_status"
	kill -TERM $SERVER_PID; wait $SERVER_PID; kill $FPID 2> /dev/null
fi
# Credentials stay with their origin: a TLS registry whose blob redirects to
# plain http on the same host and port must not get them sent in clear.
if [ -f "$TMP/regtls/srv.pem" ]; then
	fake "tlsredirect:$TMP/regtls:$TMP/tlsredirect.log"
	LPORT=${FREG##*:}
	mkdir -p "$HOME/.docker"
	printf '{"auths":{"localhost:%s":{"auth":"%s"}}}' "$LPORT" "$(printf alice:s3cret | base64)" > "$HOME/.docker/config.json"
	rm -rf "$COMPAT_CACHE"
	"$COMPAT" pull --ca-file "$TMP/regtls/ca.pem" "localhost:$LPORT/apps/x:v1" > "$TMP/out" 2> "$TMP/err"; rc=$?
	t "https -> http redirect on the same host: the blob is pulled (exit $rc)" test "$rc" = 0
	t "... and the plain-http request carried no Authorization" \
		bash -c 'grep -q "^plain .*/blobs/.* authorization=None" "$1" && ! grep -q "authorization=Basic" "$1"' _ "$TMP/tlsredirect.log"
	rm -f "$HOME/.docker/config.json"
	kill $FPID 2> /dev/null
else
	skip "credentials across schemes: no TLS certificates (openssl missing)"
fi
for m in status500 truncated hugeheaders endlesschunks; do
	fake $m; rm -rf "$COMPAT_CACHE"
	timeout 60 "$COMPAT" pull --plain-http "$FREG/apps/x:v1" > "$TMP/out" 2> "$TMP/err"; rc=$?
	t "bad reply ($m): a clear one-line error, exit $rc" bash -c '[ "$1" = 2 ] || [ "$1" = 3 ]; [ $? = 0 ] && [ $(wc -l < "$2") = 1 ]' _ "$rc" "$TMP/err"
	t "bad reply ($m): nothing cached" bash -c '[ ! -e "$1/index.json" ]' _ "$COMPAT_CACHE"
	kill $FPID 2> /dev/null
done
