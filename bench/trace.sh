#!/usr/bin/env bash
# compat trace overhead on a syscall-heavy program, against running it
# untraced and under strace -f --seccomp-bpf -e trace=%file, in one run.
# The program (built here) makes N (default 200000) calls alternating
# open+read+close and stat over existing and missing files, plus a getpid
# every 8th call: every open and stat is a traced syscall for both tracers,
# read/close/getpid are not. With --loader-only only ld.so's own lookups
# stop the program (at start: a handful), so the loop runs untraced. Medians of RUNS (default 7) runs, by hyperfine
# when installed (else a date +%s%N loop), printed as ratios to untraced.
# Env: N, RUNS, COMPAT (binary to time, default bin/compat).
set -eu
cd "$(dirname "$0")/.."
N=${N:-200000} RUNS=${RUNS:-7}
COMPAT=${COMPAT:-$PWD/bin/compat}
work=$(mktemp -d /tmp/compat-bench-trace.XXXXXX)
trap 'rm -rf "$work"' EXIT

cat > "$work/heavy.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000, ok = 0;
	const char *files[] = { "/etc/passwd", "/etc/hostname", "/nonexistent/a", "/usr/lib/nothing.so.1" };
	struct stat st;
	char buf[64];
	for (long i = 0; i < n; i++) {
		const char *f = files[i & 3];
		if (i & 4) {
			ok += stat(f, &st) == 0;
		} else {
			int fd = open(f, O_RDONLY);
			if (fd >= 0) {
				ok += read(fd, buf, sizeof buf) > 0;
				close(fd);
			}
		}
		if ((i & 7) == 0)
			ok += getpid() > 0;
	}
	printf("%ld\n", ok);
	return 0;
}
C
cc -O2 -o "$work/heavy" "$work/heavy.c"
H="$work/heavy $N"
cmds=("$H" "$COMPAT trace -o /dev/null -- $H" "$COMPAT trace --loader-only -o /dev/null -- $H")
names=("untraced" "compat trace -o /dev/null" "compat trace --loader-only -o /dev/null")
if command -v strace > /dev/null; then
	cmds+=("strace -f --seccomp-bpf -e trace=%file -o /dev/null $H")
	names+=("strace -f --seccomp-bpf -e trace=%file -o /dev/null")
fi
echo "program: $N open/stat calls (+ read, close, getpid); $RUNS runs each; $(nproc) CPUs; $(uname -r)"

medians=()
if command -v hyperfine > /dev/null; then
	hyperfine -N --warmup 1 --runs "$RUNS" --style none --export-json "$work/h.json" \
		"${cmds[@]}" > /dev/null
	mapfile -t medians < <(/usr/bin/python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]: print(r["median"])' "$work/h.json")
else
	for c in "${cmds[@]}"; do
		: > "$work/t"
		for _ in $(seq "$RUNS"); do
			s=$(date +%s%N); $c > /dev/null 2>&1; e=$(date +%s%N)
			echo "$(( e - s ))" >> "$work/t"
		done
		medians+=("$(sort -n "$work/t" | awk '{a[NR]=$1} END {printf "%.6f", a[int((NR+1)/2)]/1e9}')")
	done
fi
base=${medians[0]}
for i in "${!cmds[@]}"; do
	awk -v n="${names[$i]}" -v m="${medians[$i]}" -v b="$base" -v calls="$N" \
		'BEGIN { printf "%-52s median %8.3f s  %6.2fx untraced  %6.2f us/call over untraced\n", n, m, m / b, (m - b) * 1e6 / calls }'
done
if [ "${#medians[@]}" -ge 4 ]; then
	awk -v c="${medians[1]}" -v l="${medians[2]}" -v s="${medians[3]}" \
		'BEGIN { printf "compat trace / strace: %.2fx; --loader-only / strace: %.3fx (budget: <= 1.2x untraced and below strace)\n", c / s, l / s }'
fi
