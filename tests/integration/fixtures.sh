# Builds ELF fixtures with gcc into $FX (sourced after lib.sh). Nothing
# here is committed as a binary: every file is made at test time.
: "${TMP:?source lib.sh before fixtures.sh}"
FX=$TMP/fx
mkdir -p "$FX"/{a,c,p,l,w32,wm,w64,v1,v2,vboth,nosym,empty,app/bin,app/lib,src}

cat > "$FX/src/a.c" <<'C'
int c_func(void);
int a_func(void) { return c_func() + 1; }
C
cat > "$FX/src/c.c" <<'C'
int c_func(void) { return 41; }
C
cat > "$FX/src/main_a.c" <<'C'
int a_func(void);
int main(void) { return a_func() == 42 ? 0 : 1; }
C
cat > "$FX/src/l.c" <<'C'
int l_func(void) { return 7; }
C
cat > "$FX/src/main_l.c" <<'C'
int l_func(void);
int main(void) { return l_func() == 7 ? 0 : 1; }
C
# A library with two symbol versions, and one that has only the first.
cat > "$FX/src/v.map" <<'C'
FOO_1.0 { global: foo_old; local: *; };
FOO_2.0 { global: foo_new; bar; } FOO_1.0;
C
cat > "$FX/src/v1.map" <<'C'
FOO_1.0 { global: foo_old; foo_new; bar; local: *; };
C
cat > "$FX/src/v.c" <<'C'
int foo_old(void) { return 1; }
int foo_new(void) { return 2; }
int bar(void) { return 3; }
C
cat > "$FX/src/vnosym.c" <<'C'
int foo_old(void) { return 1; }
int foo_new(void) { return 2; }
C
cat > "$FX/src/main_v.c" <<'C'
int foo_new(void);
int bar(void);
int main(void) { return foo_new() + bar() == 5 ? 0 : 1; }
C

so() { # out soname src [gcc args]
	local out=$1 soname=$2 src=$3; shift 3
	gcc -shared -fPIC -o "$out" "$src" -Wl,-soname,"$soname" "$@"
}
so "$FX/c/libfxc.so.1" libfxc.so.1 "$FX/src/c.c"
cp "$FX/c/libfxc.so.1" "$FX/p/libfxc.so.1"
so "$FX/a/libfxa.so.1" libfxa.so.1 "$FX/src/a.c" -L"$FX/c" -l:libfxc.so.1
so "$FX/l/libfxl.so.1" libfxl.so.1 "$FX/src/l.c"
# RPATH is inherited along the chain: exe(RPATH a:p) -> libfxa -> libfxc in p.
gcc -o "$FX/exe_rpath" "$FX/src/main_a.c" -L"$FX/a" -l:libfxa.so.1 \
	-Wl,--disable-new-dtags,-rpath,"$FX/a:$FX/p" -Wl,-rpath-link,"$FX/c"
# RUNPATH is not: libfxc is not found from libfxa.
gcc -o "$FX/exe_runpath" "$FX/src/main_a.c" -L"$FX/a" -l:libfxa.so.1 \
	-Wl,--enable-new-dtags,-rpath,"$FX/a:$FX/p" -Wl,-rpath-link,"$FX/c"
# $ORIGIN: app/bin/exe finds app/lib through $ORIGIN/../lib.
cp "$FX/l/libfxl.so.1" "$FX/app/lib/"
gcc -o "$FX/app/bin/exe_origin" "$FX/src/main_l.c" -L"$FX/l" -l:libfxl.so.1 \
	-Wl,--enable-new-dtags,-rpath,'$ORIGIN/../lib'
# Found only through LD_LIBRARY_PATH.
gcc -o "$FX/exe_plain" "$FX/src/main_l.c" -L"$FX/l" -l:libfxl.so.1
# Wrong class first (32-bit), wrong machine next (patched header), right one last.
if gcc -m32 -shared -fPIC -o "$FX/w32/libfxl.so.1" "$FX/src/l.c" -Wl,-soname,libfxl.so.1 2>/dev/null; then
	HAVE_M32=1
else
	HAVE_M32=0
fi
cp "$FX/l/libfxl.so.1" "$FX/wm/libfxl.so.1"
printf '\267\000' | dd of="$FX/wm/libfxl.so.1" bs=1 seek=18 conv=notrunc status=none  # EM_AARCH64
cp "$FX/l/libfxl.so.1" "$FX/w64/libfxl.so.1"
gcc -o "$FX/exe_wrong" "$FX/src/main_l.c" -L"$FX/l" -l:libfxl.so.1 \
	-Wl,--disable-new-dtags,-rpath,"$FX/w32:$FX/wm:$FX/w64"
# A missing library: linked, then removed.
mkdir -p "$FX/gone"
so "$FX/gone/libfxgone.so.1" libfxgone.so.1 "$FX/src/l.c"
gcc -o "$FX/exe_missing" "$FX/src/main_l.c" -L"$FX/gone" -l:libfxgone.so.1
rm -f "$FX/gone/libfxgone.so.1"
# Versioned symbols.
so "$FX/vboth/libfxv.so.1" libfxv.so.1 "$FX/src/v.c" -Wl,--version-script,"$FX/src/v.map"
so "$FX/v1/libfxv.so.1" libfxv.so.1 "$FX/src/v.c" -Wl,--version-script,"$FX/src/v1.map"
so "$FX/nosym/libfxv.so.1" libfxv.so.1 "$FX/src/vnosym.c" -Wl,--version-script,"$FX/src/v.map"
gcc -o "$FX/exe_v" "$FX/src/main_v.c" -L"$FX/vboth" -l:libfxv.so.1
