#!/usr/bin/env bash
# A local `compat check` of one artifact against ldd on the same program,
# measured in one run, for the binary `make` builds (glibc dynamic) and the
# one `make static` builds. Budget (DESIGN §9): <= 2 ms median, process
# start included, and >= 3x faster than ldd. Per program: the median of
# REPS runs of each (spawned by a small C timer, no shell in the timing),
# interleaved; then the median over a sample of dynamically linked
# programs of /usr/bin. Also every artifact of the sample judged by one
# `check` process, per artifact.
# Env: SAMPLE (programs, default 50), REPS (default 5), COMPAT (the binary),
# STATIC (a `make static` binary; default: built into the work directory;
# STATIC=0: none).
set -eu
cd "$(dirname "$0")/.."
SAMPLE=${SAMPLE:-50} REPS=${REPS:-5}
COMPAT=${COMPAT:-$PWD/bin/compat}
. bench/lib.sh
bench_setup check
bench_sample "$SAMPLE"
echo "sample: $n of $total dynamically linked programs in /usr/bin, $REPS runs each, median per program"
echo "compat: $COMPAT ($("$COMPAT" --version | sed -n 's/^link: //p'))${STATIC:+; static: $STATIC}"

: > "$work/times"
i=0
while read -r f; do
	i=$((i + 1))
	"$COMPAT" gen -o "$work/a$i.json" "$f" 2> /dev/null || continue
	echo "compat check|$("$work/spawn_time" "$REPS" "$COMPAT" check "$work/a$i.json")" >> "$work/times"
	[ "$STATIC" = 0 ] || echo "static check|$("$work/spawn_time" "$REPS" "$STATIC" check "$work/a$i.json")" >> "$work/times"
	echo "ldd|$("$work/spawn_time" "$REPS" ldd "$f")" >> "$work/times"
done < "$work/sample"
base=$("$work/spawn_time" 21 /bin/true)
t0=$(date +%s%N)
"$COMPAT" check "$work"/a*.json > /dev/null
t1=$(date +%s%N)
na=$(ls "$work"/a*.json | wc -l)

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
med() { grep "^$1|" "$work/times" | cut -d'|' -f2 | median; }
l=$(med ldd)
printf '\n%-22s %12s %10s\n' tool "median µs" "vs ldd"
for t in "compat check" "static check"; do
	c=$(med "$t")
	[ -n "$c" ] || continue
	printf '%-22s %12.0f %9.2fx\n' "$t ART" "$c" "$(echo "$l / $c" | bc -l)"
done
printf '%-22s %12.0f %9.2fx\n' "ldd PROGRAM" "$l" 1
printf '%-22s %12.0f   (process spawn floor on this machine)\n' "/bin/true" "$base"
printf '%-22s %12.0f   (µs per artifact: %d artifacts, one check process)\n' "compat check ART..." \
	"$(echo "($t1 - $t0) / 1000 / $na" | bc -l)" "$na"
echo
for t in "compat check" "static check"; do
	c=$(med "$t")
	[ -n "$c" ] || continue
	r=$(echo "$l / $c" | bc -l)
	printf 'budget %-13s %.2f ms (<= 2 ms: %s), %.2fx ldd (>= 3x: %s)\n' "${t%% *}:" "$(echo "$c / 1000" | bc -l)" \
		"$([ "$(echo "$c <= 2000" | bc)" = 1 ] && echo met || echo 'NOT met')" "$r" \
		"$([ "$(echo "$r >= 3" | bc)" = 1 ] && echo met || echo 'NOT met')"
done
