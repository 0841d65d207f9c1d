#!/usr/bin/env bash
# The static drop-in: `make static` gives one binary that runs on a host with
# no libraries of its own. Copied into an almost empty tree (a program, the
# libraries it needs, an ld.so.cache made by ldconfig -r) and run there with
# chroot, it describes and checks that program.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v chroot > /dev/null; then
	skip "static drop-in in a chroot: needs root for chroot"; exit 0
fi
(cd "$COMPAT_ROOT" && make -s static STATIC_OUT="$TMP/static/compat" 2> "$TMP/link.err") ||
	{ nok "make static links"; sed 's/^/#   /' "$TMP/link.err" | tail -5; exit 0; }
S=$TMP/static/compat
t "make static: a static executable" bash -c 'file "$1" | grep -q "statically linked"' _ "$S"
size=$(stat -c %s "$S")
echo "# static binary: $size bytes (budget 2 MiB)"
t "make static: stripped binary within 2 MiB" test "$size" -le $((2 * 1024 * 1024))

R=$TMP/root
mkdir -p "$R"/{bin,etc,lib64,lib/x86_64-linux-gnu,opt/app}
cp "$S" "$R/bin/compat"
ln -s compat "$R/bin/compat-check"
cp /usr/bin/xz "$R/opt/app/xz"
for l in /lib/x86_64-linux-gnu/liblzma.so.5 /lib/x86_64-linux-gnu/libc.so.6; do
	cp -L "$l" "$R/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
echo /lib/x86_64-linux-gnu > "$R/etc/ld.so.conf"
/sbin/ldconfig -r "$R" -X
out=$("$COMPAT" gen --list "$S")
t "the static binary needs no library and no loader (gen --list on it)" grep -q 'no dynamic dependencies' <<< "$out"

chroot "$R" /bin/compat gen -o /opt/app/xz.json /opt/app/xz 2> "$TMP/err"
t "in the chroot: gen describes a program" grep -q '"llnl.compatlib.needed.liblzma.so.5"' "$R/opt/app/xz.json"
out=$(chroot "$R" /bin/compat gen --list /opt/app/xz)
t "in the chroot: resolved through the tree's own ld.so.cache" grep -q 'liblzma.so.5 => /lib/x86_64-linux-gnu/liblzma.so.5' <<< "$out"
expect_status 0 "in the chroot: check says compatible" chroot "$R" /bin/compat check /opt/app/xz.json
out=$(chroot "$R" /bin/compat-check --exec /opt/app/xz.json -- /opt/app/xz --version)
t "in the chroot: check --exec runs the program" grep -q 'XZ Utils' <<< "$out"
rm "$R/lib/x86_64-linux-gnu/liblzma.so.5"; /sbin/ldconfig -r "$R" -X
chroot "$R" /bin/compat check --json /opt/app/xz.json > "$TMP/report.json"; rc=$?
t "in the chroot: a removed library is a missing-soname finding (exit 1)" \
	bash -c '[ "$1" = 1 ] && grep -q "\"missing-soname\"" "$2" && grep -q liblzma "$2"' _ "$rc" "$TMP/report.json"

# serve inside the tree, answering a real gRPC client outside it.
mkdir -p "$R/etc"
chroot "$R" /bin/compat serve --listen 127.0.0.1:0 > "$TMP/srv.out" 2> "$TMP/srv.err" &
SPID=$!; cleanup_hooks+=("kill -9 $SPID 2>/dev/null")
wait_for_line "$TMP/srv.out" 'server listening:' 10 || nok "the static server starts in the chroot"
ADDR=$(sed -n 's/^server listening: //p' "$TMP/srv.out")
if /usr/bin/python3 -c 'import grpc' 2> /dev/null && [ -n "$ADDR" ]; then
	mkdir -p "$TMP/gen"
	protoc -I"$COMPAT_ROOT/proto" --python_out="$TMP/gen" "$COMPAT_ROOT/proto/compat.proto"
	out=$(timeout 20 /usr/bin/python3 - "$TMP/gen" "$ADDR" "$R/opt/app/xz.json" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import grpc, compat_pb2
f = grpc.insecure_channel(sys.argv[2]).unary_unary(
    "/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility",
    request_serializer=compat_pb2.CompatRequest.SerializeToString,
    response_deserializer=compat_pb2.Response.FromString)
r = f(compat_pb2.CompatRequest(payload=open(sys.argv[3]).read()), timeout=10)
print(compat_pb2.Response.ResultType.Name(r.status), r.compatible, " ".join(x.soname for x in r.findings))
PY
)
	t "in the chroot: serve answers a gRPC client outside the tree ($out)" test "$out" = "SUCCESS False liblzma.so.5"
else
	skip "in the chroot: serve: no python3-grpcio client or the server did not start"
fi
kill -TERM $SPID; wait $SPID
t "in the chroot: serve stops on SIGTERM with exit 0" test $? = 0
