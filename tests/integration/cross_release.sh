#!/usr/bin/env bash
# suite: host
# Cross-release verdicts, judged by the real loaders (issue 10, docs/cross-release.md).
#
# Debian 11, 12 and 13 trees (mmdebstrap, cached tarballs) with the packages
# of cross_release/packages. For every ordered pair of trees (A, B), and for
# A -> this machine, each program and library of cross_release/{programs,
# libraries} found in A is described with `compat gen --root A` and judged
# with `compat check --root B` (no --root for this machine). The truth comes
# from B's own loader: the file, copied alone into B, is started in
# `chroot B` with LD_BIND_NOW=1 and a preload object whose constructor exits
# 0 (a library is preloaded into B's /bin/true the same way). Every pair must
# agree on every file, on the verdict and on the reason.
#
# Slow (trees of ~400 MB each, minutes): in the host suite (`make check-host`,
# or alone with `make check-cross`), not in `make check`. Needs root (chroot) and, the first
# time, deb.debian.org. COMPAT_CROSS_REPORT=FILE also writes the results
# table and the disagreements as Markdown (docs/cross-release.md uses it).
. "$(dirname "$0")/lib.sh"
HERE=$COMPAT_ROOT/tests/integration/cross_release
PY=/usr/bin/python3
TREES=(bullseye bookworm trixie)

if [ "$(id -u)" != 0 ] || ! command -v chroot > /dev/null; then
	skip "cross-release: needs root for chroot"; exit 0
fi
for tool in mmdebstrap gcc unshare "$PY"; do
	command -v "$tool" > /dev/null || { skip "cross-release: $tool is not installed"; exit 0; }
done
if [ "$(uname -m)" != x86_64 ]; then
	skip "cross-release: the trees, the preload object and the lists are x86_64"; exit 0
fi
started=$SECONDS

# --- the oracle's objects, and a self-test of the oracle and its classifier
O=$TMP/oracle
mkdir -p "$O"
{ gcc -O2 -shared -fPIC -nostdlib -Wl,--hash-style=both -o "$O/exit0.so" "$HERE/exit0.c" &&
	gcc -O2 -static -nostdlib -fno-pie -no-pie -fno-stack-protector -ffreestanding \
		-o "$O/launch" "$HERE/launch.c" &&
	gcc -O2 -nostdlib -fPIE -pie -Wl,--hash-style=both -o "$O/exit3" "$HERE/exit3.c"; } 2> "$O/build.err" ||
	{ nok "cross-release: the oracle's objects build"; sed 's/^/#   /' "$O/build.err" | head -5; exit 0; }
# What the oracle starts must not reach the network, even if the preload
# failed and the program really ran: each run gets a network namespace of its own.
if ! unshare --net true 2> /dev/null; then
	skip "cross-release: cannot make a network namespace (unshare --net) for the oracle's runs"; exit 0
fi

# oracle_run OUT B KIND FILE: start FILE (absolute inside B; B "host" is this
# machine) under B's loader with LD_BIND_NOW=1 and the exit-0 preload,
# through launch (exact environment, one execve). A library (KIND lib) is
# preloaded into B's /bin/true beside the exit-0 object. Output in OUT.out,
# exit status in OUT.rc. LAUNCH and EXIT0 are the paths inside B.
oracle_run() {
	local out=$1 b=$2 kind=$3 file=$4 pre cmd
	if [ "$kind" = lib ]; then pre="$EXIT0 $file" cmd=/bin/true; else pre=$EXIT0 cmd=$file; fi
	if [ "$b" = host ]; then
		(cd "$TMP/host-cwd" && timeout 20 unshare --net "$LAUNCH" "$cmd" LD_BIND_NOW=1 LD_PRELOAD="$pre") \
			< /dev/null > "$out.out" 2>&1
	else
		timeout 20 unshare --net chroot "$TMP/trees/$b" "$LAUNCH" "$cmd" LD_BIND_NOW=1 LD_PRELOAD="$pre" \
			< /dev/null > "$out.out" 2>&1
	fi
	echo $? > "$out.rc"
}
classify() { "$PY" "$HERE/compare.py" classify "$(cat "$1.rc")" "$1.out"; }
mkdir -p "$TMP/host-cwd"

