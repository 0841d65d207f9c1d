#!/usr/bin/env bash
# The server's per-request work in process, without HTTP/2: bench/judge.c
# builds the host index once, then reads, judges and reports each of
# ARTIFACTS (60) artifacts of this machine's programs ITERATIONS (300)
# times, for each form of bench_artifacts (bench/lib.sh). No peer does this
# part alone: it splits bench/serve.sh's distinct-artifact CPU figure into
# its stages (run it under perf record to see inside them). BASE=DIR, a
# checkout of an older commit with its `make` done, measures that tree's
# objects the same way in the same run (before/after).
set -eu
cd "$(dirname "$0")/.."
top=$PWD
ARTIFACTS=${ARTIFACTS:-60}
ITERATIONS=${ITERATIONS:-300}
. bench/lib.sh
work=$(mktemp -d /tmp/compat-bench-judge.XXXXXX)
trap 'rm -rf "$work"' EXIT
make --no-print-directory -s > /dev/null
build() {	# build TREE OUT: bench/judge.c against TREE's objects
	local tree=$1 objs o
	objs=$(for o in "$tree"/build/gcc/core/*.o "$tree"/build/gcc/core/audit/*.o "$tree"/build/gcc/gen/*.o; do
		s=${o#"$tree"/build/gcc/}; s=${s%.o}
		# objects whose source is gone are stale (a renamed file)
		if [ -f "$tree/$s.c" ] || [ -f "$tree/$s.S" ] || [ -f "$tree/build/$s.c" ]; then echo "$o"; fi
	done)
	# shellcheck disable=SC2086
	cc -O2 -I"$tree" -I"$tree/build/gen" -D_GNU_SOURCE -o "$2" bench/judge.c $objs \
		-Wl,-Bstatic -lelf -lnghttp2 -ljansson -lz -lmbedtls -lmbedx509 -lmbedcrypto -lprotobuf-nanopb -Wl,-Bdynamic
}
build "$top" "$work/judge"
[ -z "${BASE:-}" ] || build "$BASE" "$work/judge-base"
bench_artifacts "$work/art" "$ARTIFACTS"
echo "== $nart artifacts x $ITERATIONS, in process (bench/judge.c)"
for form in proto nosym full; do
	printf '%-6s new   ' "$form"; "$work/judge" "$ITERATIONS" "$work"/art/*."$form".json
	[ -z "${BASE:-}" ] || { printf '%-6s base  ' "$form"; "$work/judge-base" "$ITERATIONS" "$work"/art/*."$form".json; }
done
