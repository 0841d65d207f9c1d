#!/usr/bin/env bash
# The loader cache under file-system latency (DESIGN §9: with 200 us per
# failed lookup, the cached start >= 10x faster than without the cache, with
# 0 failed opens).
#
# A Spack-like program is built here: NLIBS (60) libraries, each in its own
# directory, every fourth depending on the one before, and a program whose
# DT_RPATH lists all NLIBS directories (as Spack links). The tree is served
# through bench/latfs.c, a FUSE passthrough that answers each lookup after
# DELAY_US (200) microseconds; found entries are cached by the kernel, misses
# are not (as NFS without negative caching), so every failed probe of ld.so
# pays the delay on every start. Timed untraced (bench/spawn_batch.c, median
# of REPS starts):
#   - without the cache;
#   - LD_LIBRARY_PATH=DIR (the older cache: a symlink per library, which
#     DT_RPATH defeats, RPATH being searched first);
#   - LD_AUDIT=DIR/compat-audit-x86_64.so (the cache: no search at all);
#   - compat check --exec --cache DIR (the launcher: the judgement + the above);
# at DELAY_US and at 0 us added, and with 1, 8 and 32 concurrent starts
# (CONC) at DELAY_US. Failed library opens are counted with compat trace.
# Where FUSE cannot run, the same program on the local disk gives the failed
# lookup counts and an ESTIMATE (local time + failed lookups x DELAY_US),
# labelled as such.
# Env: NLIBS, DELAY_US, REPS (default 5), CONC ("1 8 32"), COMPAT; FUSE=0
# forces the fallback.
set -u
cd "$(dirname "$0")/.."
NLIBS=${NLIBS:-60} DELAY_US=${DELAY_US:-200} REPS=${REPS:-5} CONC=${CONC:-1 8 32}
COMPAT=${COMPAT:-$PWD/bin/compat}
T="timeout 300"
work=$(mktemp -d /tmp/compat-bench-cache.XXXXXX)
MNT=$work/mnt
fs_pid=

unmount() {
	[ -n "$fs_pid" ] || return 0
	fusermount3 -u "$MNT" 2> /dev/null || fusermount3 -uz "$MNT" 2> /dev/null
	kill "$fs_pid" 2> /dev/null
	wait "$fs_pid" 2> /dev/null
	fs_pid=
}
trap 'unmount; rm -rf "$work"' EXIT

cc -O2 -o "$work/spawn_batch" bench/spawn_batch.c || exit 1
have_fuse=1
cc -O2 -o "$work/latfs" bench/latfs.c $(pkg-config --cflags --libs fuse3 2> /dev/null) 2> "$work/cc.log" ||
	{ have_fuse=0; why="latfs does not build (libfuse3-dev missing?): $(head -1 "$work/cc.log")"; }

# The tree, under back/ (served at $MNT) or used in place without FUSE.
B=$work/back
mkdir -p "$B/bin" "$MNT"
for i in $(seq 0 $((NLIBS - 1))); do
	mkdir -p "$B/opt/pkg$i/lib"
	if [ $((i % 4)) = 3 ]; then
		echo "int f$((i - 1))(void); int f$i(void) { return f$((i - 1))() + 1; }" > "$work/l$i.c"
		cc -shared -fPIC -Wl,-soname,libp$i.so.1 -o "$B/opt/pkg$i/lib/libp$i.so.1" "$work/l$i.c" \
			-L"$B/opt/pkg$((i - 1))/lib" -l:libp$((i - 1)).so.1
	else
		echo "int f$i(void) { return $i; }" > "$work/l$i.c"
		cc -shared -fPIC -Wl,-soname,libp$i.so.1 -o "$B/opt/pkg$i/lib/libp$i.so.1" "$work/l$i.c"
	fi
