#!/usr/bin/env bash
# Seeds that are binary are made here at run time, never committed:
# seeds.sh NAME DIR fills DIR for the fuzz target NAME (elf, ldcache, h2conn, tar).
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
esac
exit 0
