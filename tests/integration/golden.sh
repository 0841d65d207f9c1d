#!/usr/bin/env bash
# The reports of compat check, human and JSON, for each finding kind,
# compared byte for byte with tests/fixtures/golden/ (toybox's testcmd
# style). The host judged is a tree built here from sources (a stand-in
# loader, libc with versions GLIBC_2.2.5..GLIBC_2.36, libstdc++ and
# libgcc_s stand-ins, libfxv with FOO_1.0 only, an unversioned library),
# through --root, so the output holds no path of this machine. The CPU is
# capped at x86-64-v2 as ld.so caps it (GLIBC_TUNABLES).
# GOLDEN_UPDATE=1 rewrites the expected files (review the diff).
. "$(dirname "$0")/lib.sh"
G=$COMPAT_ROOT/tests/fixtures/golden
export GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2
if ! /lib64/ld-linux-x86-64.so.2 --help 2> /dev/null | grep -q 'x86-64-v2 (supported, searched)' ||
	/lib64/ld-linux-x86-64.so.2 --help | grep -q 'x86-64-v3 (supported, searched)'; then
	skip "golden reports: this CPU is not at x86-64-v2 with AVX2 masked (the reports name the CPU's level)"
	exit 0
fi

R=$TMP/root
S=$TMP/src
mkdir -p "$R/lib64" "$R/lib/x86_64-linux-gnu" "$R/usr/lib/x86_64-linux-gnu" "$R/etc" "$S"
cat > "$S/ld.c" <<'C'
int _dl_stand_in;
C
cat > "$S/libc.c" <<'C'
int puts(const char *s) { return s ? 0 : -1; }
void *malloc(unsigned long n) { return (void *)n; }
int __libc_start_main(void) { return 0; }
int pthread_create(void) { return 0; }
C
cat > "$S/libc.map" <<'M'
GLIBC_2.2.5 { global: puts; malloc; local: *; };
GLIBC_2.3 { } GLIBC_2.2.5;
GLIBC_2.4 { } GLIBC_2.3;
GLIBC_2.17 { } GLIBC_2.4;
GLIBC_2.28 { } GLIBC_2.17;
GLIBC_2.34 { global: __libc_start_main; pthread_create; } GLIBC_2.28;
GLIBC_2.35 { } GLIBC_2.34;
GLIBC_2.36 { } GLIBC_2.35;
M
cat > "$S/cxx.c" <<'C'
int cxx_stand_in(void) { return 0; }
C
{
	prev=
	for v in GLIBCXX_3.4 GLIBCXX_3.4.9 GLIBCXX_3.4.21 GLIBCXX_3.4.30 CXXABI_1.3 CXXABI_1.3.13; do
		if [ -z "$prev" ]; then echo "$v { global: cxx_stand_in; local: *; };"; else echo "$v { } $prev;"; fi
		prev=$v
	done
} > "$S/cxx.map"
printf 'GCC_3.0 { global: cxx_stand_in; local: *; };\nGCC_4.2.0 { } GCC_3.0;\nGCC_12.0 { } GCC_4.2.0;\n' > "$S/gcc.map"
cat > "$S/fxv.c" <<'C'
int foo_old(void) { return 1; }
int bar(void) { return 3; }
C
echo 'FOO_1.0 { global: foo_old; bar; local: *; };' > "$S/fxv.map"
so() { local out=$1 soname=$2; shift 2; gcc -w -shared -fPIC -nostdlib -o "$out" -Wl,-soname,"$soname" "$@"; }
so "$R/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ld-linux-x86-64.so.2 "$S/ld.c"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"
so "$R/lib/x86_64-linux-gnu/libc.so.6" libc.so.6 "$S/libc.c" -Wl,--version-script,"$S/libc.map" \
	-Wl,--no-as-needed "$R/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
so "$R/usr/lib/x86_64-linux-gnu/libstdc++.so.6" libstdc++.so.6 "$S/cxx.c" -Wl,--version-script,"$S/cxx.map"
so "$R/lib/x86_64-linux-gnu/libgcc_s.so.1" libgcc_s.so.1 "$S/cxx.c" -Wl,--version-script,"$S/gcc.map"
so "$R/lib/x86_64-linux-gnu/libfxv.so.1" libfxv.so.1 "$S/fxv.c" -Wl,--version-script,"$S/fxv.map"
so "$R/usr/lib/x86_64-linux-gnu/libnover.so.1" libnover.so.1 "$S/cxx.c"

# compare NAME OUTFILE [check options...]: the report of NAME.json, in the
# form the options ask for, against OUTFILE in the golden directory.
compare() {
	local name=$1 file=$2 want=$G/$2; shift 2
	"$COMPAT" check --root "$R" "$@" "$G/$name.json" > "$TMP/got" 2> "$TMP/err"
	local rc=$?
	[ -s "$TMP/err" ] && sed 's/^/#   stderr: /' "$TMP/err"
	printf 'exit %s\n' "$rc" >> "$TMP/got"
	if [ "${GOLDEN_UPDATE:-}" = 1 ]; then
		cp "$TMP/got" "$want"
		skip "$file: rewritten (GOLDEN_UPDATE=1)"
		return
	fi
	if cmp -s "$TMP/got" "$want"; then ok "golden $file"; else
		nok "golden $file"; diff -u "$want" "$TMP/got" | sed 's/^/#   /' | head -40; fi
}
for name in compatible wrong-arch missing-interpreter missing-soname missing-version isa-level undefined-symbol warnings; do
	compare "$name" "$name.txt"
	compare "$name" "$name.out.json" --json
done
compare missing-soname missing-soname.v.txt -v
