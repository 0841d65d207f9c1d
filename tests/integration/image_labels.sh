#!/usr/bin/env bash
# compat labels: this node's facts as NFD local-source labels; --root reads a
# tree's libraries; the file is replaced atomically; errors are one line.
. "$(dirname "$0")/lib.sh"
NS=feature.node.kubernetes.io/compat-
label() { sed -n "s|^$NS$1=||p" "$2"; }

mkdir -p "$TMP/features.d"
expect_status 0 "labels -o FILE: exit 0" "$COMPAT" labels -o "$TMP/features.d/compat"
F=$TMP/features.d/compat
t "every line is a comment or a $NS* key=value label" bash -c '! grep -vE "^(#.*|feature\.node\.kubernetes\.io/compat-[a-z0-9-]+=[A-Za-z0-9._-]{1,63})$" "$1"' _ "$F"
t "machine is uname -m ($(label machine "$F"))" test "$(label machine "$F")" = "$(uname -m)"
k=$(uname -r | grep -oE '^[0-9]+\.[0-9]+(\.[0-9]+)?')
case $k in *.*.*) ;; *) k=$k.0 ;; esac
t "kernel is the running kernel's version ($(label kernel "$F"))" test "$(label kernel "$F")" = "$k"
t "kernel-major and kernel-minor are integers of it" test "$(label kernel-major "$F").$(label kernel-minor "$F")" = "$(echo "$k" | cut -d. -f1,2)"
glibc=$(ldd --version | head -1 | grep -oE '[0-9]+\.[0-9]+$')
t "glibc is the newest GLIBC_ version libc.so.6 defines ($(label glibc "$F"), ldd says $glibc)" test "$(label glibc "$F")" = "$glibc"
t "glibc-minor is its last number" test "$(label glibc-minor "$F")" = "${glibc##*.}"
stdcxx=$(/sbin/ldconfig -p | sed -n 's/.*libstdc++\.so\.6 (libc6,x86-64) => //p' | head -1)
if [ -n "$stdcxx" ]; then
	want=$(grep -aoE 'GLIBCXX_[0-9]+(\.[0-9]+)+' "$stdcxx" | sed 's/GLIBCXX_//' | sort -uV | tail -1)
	t "glibcxx is the newest GLIBCXX_ of libstdc++.so.6 ($(label glibcxx "$F"), strings say $want)" test "$(label glibcxx "$F")" = "$want"
else
	skip "glibcxx label: no libstdc++.so.6 on this host"
fi
if [ "$(uname -m)" = x86_64 ]; then
	lvl=$(label x86-64-level "$F")
	t "isa-level and x86-64-level agree (x86-64-v$lvl)" test "$(label isa-level "$F")" = "x86-64-v$lvl"
	GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 "$COMPAT" labels -o "$TMP/masked"
	t "x86-64-level follows the CPU ld.so sees (AVX2 masked: at most 2)" test "$(label x86-64-level "$TMP/masked")" -le 2
fi
t "the file is 0644 and no temporary file is left beside it" bash -c '[ "$(stat -c %a "$1/compat")" = 644 ] && [ "$(ls -A "$1")" = compat ]' _ "$TMP/features.d"

# --root: the tree's libc.so.6; versions compare as numbers (2.40 > 2.9).
R=$TMP/root; mkdir -p "$R/lib/x86_64-linux-gnu" "$R/etc"
printf 'GLIBC_2.2.5 { global: a; local: *; };\nGLIBC_2.9 { global: b; } GLIBC_2.2.5;\nGLIBC_2.40 { global: c; } GLIBC_2.9;\nGLIBC_PRIVATE { global: d; } GLIBC_2.40;\n' > "$TMP/v.map"
echo 'int a(void){return 0;} int b(void){return 0;} int c(void){return 0;} int d(void){return 0;}' > "$TMP/v.c"
gcc -shared -fPIC -o "$R/lib/x86_64-linux-gnu/libc.so.6" "$TMP/v.c" -Wl,-soname,libc.so.6 -Wl,--version-script,"$TMP/v.map"
"$COMPAT" labels --root "$R" -o "$TMP/root-labels"
t "labels --root: glibc from the tree's libc.so.6, numerically newest (2.40)" test "$(label glibc "$TMP/root-labels")" = 2.40
t "labels --root: no glibcxx label where there is no libstdc++.so.6" bash -c '! grep -q glibcxx "$1"' _ "$TMP/root-labels"

expect_status 2 "labels into a directory that does not exist: exit 2" "$COMPAT" labels -o "$TMP/nope/compat"
t "... one line naming the path" bash -c '[ $(wc -l < "$1") = 1 ] && grep -q "$2" "$1"' _ "$TMP/err" "$TMP/nope/compat"
"$COMPAT" labels -o - > "$TMP/stdout"
t "labels -o -: the same labels on stdout" diff <(grep -v '^#' "$TMP/stdout") <(grep -v '^#' "$F")
