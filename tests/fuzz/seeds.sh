#!/usr/bin/env bash
# Seeds that are binary are made here at run time, never committed:
# seeds.sh NAME DIR fills DIR for the fuzz target NAME (elf, ldcache, h2conn, h2, tar,
# reflection, regauth).
set -u
name=$1 dir=$2
mkdir -p "$dir"
case $name in
elf)
	src=$(mktemp -d)
	echo 'int f(void){return 1;} int g(void){return f();}' > "$src/f.c"
	gcc -shared -fPIC -o "$dir/small.so" "$src/f.c" -Wl,-soname,libsmall.so.1 2>/dev/null
	gcc -shared -fPIC -o "$dir/sysv.so" "$src/f.c" -Wl,--hash-style=sysv 2>/dev/null
	gcc -m32 -shared -fPIC -o "$dir/small32.so" "$src/f.c" 2>/dev/null
	echo 'int main(void){return 0;}' > "$src/m.c"
	gcc -o "$dir/prog" "$src/m.c" -Wl,-z,x86-64-v2 2>/dev/null
	head -c 3000 "$dir/small.so" > "$dir/truncated.so"
	rm -rf "$src"
	;;
ldcache)
	head -c 65536 /etc/ld.so.cache > "$dir/host-cache"
	src=$(mktemp -d)
	echo 'int f(void){return 1;}' > "$src/f.c"
	mkdir -p "$src/lib/glibc-hwcaps/x86-64-v2"
	gcc -shared -fPIC -o "$src/lib/libs.so.1" "$src/f.c" -Wl,-soname,libs.so.1
	cp "$src/lib/libs.so.1" "$src/lib/glibc-hwcaps/x86-64-v2/"
	echo "$src/lib" > "$src/conf"
	/sbin/ldconfig -C "$dir/small-cache" -f "$src/conf" -X 2>/dev/null
	/sbin/ldconfig -c compat -C "$dir/compat-cache" -f "$src/conf" -X 2>/dev/null
	rm -rf "$src"
	;;
h2conn)
	# A client's bytes for one CheckCompatibility call: the preface, SETTINGS,
	# HEADERS (HPACK literals without indexing) and DATA with the gRPC message.
	/usr/bin/python3 - "$dir" "$(dirname "$0")/corpus/pb/check-xz" <<'PY'
import sys
out, msgfile = sys.argv[1], sys.argv[2]
msg = open(msgfile, "rb").read()[1:]
def lit(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
hdrs = (b"\x83\x86" + lit(b":path", b"/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility")
        + lit(b":authority", b"localhost") + lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))
def frame(typ, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([typ, flags]) + sid.to_bytes(4, "big") + payload
body = b"\x00" + len(msg).to_bytes(4, "big") + msg
data = (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, hdrs)
        + frame(0, 1, 1, body) + frame(6, 0, 0, b"12345678"))
open(out + "/check-call", "wb").write(data)
open(out + "/preface-only", "wb").write(data[:24])
PY
	;;
tar)
	# Small archives in the formats layers are written in: GNU (long
	# names), POSIX pax (long names and link names), ustar, v7.
	src=$(mktemp -d)
	mkdir -p "$src/t/d"
	echo hello > "$src/t/d/f"
	ln -s f "$src/t/d/s"
	ln "$src/t/d/f" "$src/t/d/h"
	long=$(printf 'n%.0s' $(seq 150))
	echo long > "$src/t/$long"
	touch "$src/t/.wh.gone" "$src/t/d/.wh..wh..opq"
	for fmt in gnu posix ustar v7; do
		tar -C "$src/t" --format=$fmt -cf "$dir/$fmt.tar" . 2>/dev/null
	done
	head -c 1536 "$dir/posix.tar" > "$dir/truncated.tar"
	rm -rf "$src"
	;;
h2)
	# h2 alone: calls whose first message byte picks the handler's answer
	# (0 later, 1 now, 2 an error), an incomplete request, a reset, a
	# grpc-timeout, a shutdown.
	/usr/bin/python3 - "$dir" <<'PY'
