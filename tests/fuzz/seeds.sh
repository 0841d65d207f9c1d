#!/usr/bin/env bash
# Seeds that are binary are made here at run time, never committed:
# seeds.sh NAME DIR fills DIR for the fuzz target NAME (elf, ldcache).
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
esac
exit 0
