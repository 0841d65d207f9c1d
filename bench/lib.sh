# Shared set-up of the bench scripts (sourced): the work directory, the
# spawn timer, the static binary to compare with, and a sample of the
# dynamically linked programs of /usr/bin.
# bench_setup NAME: sets work (removed on exit), builds $work/spawn_time, and
# STATIC (a `make static` binary built into $work unless STATIC is given;
# STATIC=0: none).
bench_setup() {
	work=$(mktemp -d "/tmp/compat-bench-$1.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	cc -O2 -o "$work/spawn_time" bench/spawn_time.c
	unset LD_LIBRARY_PATH
	STATIC=${STATIC:-}
	if [ -z "$STATIC" ]; then
		if make --no-print-directory static STATIC_OUT="$work/static/compat" > "$work/static.log" 2>&1; then
			STATIC=$work/static/compat
		else
			echo "(make static failed: the static binary is left out; see its log)"; tail -3 "$work/static.log"
			STATIC=0
		fi
	fi
}

# bench_sample N: every N-th of the dynamically linked programs of /usr/bin
# into $work/sample (about N of them); sets n and total.
bench_sample() {
	local f step
	for f in /usr/bin/*; do
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		readelf -lW "$f" 2>/dev/null | grep -q ' DYNAMIC ' && echo "$f"
	done > "$work/all"
	total=$(wc -l < "$work/all")
	step=$((total / $1)); [ "$step" -ge 1 ] || step=1
	awk -v s="$step" 'NR % s == 0' "$work/all" | head -n "$1" > "$work/sample"
	n=$(wc -l < "$work/sample")
}
