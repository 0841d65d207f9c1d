#!/usr/bin/env bash
# compat gen on fixtures built here: search order, $ORIGIN, LD_LIBRARY_PATH,
# wrong class/machine candidates, missing libraries, symbol versions. Where
# ldd can answer, gen --list must agree with it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

norm() { sed -E 's/ \(0x[0-9a-f]+\)$//' | grep -v 'linux-vdso' | sort; }
agree_ldd() { # name exe [env...]
	local name=$1 exe=$2; shift 2
	local a b
	a=$(env -u LD_LIBRARY_PATH "$@" ldd "$exe" 2>/dev/null | norm)
	b=$(env -u LD_LIBRARY_PATH "$@" "$COMPAT" gen --list "$exe" | norm)
	if [ -z "$a" ]; then nok "$name agrees with ldd (ldd printed nothing)"
	elif [ "$a" = "$b" ]; then ok "$name agrees with ldd"; else
		nok "$name agrees with ldd"; diff <(echo "$a") <(echo "$b") | sed 's/^/#   /'; fi
}

tree=$("$COMPAT" gen --tree "$FX/exe_rpath")
t "rpath is inherited: libfxc found through the program's RPATH" \
	grep -q "libfxc.so.1 $FX/p/libfxc.so.1 \[rpath\]" <<< "$tree"
agree_ldd rpath "$FX/exe_rpath"

tree=$("$COMPAT" gen --tree "$FX/exe_runpath"); rc=$?
t "runpath is not inherited: libfxc not found from libfxa" grep -q "libfxc.so.1 not found" <<< "$tree"
t "runpath: the places searched are listed in order" \
	bash -c 'grep -A3 "libfxc.so.1 not found" <<< "$1" | grep -q "searched /etc/ld.so.cache \[ld.so.cache\]"' _ "$tree"
t "runpath: exit status 1 when something is not found" test "$rc" = 1
agree_ldd runpath "$FX/exe_runpath"

tree=$("$COMPAT" gen --tree "$FX/app/bin/exe_origin")
t "\$ORIGIN expands to the program's directory" grep -q "libfxl.so.1 $FX/app/bin/../lib/libfxl.so.1 \[runpath\]" <<< "$tree"
agree_ldd origin "$FX/app/bin/exe_origin"
art=$("$COMPAT" gen "$FX/app/bin/exe_origin")
t "a library found through \$ORIGIN travels with the app: not a host need" \
	bash -c '! grep -q "needed.libfxl" <<< "$1" && grep -q "needed.libc.so.6" <<< "$1"' _ "$art"
art=$("$COMPAT" gen "$FX/app")
t "a directory: one artifact for the tree, bundled libraries are not host needs" \
	bash -c 'grep -q "\"llnl.compatlib.executable-name\": \"app\"" <<< "$1" && ! grep -q "needed.libfxl" <<< "$1"' _ "$art"

out=$(env -u LD_LIBRARY_PATH "$COMPAT" gen --tree "$FX/exe_plain")
t "without LD_LIBRARY_PATH libfxl is not found" grep -q "libfxl.so.1 not found" <<< "$out"
out=$("$COMPAT" gen --tree --library-path "$FX/l" "$FX/exe_plain")
t "--library-path emulates LD_LIBRARY_PATH" grep -q "libfxl.so.1 $FX/l/libfxl.so.1 \[LD_LIBRARY_PATH\]" <<< "$out"
out=$(LD_LIBRARY_PATH="$FX/l" "$COMPAT" gen --list "$FX/exe_plain")
t "the environment's LD_LIBRARY_PATH is honoured, as by ldd" grep -q "libfxl.so.1 => $FX/l/libfxl.so.1" <<< "$out"
agree_ldd ld_library_path "$FX/exe_plain" LD_LIBRARY_PATH="$FX/l"

out=$("$COMPAT" gen --list "$FX/exe_wrong")
t "wrong-class and wrong-machine candidates are skipped" grep -q "libfxl.so.1 => $FX/w64/libfxl.so.1" <<< "$out"
[ "$HAVE_M32" = 1 ] || skip "wrong class: gcc -m32 cannot build 32-bit objects here (gcc-multilib missing)"
agree_ldd wrong_candidates "$FX/exe_wrong"

out=$("$COMPAT" gen --tree "$FX/exe_missing"); rc=$?
t "a missing library is reported not found, exit 1" bash -c 'grep -q "libfxgone.so.1 not found" <<< "$1" && [ "$2" = 1 ]' _ "$out" "$rc"
agree_ldd missing "$FX/exe_missing"
art=$("$COMPAT" gen "$FX/exe_missing")
t "a missing library is still a need in the artifact" grep -q '"llnl.compatlib.needed.libfxgone.so.1": ""' <<< "$art"

art=$(LD_LIBRARY_PATH="$FX/vboth" "$COMPAT" gen "$FX/exe_v")
t "symbol versions needed from a library" grep -q '"llnl.compatlib.needed.libfxv.so.1": "FOO_2.0"' <<< "$art"
t "symbols bound to a library, with the version of each reference" \
	grep -q '"llnl.compatlib.symbols.libfxv.so.1": "bar@FOO_2.0 foo_new@FOO_2.0"' <<< "$art"
art2=$(LD_LIBRARY_PATH="$FX/vboth" "$COMPAT" gen --no-symbols "$FX/exe_v")
t "--no-symbols leaves symbols out" bash -c '! grep -q symbols. <<< "$1"' _ "$art2"
art3=$(LD_LIBRARY_PATH="$FX/vboth" "$COMPAT" gen "$FX/exe_v")
t "the artifact is deterministic (same bytes twice)" test "$art" = "$art3"