done
{
	for i in $(seq 0 $((NLIBS - 1))); do echo "int f$i(void);"; done
	echo "int main(void) { long s = 0;"
	for i in $(seq 0 $((NLIBS - 1))); do echo "s += f$i();"; done
	echo "return s > 0 ? 0 : 1; }"
} > "$work/main.c"

# build_app ROOT: the program in back/bin, its DT_RPATH naming ROOT's dirs.
build_app() {
	local root=$1 rpath= i
	for i in $(seq 0 $((NLIBS - 1))); do rpath=$rpath${rpath:+:}$root/opt/pkg$i/lib; done
	cc -o "$B/bin/app" "$work/main.c" $(for i in $(seq 0 $((NLIBS - 1))); do
		echo "-L$B/opt/pkg$i/lib -l:libp$i.so.1"; done) -Wl,--disable-new-dtags -Wl,-rpath,"$rpath"
}

mount_latfs() {
	local delay=$1 i
	"$work/latfs" --delay-us "$delay" "$B" "$MNT" -f > "$work/latfs.log" 2>&1 &
	fs_pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q " $MNT fuse" /proc/mounts && return 0
		kill -0 "$fs_pid" 2> /dev/null || break
		sleep 0.05
	done
	fs_pid=
	return 1
}

[ "${FUSE:-1}" = 0 ] && have_fuse=0 why="FUSE=0 was given"
if [ $have_fuse = 1 ]; then
	if [ ! -c /dev/fuse ]; then
		have_fuse=0 why="/dev/fuse is missing"
	elif ! mount_latfs 0; then
		have_fuse=0 why="mounting FUSE failed: $(head -2 "$work/latfs.log" | tr '\n' ' ')"
	fi
	unmount
fi

# failed library opens of a run, from compat trace's jsonl (ok failed)
count() {
	"$@" > /dev/null 2>&1
	awk '/"syscall":"open/ && /\.so(\.[0-9][^"\/]*)?","result"/ { if ($0 ~ /"result":-/) f++; else o++ }
		END { printf "%d %d\n", o, f }' "$work/trace.jsonl"
}

ms() { awk -v us="$1" 'BEGIN { printf "%9.2f ms", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%7.1fx", (b > 0 ? a / b : 0) }'; }

# run_set ROOT LABEL: the single-start figures for the program at ROOT.
run_set() {
	local root=$1 label=$2
	local cache=$work/cache-$label app=$root/bin/app
	rm -rf "$cache"
	"$app" || { echo "the program does not run"; exit 1; }	# warm the kernel's caches
	$T "$COMPAT" trace -o /dev/null --cache "$cache" -- "$app" > /dev/null || exit 1
	read -r ok0 f0 <<< "$(count $T "$COMPAT" trace -f jsonl -o "$work/trace.jsonl" -- "$app")"
	read -r ok1 f1 <<< "$(count env LD_LIBRARY_PATH="$cache" $T "$COMPAT" trace -f jsonl -o "$work/trace.jsonl" -- "$app")"
	read -r ok2 f2 <<< "$(count $T "$COMPAT" trace --from-cache "$cache" -f jsonl -o "$work/trace.jsonl" -- "$app")"
	read -r t0 e0 <<< "$($T "$work/spawn_batch" 1 "$REPS" "$app")"
	read -r t1 e1 <<< "$(LD_LIBRARY_PATH=$cache $T "$work/spawn_batch" 1 "$REPS" "$app")"
	read -r t2 e2 <<< "$(LD_AUDIT=$cache/compat-audit-x86_64.so $T "$work/spawn_batch" 1 "$REPS" "$app")"
	read -r t3 e3 <<< "$($T "$work/spawn_batch" 1 "$REPS" "$COMPAT" check --exec --cache "$cache" -- "$app")"
	if [ "$e0$e1$e2$e3" != 0000 ]; then echo "runs failed: $e0 $e1 $e2 $e3"; exit 1; fi
	printf '  %-44s %s %s   %5d failed, %2d ok library opens\n' "no cache" "$(ms "$t0")" "$(ratio "$t0" "$t0")" "$f0" "$ok0"
	printf '  %-44s %s %s   %5d failed, %2d ok\n' "LD_LIBRARY_PATH=cache (older approach)" "$(ms "$t1")" "$(ratio "$t0" "$t1")" "$f1" "$ok1"
	printf '  %-44s %s %s   %5d failed, %2d ok\n' "LD_AUDIT cache (compat trace --cache)" "$(ms "$t2")" "$(ratio "$t0" "$t2")" "$f2" "$ok2"
	printf '  %-44s %s %s\n' "compat check --exec --cache (launcher + exec)" "$(ms "$t3")" "$(ratio "$t0" "$t3")"
	last_t0=$t0 last_t2=$t2 last_f0=$f0 last_f2=$f2
}

