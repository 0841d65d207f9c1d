#!/usr/bin/env bash
# Runs each libFuzzer target given for FUZZ_SECONDS, from its seed corpus
# tests/fuzz/corpus/NAME/ (NAME = target without "fuzz_"), with new inputs
# going to a scratch directory so the committed corpus stays as it is.
# Prints "ok - fuzz_NAME (runs, coverage)" or "not ok - fuzz_NAME".
set -u
secs=${FUZZ_SECONDS:-10}
top=$(cd "$(dirname "$0")/../.." && pwd)
for bin in "$@"; do
	name=$(basename "$bin"); short=${name#fuzz_}
	seeds=$top/tests/fuzz/corpus/$short
	work=$(mktemp -d /tmp/compat-fuzz-$short.XXXXXX)
	[ -d "$seeds" ] || seeds=
	gen=$work/seeds
	bash "$top/tests/fuzz/seeds.sh" "$short" "$gen"
	[ -n "$(ls -A "$gen")" ] || gen=
	log=$work/log
	mkdir -p "$work/new"
	if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$work/" "$work/new" $seeds $gen > "$log" 2>&1; then
		runs=$(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
		cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
		echo "ok - $name (${runs:-?} runs, ${cov:-cov: ?}, ${secs}s)"
		rm -rf "$work"
	else
		echo "not ok - $name: crash or leak, input and log kept in $work"
		grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -5 | sed 's/^/#   /'
	fi
done