import sys
out = sys.argv[1]
def lit(name, value):
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
def hdrs(extra=b""):
    return (b"\x83\x86" + lit(b":path", b"/t.S/M") + lit(b":authority", b"x") +
            lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers") + extra)
def frame(typ, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([typ, flags]) + sid.to_bytes(4, "big") + payload
def msg(first):
    m = bytes([first]) + b"payload"
    return b"\x00" + len(m).to_bytes(4, "big") + m
pre = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"")
calls = b"".join(frame(1, 4, 2 * i + 1, hdrs()) + frame(0, 1, 2 * i + 1, msg(i)) for i in range(3))
open(out + "/three-calls", "wb").write(pre + calls)
open(out + "/incomplete", "wb").write(pre + frame(1, 4, 1, hdrs()) + frame(0, 0, 1, msg(0)[:4]))
open(out + "/reset", "wb").write(pre + frame(1, 4, 1, hdrs()) + frame(0, 1, 1, msg(0)) +
                                 frame(3, 0, 1, b"\x00\x00\x00\x08"))
open(out + "/timeout", "wb").write(pre + frame(1, 4, 1, hdrs(lit(b"grpc-timeout", b"1m"))) + frame(0, 1, 1, msg(0)))
open(out + "/too-long", "wb").write(pre + frame(1, 4, 1, hdrs()) + frame(0, 0, 1, b"\x00\x00\x01\x00\x00"))
# Streaming calls (/t.S/Stream): several messages in one DATA frame, one
# cut across two frames, an empty call, one never ended, more than the
# 4 messages a stream may carry, a huge prefix after a message.
def shdrs():
    return (b"\x83\x86" + lit(b":path", b"/t.S/Stream") + lit(b":authority", b"x") +
            lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))
three = msg(1) + msg(0) + msg(2)
open(out + "/stream-calls", "wb").write(pre + frame(1, 4, 1, shdrs()) + frame(0, 0, 1, three[:20]) +
                                        frame(0, 1, 1, three[20:]) + frame(1, 5, 3, shdrs()))
open(out + "/stream-endless", "wb").write(pre + frame(1, 4, 1, shdrs()) + frame(0, 0, 1, msg(1) + msg(0)))
open(out + "/stream-many", "wb").write(pre + frame(1, 4, 1, shdrs()) + frame(0, 1, 1, msg(1) * 6))
open(out + "/stream-huge", "wb").write(pre + frame(1, 4, 1, shdrs()) + frame(0, 0, 1, msg(1) + b"\x00\x00\x01\x00\x00"))
PY
	;;
reflection)
	# Requests (first byte even) against the embedded set, and the set
	# itself (first byte odd) with fixed requests.
	printf '\0\072\000' > "$dir/list-services"
	printf '\0\042\063convergedcomputing.org.grpc.v1.CompatibilityService' > "$dir/symbol"
	printf '\0\032\014health.proto\012\011localhost' > "$dir/file-and-host"
	printf '\0\052\045\012\041grpc.health.v1.HealthCheckRequest\020\005' > "$dir/extension"
	top=$(cd "$(dirname "$0")/../.." && pwd)
	if protoc -I"$top/proto" --include_imports --descriptor_set_out="$dir/.set" "$top"/proto/*.proto 2> /dev/null; then
		{ printf '\1'; cat "$dir/.set"; } > "$dir/descriptor-set"
	fi
	rm -f "$dir/.set"
	;;
regauth)
	# A WWW-Authenticate value, a newline, a URL.
	printf '%s\n%s' 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"' \
		'https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/aa/data?verify=1' > "$dir/dockerhub"
	printf '%s\n%s' 'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"' \
		'/v2/user/image/blobs/sha256:0000' > "$dir/ghcr"
	printf '%s\n%s' 'bearer Realm="http://a/t?x=1,service=evil", error="insufficient_scope", scope="a:b:pull,push"' \
		'HTTP://User:pw@host:5000/x#frag' > "$dir/quoted"
	printf '%s\n%s' 'Basic realm="Registry Realm"' '//evil.example/x' > "$dir/basic"
	printf '%s\n%s' 'Bearer realm="a\"b",service=s' '/a b' > "$dir/escaped"
	;;
esac
exit 0