echo "program: $NLIBS libraries in $NLIBS directories, DT_RPATH listing all of them; median of $REPS starts;" \
	"$(nproc) CPUs; $(uname -r)"
if [ $have_fuse = 1 ]; then
	build_app "$MNT"
	for delay in "$DELAY_US" 0; do
		mount_latfs "$delay" || { echo "mounting FUSE failed"; exit 1; }
		echo "FUSE, $delay us per lookup (misses not cached by the kernel):"
		run_set "$MNT" "$delay"
		if [ "$delay" = "$DELAY_US" ]; then
			b_t0=$last_t0 b_t2=$last_t2 b_f0=$last_f0 b_f2=$last_f2
			awk -v a="$last_t0" -v b="$last_t2" -v f="$last_f0" \
				'BEGIN { printf "  cost per failed lookup, measured: %.0f us\n", (a - b) / f }'
			echo "  concurrent starts (wall time of the batch; Spindle's scenario scaled to this machine):"
			for n in $CONC; do
				reps=$((n > 8 ? 3 : REPS))
				read -r c0 x0 <<< "$($T "$work/spawn_batch" "$n" "$reps" "$MNT/bin/app")"
				read -r c2 x2 <<< "$(LD_AUDIT=$work/cache-$delay/compat-audit-x86_64.so $T "$work/spawn_batch" "$n" "$reps" "$MNT/bin/app")"
				[ "$x0$x2" = 00 ] || { echo "runs failed: $x0 $x2"; exit 1; }
				printf '    %2d at once: no cache %s, LD_AUDIT cache %s: %s\n' "$n" "$(ms "$c0")" "$(ms "$c2")" "$(ratio "$c0" "$c2")"
			done
		fi
		unmount
	done
	verdict=$(awk -v a="$b_t0" -v b="$b_t2" -v f="$b_f2" 'BEGIN { print (b > 0 && a / b >= 10 && f == 0) ? "within" : "NOT within" }')
	echo "budget (DESIGN §9): cached start $(ratio "$b_t0" "$b_t2" | tr -d ' ') faster at $DELAY_US us, $b_f2 failed opens:" \
		"$verdict the budget (>= 10x, 0 failed)"
else
	echo "FUSE cannot run here ($why): no file system with added latency."
	echo "Fallback, on the local disk: failed lookups counted with compat trace, and an ESTIMATE"
	echo "of the start time with $DELAY_US us per failed lookup (local time + failed x $DELAY_US us):"
	build_app "$B"
	run_set "$B" local
	awk -v t0="$last_t0" -v t2="$last_t2" -v f0="$last_f0" -v f2="$last_f2" -v d="$DELAY_US" 'BEGIN {
		e0 = t0 + f0 * d; e2 = t2 + f2 * d
		printf "  ESTIMATE: no cache %.1f ms, LD_AUDIT cache %.1f ms: %.1fx (budget >= 10x, 0 failed: %s)\n",
			e0 / 1000, e2 / 1000, e0 / e2, (e0 / e2 >= 10 && f2 == 0) ? "within, as estimated" : "NOT within" }'
fi
