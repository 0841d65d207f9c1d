#!/usr/bin/env bash
# Runs the tests: unit binaries and integration scripts (SUITE=check), the
# whole-machine sweeps (SUITE=host), or a short fuzz run (SUITE=fuzz).
# Each test prints TAP-like lines: "ok - NAME", "not ok - NAME", "skip - NAME: reason".
# This script counts them and ends with "N passed, N failed, N skipped".
# An integration script belongs to the host suite when one of its first lines
# is "# suite: host" (sweeps over every program of the machine, Debian trees).
# Tests run JOBS at a time (default: the online CPUs). The scripts whose
# first lines say "# serial" (they measure time: latency bounds, deadlines)
# run one after another in a lane of their own, beside JOBS - 1 lanes for
# the rest, so that a timing test never shares the machine with more than
# that. Results are reported in the order the tests were named.
# Env: BUILD (object dir of the unit binaries), SUITE (check, host, fuzz),
#      FUZZ_SECONDS (per target, SUITE=fuzz),
#      TESTS (a regex: run only the unit/integration files whose name matches).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/gcc}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
SUITE=${SUITE:-check}
export COMPAT_ROOT=$PWD COMPAT_BIN=$PWD/bin BUILD
passed=0 failed=0 skipped=0
failures=()
log=$(mktemp -d /tmp/compat-tests.XXXXXX)

tally() { # name, file with output
	local name=$1 out=$2 line
	while IFS= read -r line; do
		case $line in
		"ok - "*) passed=$((passed + 1)) ;;
		"not ok - "*) failed=$((failed + 1)); failures+=("$name: ${line#not ok - }") ;;
		"skip - "*) skipped=$((skipped + 1)) ;;
		esac
	done < "$out"
}

JOBS=${JOBS:-$(nproc 2> /dev/null || echo 2)}
names=()

# start_one NAME COMMAND...: run it in the background, its output, exit
# status and time in $log/NAME.{out,rc,time}; at most JOBS at once.
start_one() {
	local name=$1; shift
	local f=$log/$(echo "$name" | tr '/' '_')
	names+=("$name")
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
	run_in_background "$f" "$@"
}

# run_in_background FILE-PREFIX COMMAND...: run it, its output, exit status
# and time (tenths of seconds) in FILE-PREFIX.{out,rc,time}.
run_in_background() {
	local f=$1; shift
	(
		t0=${EPOCHREALTIME/./}
		"$@" > "$f.out" 2>&1
		echo $? > "$f.rc"
		echo $(((${EPOCHREALTIME/./} - t0) / 100000)) > "$f.time"
	) &
}

# report NAME: print and count what the test said.
report() {
	local name=$1 f=$log/$(echo "$1" | tr '/' '_')
	local rc ds
	rc=$(cat "$f.rc" 2> /dev/null || echo 99) ds=$(cat "$f.time" 2> /dev/null || echo 0)
	echo "== $name ($((ds / 10)).$((ds % 10)) s)"
	grep -E '^(ok|not ok|skip|#) ' "$f.out" | sed 's/^/   /' | grep -vE '^   ok - ' || true
	tally "$name" "$f.out"
	if [ "$rc" -ne 0 ] && ! grep -q '^not ok - ' "$f.out"; then
		failed=$((failed + 1)); failures+=("$name: exited $rc without a failing test")
		tail -20 "$f.out" | sed 's/^/   | /'
	fi
}

run_one() { # name, command...: alone, now
	start_one "$@"
	wait
}

# The serial lane: its scripts one after another, in the background.
run_serial_lane() {
	local t f
	for t in "$@"; do
		f=$log/integration_$(basename "$t" .sh)
		(
			t0=${EPOCHREALTIME/./}
			bash "$t" > "$f.out" 2>&1
			echo $? > "$f.rc"
			echo $(((${EPOCHREALTIME/./} - t0) / 100000)) > "$f.time"
		)
	done
}

sel=${TESTS:-.}
suite_of() { head -5 "$1" | grep -q '^# suite: host' && echo host || echo check; }
serial=() others=()
for t in tests/integration/*.sh; do
	# sourced helpers (lib.sh, fixtures.sh) have no "#!" line
	head -c2 "$t" | grep -q '^#!' || continue
	[ "$(suite_of "$t")" = "$SUITE" ] || continue
	echo "$t" | grep -qE "$sel" || continue
	if head -5 "$t" | grep -q '^# serial'; then serial+=("$t"); else others+=("$t"); fi
done
# The serial lane first: it holds one of the JOBS slots until it is done.
if [ ${#serial[@]} -gt 0 ]; then
	for t in "${serial[@]}"; do names+=("integration/$(basename "$t" .sh)"); done
	run_serial_lane "${serial[@]}" &
fi
if [ "$SUITE" = check ]; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "$t" | grep -qE "$sel" || continue
		start_one "unit/$(basename "$t")" "$t"
	done
fi
for t in "${others[@]+"${others[@]}"}"; do
	start_one "integration/$(basename "$t" .sh)" bash "$t"
done
wait
for n in "${names[@]+"${names[@]}"}"; do report "$n"; done
names=()
if [ "$SUITE" = fuzz ] && ls tests/fuzz/fuzz_*.c > /dev/null 2>&1; then
	if command -v clang > /dev/null; then
		if make -s fuzz-build > "$log/fuzz-build.out" 2>&1; then
			run_one fuzz env FUZZ_SECONDS="$FUZZ_SECONDS" bash tests/fuzz/run.sh build/fuzz/fuzz_*
			report fuzz
		else
			failed=$((failed + 1)); failures+=("fuzz: build failed (see $log/fuzz-build.out)")
			tail -20 "$log/fuzz-build.out"
		fi
	else
		echo "skip - fuzz: clang is not installed"; skipped=$((skipped + 1))
	fi
fi
echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "logs: $log"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