# Bad input: one-line error naming the file, exit 2.
printf 'not an elf' > "$TMP/bad"; head -c 100 /bin/ls > "$TMP/trunc"; : > "$TMP/empty"
for f in "$TMP/bad" "$TMP/trunc" "$TMP/empty" "$TMP/nonexistent"; do
	expect_status 2 "bad input $(basename "$f") exits 2" "$COMPAT" gen "$f"
	t "bad input $(basename "$f"): one line naming the file" bash -c '[ $(wc -l < "$1") = 1 ] && grep -q "$2" "$1"' _ "$TMP/err" "$f"
done
mkdir -p "$TMP/mixed"; cp /bin/true "$TMP/mixed/"; cp "$TMP/trunc" "$TMP/mixed/trunc.so"; printf 'x' > "$TMP/mixed/notes.txt"
ln -s loop1 "$TMP/mixed/loop2"; ln -s loop2 "$TMP/mixed/loop1"
"$COMPAT" gen "$TMP/mixed" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "a directory with a bad file still describes the good ones" bash -c '[ "$1" = 0 ] && grep -q needed.libc.so.6 "$2" && grep -q trunc.so "$3"' _ "$rc" "$TMP/out" "$TMP/err"
t "-o writes the artifact file" bash -c '"$1" gen -o "$2" /bin/true && grep -q "\"version\": \"0.1.0\"" "$2"' _ "$COMPAT" "$TMP/art.json"
t "-o leaves no temporary file" bash -c '[ $(ls "$1" | grep -c tmp) = 0 ]' _ "$TMP"
expect_status 2 "gen without arguments is a usage error" "$COMPAT" gen
expect_status 0 "compat-gen --help" "$BIN/compat-gen" --help

# DF_1_NODEFLIB (set by patching DT_FLAGS_1; this linker ignores -z nodeflib):
# the cache's system-directory entries and the default directories are
# skipped, so even libc.so.6 is not found -- ldd must agree.
cp "$FX/exe_plain" "$TMP/exe_nodeflib"
/usr/bin/python3 - "$TMP/exe_nodeflib" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
shoff, = struct.unpack_from("<Q", b, 0x28)
shentsize, shnum = struct.unpack_from("<HH", b, 0x3a)
for i in range(shnum):
    sh = shoff + i * shentsize
    stype, = struct.unpack_from("<I", b, sh + 4)
    if stype != 6:          # SHT_DYNAMIC
        continue
    off, size = struct.unpack_from("<QQ", b, sh + 0x18)
    for e in range(off, off + size, 16):
        tag, val = struct.unpack_from("<qQ", b, e)
        if tag == 0x6ffffffb:   # DT_FLAGS_1
            struct.pack_into("<Q", b, e + 8, val | 0x800)
            open(p, "wb").write(b)
            sys.exit(0)
sys.exit(1)
PY
if [ $? = 0 ]; then
	out=$(env -u LD_LIBRARY_PATH "$COMPAT" gen --list --library-path "$FX/l" "$TMP/exe_nodeflib")
	t "NODEFLIB: libc.so.6 is not taken from the cache's system directories" grep -q 'libc.so.6 => not found' <<< "$out"
	t "NODEFLIB: LD_LIBRARY_PATH still applies" grep -q "libfxl.so.1 => $FX/l/libfxl.so.1" <<< "$out"
	agree_ldd nodeflib "$TMP/exe_nodeflib" LD_LIBRARY_PATH="$FX/l"
else
	nok "NODEFLIB: could not patch DT_FLAGS_1 in the fixture"
fi

# Mixed sets, as npm and wheel packages ship them (x64 and arm64 builds
# side by side): one artifact is one architecture.
mkdir -p "$TMP/esb/linux-x64" "$TMP/esb/linux-arm64" "$TMP/esb/linux-ia32"
cp "$FX/l/libfxl.so.1" "$TMP/esb/linux-x64/libfxl.so.1"
cp "$FX/c/libfxc.so.1" "$TMP/esb/linux-x64/libfxc.so.1"
cp "$FX/l/libfxl.so.1" "$TMP/esb/linux-arm64/libfxl.so.1"
printf '\267\000' | dd of="$TMP/esb/linux-arm64/libfxl.so.1" bs=1 seek=18 conv=notrunc status=none
[ "$HAVE_M32" = 1 ] && cp "$FX/w32/libfxl.so.1" "$TMP/esb/linux-ia32/"
ngroups=$((2 + HAVE_M32))
"$COMPAT" gen "$TMP/esb" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "a mixed set is refused: exit 2" test "$rc" = 2
t "... one line per architecture with its file count, then the error" bash -c '
	[ $(wc -l < "$1") = $(($2 + 1)) ] && grep -qx "compat gen: ELF64 x86_64: 2 files" "$1" &&
	grep -qx "compat gen: ELF64 aarch64: 1 file" "$1" && tail -1 "$1" | grep -q -- "--machine NAME"' _ "$TMP/err" "$ngroups"
t "... and no artifact is written" test ! -s "$TMP/out"
"$COMPAT" gen --machine x86_64 "$TMP/esb" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "--machine x86_64 picks those files (exit $rc)" bash -c '[ "$1" = 0 ] && grep -q "\"llnl.compatlib.elf.machine\": \"x86_64\"" "$2"' _ "$rc" "$TMP/out"
t "... and says in one line what it skipped" bash -c '[ $(wc -l < "$1") = 1 ] && grep -q "skipped $2 files* of other architectures (ELF64 aarch64: 1" "$1"' _ "$TMP/err" $((ngroups - 1))
expect_status 2 "--machine that matches no file: exit 2" "$COMPAT" gen --machine riscv "$TMP/esb"
