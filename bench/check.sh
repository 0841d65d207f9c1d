#!/usr/bin/env bash
# A local `compat check` of one artifact against ldd on the same program,
# measured in one run. Budget (DESIGN §9): <= 2 ms median, process start
# included, and >= 3x faster than ldd. Per program: the median of REPS runs
# of each (spawned by a small C timer, no shell in the timing), interleaved;
# then the median over a sample of dynamically linked programs of /usr/bin.
# Env: SAMPLE (programs, default 50), REPS (default 5), COMPAT (the binary).
set -eu
cd "$(dirname "$0")/.."
SAMPLE=${SAMPLE:-50} REPS=${REPS:-5}
COMPAT=${COMPAT:-$PWD/bin/compat}
work=$(mktemp -d /tmp/compat-bench-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/spawn_time" bench/spawn_time.c
unset LD_LIBRARY_PATH

for f in /usr/bin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	readelf -lW "$f" 2>/dev/null | grep -q ' DYNAMIC ' && echo "$f"
done > "$work/all"
total=$(wc -l < "$work/all")
step=$(( total / SAMPLE )); [ "$step" -ge 1 ] || step=1
awk -v s="$step" 'NR % s == 0' "$work/all" | head -n "$SAMPLE" > "$work/sample"
n=$(wc -l < "$work/sample")
echo "sample: $n of $total dynamically linked programs in /usr/bin, $REPS runs each, median per program"

: > "$work/times"
i=0
while read -r f; do
	i=$((i + 1))
	"$COMPAT" gen -o "$work/a$i.json" "$f" 2> /dev/null || continue
	echo "compat check|$("$work/spawn_time" "$REPS" "$COMPAT" check "$work/a$i.json")" >> "$work/times"
	echo "ldd|$("$work/spawn_time" "$REPS" ldd "$f")" >> "$work/times"
done < "$work/sample"
base=$("$work/spawn_time" 21 /bin/true)

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
c=$(grep '^compat check|' "$work/times" | cut -d'|' -f2 | median)
l=$(grep '^ldd|' "$work/times" | cut -d'|' -f2 | median)
printf '\n%-22s %12s %10s\n' tool "median µs" "vs ldd"
printf '%-22s %12.0f %9.2fx\n' "compat check ART" "$c" "$(echo "$l / $c" | bc -l)"
printf '%-22s %12.0f %9.2fx\n' "ldd PROGRAM" "$l" 1
printf '%-22s %12.0f   (process spawn floor on this machine)\n' "/bin/true" "$base"