# Fixtures built here, judged by this machine's loader: each failure kind the
# classifier knows must come out as that kind, and a program that exits 3
# must "run" (exit 0), proving the constructor ran before main.
F=$TMP/selftest
mkdir -p "$F/build" "$F/run"
cat > "$F/fix1.c" <<'EOF'
int cross_one(void) { return 1; }
EOF
cat > "$F/fix2.c" <<'EOF'
int cross_one(void) { return 1; }
int cross_two(void) { return 2; }
EOF
printf 'CROSS_1 { global: cross_one; local: *; };\n' > "$F/v1.map"
printf 'CROSS_1 { global: cross_one; local: *; };\nCROSS_2 { global: cross_two; } CROSS_1;\n' > "$F/v2.map"
cat > "$F/uses_two.c" <<'EOF'
int cross_two(void);
int main(void) { return cross_two(); }
EOF
cat > "$F/uses_one.c" <<'EOF'
int cross_one(void);
int main(void) { return cross_one() + 2; }
EOF
cat > "$F/libuser.c" <<'EOF'
int cross_two(void);
int lib_user(void) { return cross_two(); }
EOF
selftest_build() {
	# libcrossver: versioned (v1 defines CROSS_1 only, v2 adds CROSS_2)
	build_c "$F/build/libcrossver.so.1" "$F/fix2.c" -shared -fPIC -Wl,-soname,libcrossver.so.1 -Wl,--version-script="$F/v2.map" &&
	build_c "$F/run/libcrossver.so.1" "$F/fix1.c" -shared -fPIC -Wl,-soname,libcrossver.so.1 -Wl,--version-script="$F/v1.map" &&
	# libcrossplain: no versions (v1 lacks cross_two)
	build_c "$F/build/libcrossplain.so.1" "$F/fix2.c" -shared -fPIC -Wl,-soname,libcrossplain.so.1 &&
	build_c "$F/run/libcrossplain.so.1" "$F/fix1.c" -shared -fPIC -Wl,-soname,libcrossplain.so.1 &&
	# libcrossgone: present at link time only
	build_c "$F/build/libcrossgone.so.1" "$F/fix2.c" -shared -fPIC -Wl,-soname,libcrossgone.so.1 &&
	# linked against build/, run with run/ (RPATH)
	local rp=-Wl,-rpath,$F/run ver=$F/build/libcrossver.so.1 &&
	build_c "$F/ok" "$F/uses_one.c" "$rp" "$ver" &&
	build_c "$F/version" "$F/uses_two.c" "$rp" "$ver" &&
	build_c "$F/symbol" "$F/uses_two.c" "$rp" "$F/build/libcrossplain.so.1" &&
	build_c "$F/soname" "$F/uses_one.c" "$rp" "$F/build/libcrossgone.so.1" &&
	build_c "$F/interp" "$F/uses_one.c" "$rp" "$ver" -Wl,--dynamic-linker=/nonexistent/ld-linux-x86-64.so.2 &&
	build_c "$F/libuser.so" "$F/libuser.c" -shared -fPIC "$rp" "$ver" &&
	cp "$F/ok" "$F/arch" &&
	# e_machine (offset 18, 2 bytes LE) = 183, EM_AARCH64
	printf '\267\000' | dd of="$F/arch" bs=1 seek=18 conv=notrunc status=none
}
if ! selftest_build 2> "$F/build.err"; then
	nok "cross-release: oracle self-test fixtures build"; sed 's/^/#   /' "$F/build.err" | head -5
else
	EXIT0=$O/exit0.so LAUNCH=$O/launch
	while read -r kind file want; do
		oracle_run "$F/$file.run" host "$kind" "$F/$file"
		got=$(classify "$F/$file.run") || got="(classifier failed)"
		t "cross-release oracle: $file judged '$want' by this machine's loader (got '$got')" \
			test "$got" = "$want"
	done <<-'EOF'
		prog ok runs
		prog version missing-version CROSS_2
		prog symbol undefined-symbol cross_two
		prog soname missing-soname libcrossgone.so.1
		prog interp missing-interpreter
		prog arch wrong-arch
		lib libuser.so missing-version CROSS_2
		EOF
fi

# --- the trees
inc=$(grep -v '^#' "$HERE/packages" | grep . | paste -sd, -)
for s in "${TREES[@]}"; do
	tar=$(debian_tarball "$s" --variant=apt --include="$inc" 2> "$TMP/mmdebstrap-$s.err") || {
		tail -5 "$TMP/mmdebstrap-$s.err" | sed 's/^/#   /'
		skip "cross-release: no Debian $s tree (mmdebstrap or deb.debian.org unavailable)"; exit 0
	}
	R=$TMP/trees/$s
	mkdir -p "$R"
	tar -C "$R" --exclude='./dev/*' -xf "$tar" ||
		{ nok "cross-release: the $s tree extracts"; exit 0; }
	# /dev/null and co. (libraries' constructors run before the exit-0 one,
	# and some open them); only where mknod is allowed
	tar -C "$R" -xf "$tar" ./dev 2> /dev/null ||
		echo "# $s: no device nodes (mknod refused); a library constructor that opens /dev/null fails"
	mkdir -p "$R/compat-cross"
	cp "$O/exit0.so" "$O/exit3" "$O/launch" "$R/compat-cross/"
	EXIT0=/compat-cross/exit0.so LAUNCH=/compat-cross/launch
	oracle_run "$TMP/exit3-$s" "$s" prog /compat-cross/exit3
	t "cross-release oracle: the exit-0 preload runs first under $s's loader" \
		test "$(cat "$TMP/exit3-$s.rc")" = 0
