#!/usr/bin/env bash
# compat gen against ldd, libtree and lddtree, measured in one run, for the
# binary `make` builds (glibc dynamic) and the one `make static` builds.
# Per binary: the median of REPS runs of each tool on it (spawned by a small
# C timer, no shell in the timing); then the median over a sample of
# dynamically linked programs from /usr/bin. Tools run interleaved per
# binary so that drift hits all of them alike. Also a batch figure: one
# invocation over every dynamically linked program of /usr/bin, per program.
# Budgets (DESIGN §9): gen --list >= 1.2x libtree per process, gen (the
# artifact) >= 1.0x; batch gen --list at or below libtree's us per program.
# Env: SAMPLE (number of programs, default 60), REPS (default 5), COMPAT (the
# binary to time, default bin/compat), STATIC (a `make static` binary to
# time beside it; default: built into the work directory; STATIC=0: none).
set -eu
cd "$(dirname "$0")/.."
SAMPLE=${SAMPLE:-60} REPS=${REPS:-5}
COMPAT=${COMPAT:-$PWD/bin/compat}
. bench/lib.sh
bench_setup gen
bench_sample "$SAMPLE"
echo "sample: $n of $total dynamically linked programs in /usr/bin, $REPS runs each, median per binary"
echo "compat: $COMPAT ($("$COMPAT" --version | sed -n 's/^link: //p'))${STATIC:+; static: $STATIC}"

tools=("compat gen" "compat gen --list")
[ "$STATIC" = 0 ] || tools+=("static gen" "static gen --list")
tools+=("libtree" "ldd" "lddtree")
cmd_of() {
	case $1 in
	"compat gen") echo "$COMPAT gen" ;;
	"compat gen --list") echo "$COMPAT gen --list" ;;
	"static gen") echo "$STATIC gen" ;;
	"static gen --list") echo "$STATIC gen --list" ;;
	*) echo "$1" ;;
	esac
}
have() { case $1 in compat* | static*) return 0 ;; esac; command -v "${1%% *}" > /dev/null; }
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
med() { grep "^$1|" "$work/times" | cut -d'|' -f2 | median; }
printf '\n%-20s %12s %10s %10s\n' tool "median µs" "vs ldd" "vs libtree"
ldd_m=$(med ldd)
lt_m=$(med libtree)
for t in "${tools[@]}"; do
	m=$(med "$t")
	[ -n "$m" ] || { printf '%-20s %12s\n' "$t" "(not installed)"; continue; }
	printf '%-20s %12.0f %9.2fx %9.2fx\n' "$t" "$m" "$(echo "$ldd_m / $m" | bc -l)" "$(echo "$lt_m / $m" | bc -l)"
done
printf '%-20s %12.0f   (process spawn floor on this machine)\n' "/bin/true" "$base"

total_n=$(wc -l < "$work/all")
echo
echo "batch: one invocation over all $total_n programs, µs per program"
batch() { # label cmd...
	local label=$1; shift
	local t0 t1
	t0=$(date +%s%N); "$@" $(cat "$work/all") > /dev/null 2>&1 || true; t1=$(date +%s%N)
	local us
	us=$(echo "($t1 - $t0) / 1000 / $total_n" | bc -l)
	printf '%-20s %12.0f\n' "$label" "$us"
	echo "$label|$us" >> "$work/batch"
}
: > "$work/batch"
batch "compat gen --list" "$COMPAT" gen --list
batch "compat gen (union)" "$COMPAT" gen
if [ "$STATIC" != 0 ]; then
	batch "static gen --list" "$STATIC" gen --list
	batch "static gen (union)" "$STATIC" gen
fi
batch "libtree" libtree
batch "ldd" ldd

# The budgets, for each binary.
echo
verdict() { # label value op want
	if [ "$(echo "$2 $3 $4" | bc -l)" = 1 ]; then echo "met"; else echo "NOT met"; fi
}
bm() { grep "^$1|" "$work/batch" | cut -d'|' -f2; }
for b in compat static; do
	[ "$b" = static ] && [ "$STATIC" = 0 ] && continue
	l=$(echo "$lt_m / $(med "$b gen --list")" | bc -l)
	g=$(echo "$lt_m / $(med "$b gen")" | bc -l)
	printf 'budget %-7s gen --list %.2fx libtree (>= 1.2x: %s); gen %.2fx (>= 1.0x: %s); batch gen --list %.0f µs, libtree %.0f (%s)\n' \
		"$b:" "$l" "$(verdict x "$l" '>=' 1.2)" "$g" "$(verdict x "$g" '>=' 1.0)" "$(bm "$b gen --list")" "$(bm libtree)" \
		"$(verdict x "$(bm "$b gen --list")" '<=' "$(bm libtree)")"
done
