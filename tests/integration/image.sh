#!/usr/bin/env bash
# Container images: gen of an image by reference (a real docker-registry on
# loopback, images pushed there by skopeo) and from an OCI layout; attaching
# without moving a tag; check IMAGE_REF through the attached artifact;
# pull/check of an image with nothing attached; hostile layers refused.
# Images are built here from a Debian 12 minbase tarball (debian_tarball)
# and gcc fixtures by image_build.py.
. "$(dirname "$0")/lib.sh"
for c in docker-registry skopeo gcc; do
	command -v $c > /dev/null || { skip "image: $c is not installed"; exit 0; }
done
if ! DEB=$(debian_tarball bookworm --variant=minbase); then
	skip "image: no Debian 12 tarball (mmdebstrap failed; it needs deb.debian.org)"
	exit 0
fi
export COMPAT_CACHE=$TMP/cache HOME=$TMP/home
unset DOCKER_CONFIG SOURCE_DATE_EPOCH
mkdir -p "$HOME"
# gen's TMPDIR: its trees go here, and must go away (tmpfs when there is one:
# unpacking Debian twice as fast).
if GT=$(mktemp -d /dev/shm/compat-image-test.XXXXXX 2> /dev/null); then
	cleanup_hooks+=("rm -rf '$GT'")
else
	GT=$TMP/gentmp; mkdir -p "$GT"
fi
L=$TMP/layout
BUILDER="/usr/bin/python3 $(dirname "$0")/image_build.py"
jq_attr() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attributes"].get(sys.argv[2], "<absent>"))' "$@"; }
export -f jq_attr
tree_gone() { [ -z "$(ls -A "$GT")" ]; }

# ---- fixtures ----
F=$TMP/fx; mkdir -p "$F"/{src,l2/opt/app/bin,l2/opt/app/lib,l2/opt/app/lib2,l3/opt/app/lib,l3/opt/app/lib2,cuda/opt/cuda/bin,cudalib,v4/usr/local/bin,kern/opt/fake,arm/bin}
echo 'int foo(void){return 1;}' > "$F/src/foo.c"
echo 'int bar(void){return 2;}' > "$F/src/bar.c"
echo 'int foo(void); int bar(void); int main(void){return foo()+bar()-3;}' > "$F/src/app.c"
gcc -shared -fPIC -o "$F/l2/opt/app/lib/libfoo.so.1" "$F/src/foo.c" -Wl,-soname,libfoo.so.1
gcc -shared -fPIC -o "$F/l2/opt/app/lib2/libbar.so.1" "$F/src/bar.c" -Wl,-soname,libbar.so.1
gcc -o "$F/l2/opt/app/bin/app" "$F/src/app.c" -L"$F/l2/opt/app/lib" -L"$F/l2/opt/app/lib2" -l:libfoo.so.1 -l:libbar.so.1 \
	-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib:$ORIGIN/../lib2'
# Layer 3 hides libfoo (whiteout) and everything lib2 had (opaque).
touch "$F/l3/opt/app/lib/.wh.libfoo.so.1" "$F/l3/opt/app/lib2/.wh..wh..opq"
# A program needing libcuda.so.1, which its image does not carry.
echo 'int cuInit(unsigned f){return 0;}' > "$F/src/cuda.c"
echo 'int cuInit(unsigned); int main(void){return cuInit(0);}' > "$F/src/cudaapp.c"
gcc -shared -fPIC -o "$F/cudalib/libcuda.so.1" "$F/src/cuda.c" -Wl,-soname,libcuda.so.1
gcc -o "$F/cuda/opt/cuda/bin/cudaapp" "$F/src/cudaapp.c" -L"$F/cudalib" -l:libcuda.so.1
echo 'int main(void){return 0;}' > "$F/src/true.c"
HAVE_V4=1; gcc -o "$F/v4/usr/local/bin/fast" "$F/src/true.c" -Wl,-z,x86-64-v4 2> /dev/null || HAVE_V4=0
# A libc.so.6 whose ABI note asks for Linux 99.0.0.
cat > "$F/src/fakelibc.c" <<'C'
__asm__(".section .note.ABI-tag,\"a\",@note\n.p2align 2\n.long 4,16,1\n.asciz \"GNU\"\n.long 0,99,0,0\n.previous");
int fake(void) { return 0; }
C
gcc -shared -fPIC -o "$F/kern/opt/fake/libc.so.6" "$F/src/fakelibc.c" -Wl,-soname,libc.so.6
# arm64: an ELF header saying EM_AARCH64 is enough to be judged by.
cp /bin/true "$F/arm/bin/true"
printf '\267\000' | dd of="$F/arm/bin/true" bs=1 seek=18 conv=notrunc status=none