done
echo "# trees ready after $((SECONDS - started)) s"

# in_tree R PATH: PATH with its symlinks resolved inside the tree R (empty when absent)
in_tree() { [ -e "$1$2" ] || [ -L "$1$2" ] && chroot "$1" /usr/bin/env PATH=/usr/bin:/bin readlink -e "$2"; }

# --- the files of each tree, and their artifacts (gen --root A)
for a in "${TREES[@]}"; do
	R=$TMP/trees/$a
	list=$TMP/files-$a
	: > "$list"
	while read -r name; do
		for d in /usr/bin /usr/sbin /bin /sbin; do
			p=$(in_tree "$R" "$d/$name") && [ -n "$p" ] && { printf 'prog\t%s\t%s\n' "$name" "$p" >> "$list"; break; }
		done
	done < <(grep -v '^#' "$HERE/programs" | grep .)
	while read -r name; do
		for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do
			p=$(in_tree "$R" "$d/$name") && [ -n "$p" ] && { printf 'lib\t%s\t%s\n' "$name" "$p" >> "$list"; break; }
		done
	done < <(grep -v '^#' "$HERE/libraries" | grep .)
	np=$(grep -c '^prog' "$list") nl=$(grep -c '^lib' "$list")
	echo "# $a: $np programs, $nl libraries"
	t "cross-release: $a holds at least 30 of the programs and libraries ($np + $nl)" \
		test "$np" -ge 30 -a "$nl" -ge 30
	mkdir -p "$TMP/art/$a"
	while IFS=$'\t' read -r kind name path; do
		env -u LD_LIBRARY_PATH "$COMPAT" gen --root "$R" -o "$TMP/art/$a/$name.json" "$R$path" \
			2> "$TMP/art/$a/$name.err"
		echo $? > "$TMP/art/$a/$name.rc"
	done < "$list"
done
echo "# artifacts made after $((SECONDS - started)) s"

# --- every pair: compat's verdict and B's loader's, per file
manifest=$TMP/manifest
: > "$manifest"
for b in "${TREES[@]}" host; do
	for a in "${TREES[@]}"; do
		r=$TMP/runs/$a-$b
		mkdir -p "$r"
		if [ "$b" = host ]; then
			scratch=$TMP/host-scratch/$a inb=$TMP/host-scratch/$a EXIT0=$O/exit0.so LAUNCH=$O/launch
			root=()
		else
			scratch=$TMP/trees/$b/compat-cross/$a inb=/compat-cross/$a
			EXIT0=/compat-cross/exit0.so LAUNCH=/compat-cross/launch
			root=(--root "$TMP/trees/$b")
		fi
		mkdir -p "$scratch"
		while IFS=$'\t' read -r kind name path; do
			cp "$TMP/trees/$a$path" "$scratch/$name"
			oracle_run "$r/$name" "$b" "$kind" "$inb/$name"
			env -u LD_LIBRARY_PATH "$COMPAT" check --json "${root[@]}" "$TMP/art/$a/$name.json" \
				> "$r/$name.json" 2> "$r/$name.check.err"
			crc=$?
			# the columns compare.py reads
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$a" "$b" "$kind" "$name" "$path" \
				"$(cat "$TMP/art/$a/$name.rc")" "$TMP/art/$a/$name.err" "$crc" "$r/$name.json" \
				"$r/$name.check.err" "$(cat "$r/$name.rc")" "$r/$name.out" >> "$manifest"
			rm -f "$scratch/$name"
		done < "$TMP/files-$a"
	done
done
echo "# $(wc -l < "$manifest") judgements after $((SECONDS - started)) s"

"$PY" "$HERE/compare.py" report "$manifest" ${COMPAT_CROSS_REPORT:+"$COMPAT_CROSS_REPORT"} > "$TMP/report" 2> "$TMP/report.err"
rc=$?
cat "$TMP/report"
t "cross-release: the comparison ran (compare.py exit $rc)" test "$rc" = 0 -a -s "$TMP/report"
for b in "${TREES[@]}" host; do
	for a in "${TREES[@]}"; do # a pair with no file at all gives no line above
		grep -qE "^(ok|not ok) - cross-release $a -> $b: " "$TMP/report" ||
			nok "cross-release $a -> $b: no file was judged"
	done
done
[ -s "$TMP/report.err" ] && sed 's/^/#   /' "$TMP/report.err" | tail -5
echo "# cross-release: $((SECONDS - started)) s in all"
