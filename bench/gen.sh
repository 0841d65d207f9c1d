#!/usr/bin/env bash
# compat gen against ldd, libtree and lddtree, measured in one run.
# Per binary: the median of REPS runs of each tool on it (spawned by a small
# C timer, no shell in the timing); then the median over a sample of
# dynamically linked programs from /usr/bin. Tools run interleaved per
# binary so that drift hits all of them alike. Also a batch figure: one
# invocation over the whole sample, per binary.
# Env: SAMPLE (number of programs, default 60), REPS (default 5), COMPAT (the
# binary to time, default bin/compat; e.g. a copy of the `make static` one).
set -eu
cd "$(dirname "$0")/.."
SAMPLE=${SAMPLE:-60} REPS=${REPS:-5}
COMPAT=${COMPAT:-$PWD/bin/compat}
work=$(mktemp -d /tmp/compat-bench-gen.XXXXXX)
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
echo "sample: $n of $total dynamically linked programs in /usr/bin, $REPS runs each, median per binary"

tools=("compat gen" "compat gen --list" "libtree" "ldd" "lddtree")
cmd_of() {
	case $1 in
	"compat gen") echo "$COMPAT gen" ;;
	"compat gen --list") echo "$COMPAT gen --list" ;;
	*) echo "$1" ;;
	esac
}
have() { case $1 in compat*) return 0 ;; esac; command -v "${1%% *}" > /dev/null; }
: > "$work/times"
while read -r f; do
	for t in "${tools[@]}"; do
		have "$t" || continue
		reps=$REPS; [ "$t" = lddtree ] && reps=1   # a Python script: ~0.1 s a run
		us=$("$work/spawn_time" "$reps" $(cmd_of "$t") "$f")
		echo "$t|$us" >> "$work/times"
	done
done < "$work/sample"
base=$("$work/spawn_time" 21 /bin/true)

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '\n%-20s %12s %10s %10s\n' tool "median µs" "vs ldd" "vs libtree"
ldd_m=$(grep '^ldd|' "$work/times" | cut -d'|' -f2 | median)
lt_m=$(grep '^libtree|' "$work/times" | cut -d'|' -f2 | median)
for t in "${tools[@]}"; do
	m=$(grep "^$t|" "$work/times" | cut -d'|' -f2 | median)
	[ -n "$m" ] || { printf '%-20s %12s\n' "$t" "(not installed)"; continue; }
	printf '%-20s %12.0f %9.2fx %9.2fx\n' "$t" "$m" "$(echo "$ldd_m / $m" | bc -l)" "$(echo "$lt_m / $m" | bc -l)"
done
printf '%-20s %12.0f   (process spawn floor on this machine)\n' "/bin/true" "$base"

echo
echo "batch: one invocation over all $n programs, µs per program"
batch() { # label cmd...
	local label=$1; shift
	local t0 t1
	t0=$(date +%s%N); "$@" $(cat "$work/sample") > /dev/null 2>&1 || true; t1=$(date +%s%N)
	printf '%-20s %12.0f\n' "$label" "$(echo "($t1 - $t0) / 1000 / $n" | bc -l)"
}
batch "compat gen --list" "$COMPAT" gen --list
batch "compat gen (union)" "$COMPAT" gen
batch "libtree" libtree
batch "ldd" ldd