# ---- the images, in one OCI layout ----
$BUILDER image "$L" deb "tar:$DEB" "dir:$F/l2" "dir:$F/l3" || { nok "image_build: the Debian image"; exit 1; }
$BUILDER image "$L" cuda same:deb:0 "dir:$F/cuda"
$BUILDER image "$L" v4 same:deb:0 "dir:$F/v4"
$BUILDER image "$L" kern same:deb:0 "dir:$F/kern"
$BUILDER image "$L" arm --platform linux/arm64 "dir:$F/arm"
$BUILDER index "$L" multi deb arm
t "image_build: every image in the layout" /usr/bin/python3 -c '
import json, sys
names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]]
assert sorted(names) == ["arm", "cuda", "deb", "kern", "multi", "v4"], names' "$L"

# ---- gen from the layout ----
TMPDIR=$GT "$COMPAT" gen -o "$TMP/deb-oci.json" "oci:$L:deb" 2> "$TMP/deb-oci.err"; rc=$?
t "gen oci:DIR:TAG: exit 0 ($rc)" test "$rc" = 0
t "gen oci: kind image" test "$(jq_attr "$TMP/deb-oci.json" llnl.compatlib.kind)" = image
t "gen oci: machine and class" test "$(jq_attr "$TMP/deb-oci.json" llnl.compatlib.elf.machine) $(jq_attr "$TMP/deb-oci.json" llnl.compatlib.elf.class)" = "x86_64 ELF64"
t "gen oci: the kernel ABI of Debian 12's libc (3.2.0)" test "$(jq_attr "$TMP/deb-oci.json" llnl.compatlib.kernel)" = 3.2.0
want=$(/usr/bin/python3 -c 'import json,sys; print([m["digest"] for m in json.load(open(sys.argv[1]+"/index.json"))["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"]=="deb"][0])' "$L")
t "gen oci: image.digest is the manifest described" test "$(jq_attr "$TMP/deb-oci.json" llnl.compatlib.image.digest)" = "$want"
t "gen oci: the whiteout and the opaque directory hid libfoo and libbar (host needs now)" \
	bash -c '[ "$(jq_attr "$1" llnl.compatlib.needed.libfoo.so.1)" != "<absent>" ] && [ "$(jq_attr "$1" llnl.compatlib.needed.libbar.so.1)" != "<absent>" ]' _ "$TMP/deb-oci.json"
t "gen oci: what the image carries is not a need (libc.so.6), nor listed (library-name.N)" \
	bash -c '[ "$(jq_attr "$1" llnl.compatlib.needed.libc.so.6)" = "<absent>" ] && ! grep -q library-name "$1"' _ "$TMP/deb-oci.json"
t "gen oci: warns that the image lacks libfoo.so.1 (naming the program)" grep -q 'opt/app/bin/app needs libfoo.so.1, which the image does not have' "$TMP/deb-oci.err"
t "gen oci: the temporary tree is removed" tree_gone

# ---- the registry ----
start_docker_registry reg || nok "docker-registry answers on $REG"
sk() { skopeo "$@" --quiet 2> "$TMP/skopeo.err" || { sed 's/^/#   skopeo: /' "$TMP/skopeo.err" | head -3; return 1; }; }
digest_of() { skopeo inspect --raw --tls-verify=false "docker://$REG/$1" | sha256sum | cut -d' ' -f1; }
tags_of() { skopeo list-tags --tls-verify=false "docker://$REG/$1" | /usr/bin/python3 -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"])))'; }
for img in deb:12 cuda:1 v4:1 kern:1; do
	sk copy --dest-tls-verify=false "oci:$L:${img%%:*}" "docker://$REG/$img" || nok "skopeo copy $img"
done
sk copy --all --dest-tls-verify=false "oci:$L:multi" "docker://$REG/multi:1" || nok "skopeo copy --all multi"

TMPDIR=$GT "$COMPAT" gen --plain-http -o "$TMP/deb.json" "$REG/deb:12" 2> "$TMP/err"; rc=$?
t "gen REGISTRY/REPO:TAG: exit 0 ($rc)" test "$rc" = 0
t "gen by reference: the same needs as from the layout" bash -c 'diff <(grep -v -e executable-name -e image.digest "$1") <(grep -v -e executable-name -e image.digest "$2")' _ "$TMP/deb.json" "$TMP/deb-oci.json"
t "gen by reference: image.digest is the tag's digest (skopeo)" test "$(jq_attr "$TMP/deb.json" llnl.compatlib.image.digest)" = "sha256:$(digest_of deb:12)"
t "gen by reference: the tree is removed" tree_gone

# ---- attach, and nothing else moves ----
before=$(digest_of deb:12)
TMPDIR=$GT "$COMPAT" gen --plain-http -o /dev/null --push "$REG/deb" --subject "$REG/deb:12" "$REG/deb:12" 2> "$TMP/err"; rc=$?
t "gen --push --subject: describes and attaches (exit $rc)" bash -c '[ "$1" = 0 ] && grep -q "pushed .*@sha256:" "$2"' _ "$rc" "$TMP/err"
t "after the attach, deb:12 has the same digest (skopeo inspect)" test "$(digest_of deb:12)" = "$before"
t "after the attach, no tag but 12 and the sha256-<hex> index (no :latest)" test "$(tags_of deb)" = "12 sha256-$before"
"$COMPAT" check --plain-http --json "$REG/deb:12" > "$TMP/report.json"; rc=$?
t "check IMAGE_REF: finds the attached artifact; libfoo.so.1 and libbar.so.1 (whited out) missing here (exit $rc)" \
	bash -c '[ "$1" = 1 ] && grep -q "\"libfoo.so.1\":null" "$2" && grep -q "\"libbar.so.1\":null" "$2"' _ "$rc" "$TMP/report.json"
expect_status 0 "check IMAGE_REF --library-path with both: compatible (kernel, ISA level and arch fine)" \
	"$COMPAT" check --plain-http --library-path "$F/l2/opt/app/lib:$F/l2/opt/app/lib2" "$REG/deb:12"

# cuda: the injected library is the node's business.
TMPDIR=$GT "$COMPAT" gen --plain-http -o "$TMP/cuda.json" "$REG/cuda:1" 2> "$TMP/cuda.err"
t "gen cuda: needed.libcuda.so.1 recorded" test "$(jq_attr "$TMP/cuda.json" llnl.compatlib.needed.libcuda.so.1)" != "<absent>"
t "gen cuda: warns that the image lacks libcuda.so.1" grep -q 'opt/cuda/bin/cudaapp needs libcuda.so.1' "$TMP/cuda.err"
cbefore=$(digest_of cuda:1)
out=$("$COMPAT" push --plain-http --subject "$REG/cuda:1" "$TMP/cuda.json"); rc=$?
t "push --subject IMAGE ARTIFACT (no destination tag): prints the digest ($rc)" bash -c '[ "$1" = 0 ] && [[ "$2" =~ ^sha256:[0-9a-f]{64}$ ]]' _ "$rc" "$out"
t "... pushed by digest: the manifest is there" bash -c 'curl -sf -o /dev/null -H "Accept: application/vnd.oci.image.manifest.v1+json" "http://$1/v2/cuda/manifests/$2"' _ "$REG" "$out"
t "... and no tag moved (cuda:1 digest, tag list)" test "$(digest_of cuda:1) $(tags_of cuda)" = "$cbefore 1 sha256-$cbefore"
"$COMPAT" check --plain-http --json "$REG/cuda:1" > "$TMP/report.json"; rc=$?
t "check IMAGE_REF: missing-soname libcuda.so.1 on this node (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q "\"kind\":\"missing-soname\",\"soname\":\"libcuda.so.1\"" "$2"' _ "$rc" "$TMP/report.json"
expect_status 0 "check IMAGE_REF --library-path with a libcuda.so.1: compatible" "$COMPAT" check --plain-http --library-path "$F/cudalib" "$REG/cuda:1"

rm -rf "$COMPAT_CACHE"
"$COMPAT" pull --plain-http "$REG/cuda:1" > "$TMP/pulled.json"; rc=$?
t "pull IMAGE_REF: the attached artifact itself (exit $rc)" bash -c '[ "$1" = 0 ] && cmp -s "$2" "$3"' _ "$rc" "$TMP/pulled.json" "$TMP/cuda.json"
# The same verdict from a compat server: check --host, and a request's uri.
start_server "$TMP/srv.out" --listen 127.0.0.1:0 --allow-registry "$REG"
"$COMPAT" check --host "$SERVER_ADDR" --plain-http --json "$REG/cuda:1" > "$TMP/report.json"; rc=$?
t "check --host IMAGE_REF: missing-soname libcuda.so.1 from the server (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q "libcuda.so.1" "$2"' _ "$rc" "$TMP/report.json"
if /usr/bin/python3 -c 'import grpc, google.protobuf' 2> /dev/null; then
	mkdir -p "$TMP/gen"
	protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/compat.proto"
	out=$(timeout 30 /usr/bin/python3 - "$TMP/gen" "$SERVER_ADDR" "http://$REG/cuda:1" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc, compat_pb2
f = grpc.insecure_channel(sys.argv[2]).unary_unary(
    "/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility",
    request_serializer=compat_pb2.CompatRequest.SerializeToString,
    response_deserializer=compat_pb2.Response.FromString)
r = f(compat_pb2.CompatRequest(uri=sys.argv[3]), timeout=20)
print(compat_pb2.Response.ResultType.Name(r.status), r.compatible,
      ",".join(x.kind + ":" + x.soname for x in r.findings if not x.warning))
PY
)
	t "server uri=IMAGE_REF: fetches the attached artifact and judges it ($out)" test "$out" = "SUCCESS False missing-soname:libcuda.so.1"
else
	skip "server uri: /usr/bin/python3 lacks grpc (python3-grpcio)"
fi
kill "$SERVER_PID"; wait "$SERVER_PID" 2> /dev/null

# The kernel ABI.
TMPDIR=$GT "$COMPAT" gen --plain-http -o "$TMP/kern.json" "$REG/kern:1" 2> /dev/null
t "gen: kernel 99.0.0 from the image's libc.so.6 ABI note" test "$(jq_attr "$TMP/kern.json" llnl.compatlib.kernel)" = 99.0.0
"$COMPAT" check --json "$TMP/kern.json" > "$TMP/report.json"; rc=$?
t "check: the kernel finding, naming this kernel (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q "\"kind\":\"kernel\"" "$2" && grep -q "$(uname -r)" "$2"' _ "$rc" "$TMP/report.json"

# The ISA level.
if [ "$HAVE_V4" = 1 ]; then
	TMPDIR=$GT "$COMPAT" gen --plain-http -o "$TMP/v4.json" "$REG/v4:1" 2> /dev/null
	t "gen: isa-level x86-64-v4, the highest any file declares" test "$(jq_attr "$TMP/v4.json" llnl.compatlib.isa-level)" = x86-64-v4
	GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F "$COMPAT" check --json "$TMP/v4.json" > "$TMP/report.json"; rc=$?
	t "check: isa-level with AVX512F masked (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q "\"kind\":\"isa-level\"" "$2"' _ "$rc" "$TMP/report.json"
else
	skip "isa-level image: this linker cannot mark x86-64-v4 (-z x86-64-v4)"
fi

# An image with nothing attached: pull and check say so, write nothing.
rm -rf "$COMPAT_CACHE"
"$COMPAT" pull --plain-http "$REG/v4:1" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "pull of an image with nothing attached: exit 2, says what it is" bash -c '[ "$1" = 2 ] && grep -q "an image; no compat artifact is attached" "$2"' _ "$rc" "$TMP/err"
t "... writing nothing (no output, no cache)" bash -c '[ ! -s "$1" ] && [ ! -e "$2/index.json" ] && [ -z "$(ls -A "$2/blobs/sha256" 2> /dev/null)" ]' _ "$TMP/out" "$COMPAT_CACHE"
expect_status 2 "check of an image with nothing attached: exit 2" "$COMPAT" check --plain-http "$REG/v4:1"
t "... with the same message" grep -q "an image; no compat artifact is attached" "$TMP/err"

# A multi-platform index: the node's platform by default, --platform otherwise.
TMPDIR=$GT "$COMPAT" gen --plain-http -o "$TMP/m-amd.json" "$REG/multi:1" 2> /dev/null
t "gen of an index: this node's platform (x86_64)" test "$(jq_attr "$TMP/m-amd.json" llnl.compatlib.elf.machine)" = x86_64
TMPDIR=$GT "$COMPAT" gen --plain-http --platform linux/arm64 -o "$TMP/m-arm.json" "$REG/multi:1" 2> /dev/null
t "gen --platform linux/arm64: the arm64 image (aarch64)" test "$(jq_attr "$TMP/m-arm.json" llnl.compatlib.elf.machine) $(jq_attr "$TMP/m-arm.json" llnl.compatlib.image.platform)" = "aarch64 linux/arm64"
expect_status 2 "gen --platform linux/s390x: not in the index (exit 2)" env TMPDIR=$GT "$COMPAT" gen --plain-http --platform linux/s390x -o /dev/null "$REG/multi:1"
t "... the message lists what the index has" grep -q 'no linux/s390x image in the index (it has: linux/amd64 linux/arm64)' "$TMP/err"
mbefore=$(digest_of multi:1)
# Two attached: the newest by its created annotation wins, not the later one.
SOURCE_DATE_EPOCH=1900000000 "$COMPAT" push --plain-http --subject "$REG/multi:1" "$TMP/m-arm.json" > /dev/null
SOURCE_DATE_EPOCH=1600000000 "$COMPAT" push --plain-http --subject "$REG/multi:1" "$TMP/m-amd.json" > /dev/null
t "two attached to the index, no tag moved" test "$(digest_of multi:1) $(tags_of multi)" = "$mbefore 1 sha256-$mbefore"
fb=$(curl -s -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/multi/manifests/sha256-$mbefore")
t "the fallback index carries each one's created annotation (UTC of SOURCE_DATE_EPOCH)" /usr/bin/python3 -c '
import json, sys
got = [m["annotations"]["org.opencontainers.image.created"] for m in json.loads(sys.argv[1])["manifests"]]
assert got == ["2030-03-17T17:46:40Z", "2020-09-13T12:26:40Z"], got' "$fb"
"$COMPAT" check --plain-http --json "$REG/multi:1" > "$TMP/report.json"; rc=$?
t "check IMAGE_REF: the newest attached (arm64): wrong-arch (exit $rc)" bash -c '[ "$1" = 1 ] && grep -q "\"kind\":\"wrong-arch\"" "$2"' _ "$rc" "$TMP/report.json"

# A registry with the referrers API: the newest attached by created (the
# arm64 one, listed first), not the last listed; the fallback tag unused.
start_fake "$(dirname "$0")/image_referrers.py" "$TMP/fakeport" "$TMP/m-arm.json" "$TMP/cuda.json" "$TMP/fake.log"
"$COMPAT" check --plain-http --json "$FREG/r:img" > "$TMP/report.json"; rc=$?
t "referrers API: check IMAGE_REF judges the newest attached (arm64: wrong-arch, exit $rc)" \
	bash -c '[ "$1" = 1 ] && grep -q "\"kind\":\"wrong-arch\"" "$2"' _ "$rc" "$TMP/report.json"
t "referrers API: asked with the artifactType filter, no fallback tag needed" \
	bash -c 'grep -q "GET /v2/r/referrers/sha256:[0-9a-f]*?artifactType=application%2Fvnd.llnl.compatlib.v1" "$1" && ! grep -q "manifests/sha256-" "$1"' _ "$TMP/fake.log"
kill $FPID 2> /dev/null

# ---- hostile images: each refused, nothing outside, tree removed ----
ESC=$TMP/escaped; mkdir -p "$ESC"
export HOSTILE_TARGET=$ESC/target
hostile() { # kind, expected message
	$BUILDER image "$L" "h-$1" "hostile:$1"
	TMPDIR=$GT "$COMPAT" gen -o "$TMP/h.json" "oci:$L:h-$1" > /dev/null 2> "$TMP/err"; local rc=$?
	t "hostile $1: refused (exit $rc): $(head -c 150 "$TMP/err")" bash -c '[ "$1" = 2 ] && grep -q -- "$2" "$3"' _ "$rc" "$2" "$TMP/err"
	t "hostile $1: nothing written outside the tree, the tree removed" \
		bash -c '[ ! -e "$1" ] && [ -z "$(ls -A "$2")" ]' _ "$HOSTILE_TARGET" "$GT"
}
hostile dotdot "has a '..' component"
hostile absolute "is an absolute path"
hostile symlink "escape is a symbolic link"
echo keep > "$HOSTILE_TARGET"
$BUILDER image "$L" h-hardlink hostile:hardlink
TMPDIR=$GT "$COMPAT" gen -o /dev/null "oci:$L:h-hardlink" > /dev/null 2> "$TMP/err"; rc=$?
t "hostile hardlink: refused (exit $rc): $(head -c 150 "$TMP/err")" bash -c '[ "$1" = 2 ] && grep -q "hard link target" "$2"' _ "$rc" "$TMP/err"
t "hostile hardlink: the file outside has one link still, the tree removed" \
	bash -c '[ "$(stat -c %h "$1")" = 1 ] && [ -z "$(ls -A "$2")" ]' _ "$HOSTILE_TARGET" "$GT"
rm -f "$HOSTILE_TARGET"
hostile device "device node"
hostile whiteout-root "whiteout of the top directory"
hostile sparse "past its limit"
$BUILDER image "$L" h-digest "dir:$F/cuda"
$BUILDER baddigest "$L" h-digest
TMPDIR=$GT "$COMPAT" gen -o /dev/null "oci:$L:h-digest" > /dev/null 2> "$TMP/err"; rc=$?
t "a layer whose digest is wrong: refused (exit $rc)" bash -c '[ "$1" = 2 ] && grep -q "digest mismatch" "$2"' _ "$rc" "$TMP/err"
t "... the tree removed" tree_gone
