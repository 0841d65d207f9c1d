#!/usr/bin/env bash
# compat serve against the gRPC C++ peer server doing the same check, in one
# interleaved run of ../shared/peers/compare.sh (h2load, loopback): median
# requests/s, server CPU per request, peak RSS, latency near half load.
# Then distinct artifacts: ARTIFACTS (60) programs of /usr/bin, each one's
# artifact (in three forms, see below) sent by its own h2load (1 connection,
# 4 streams), all at once, for DURATION seconds: server CPU per request with
# the memo of answers off (every request parsed and judged) and on,
# requests/s, peak RSS. BASE=path/to/an/older/bin/compat measures that build the same
# way in the same run (before/after). Last, the ratios against the budgets
# of DESIGN §9.
# The peer is built in a scratch copy (shared/ stays untouched); this is
# the one place the repository uses ../shared/peers, and it says so and
# stops when it is absent.
# Env: DURATION (s per round, default 10), ROUNDS (3), HALF_LOAD (1), PORT (50061),
# ARTIFACTS (60), BASE (none), THREADS (server loops; default the online CPUs).
set -eu
cd "$(dirname "$0")/.."
top=$PWD
peers=$top/../shared/peers
[ -d "$peers" ] || { echo "bench/serve.sh: $peers not found (the gRPC C++ peer lives there): nothing measured"; exit 2; }
command -v h2load > /dev/null || { echo "bench/serve.sh: h2load missing (nghttp2-client)"; exit 2; }
work=$(mktemp -d /tmp/compat-bench-serve.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
cp -r "$peers"/. "$work/"
make -s -C "$work" > /dev/null
PORT=${PORT:-50061}
DURATION=${DURATION:-10}
ARTIFACTS=${ARTIFACTS:-60}
BASE=${BASE:-}
threads=${THREADS:+--threads $THREADS}
echo "machine: $(nproc) CPUs, $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the repeated artifact, against the peer ----
run_compare() {  # run_compare LABEL COMMAND
	echo
	echo "== $1: compare.sh against the peer (artifact xz.json, repeated)"
	(cd "$work" && DURATION=$DURATION ROUNDS=${ROUNDS:-3} HALF_LOAD=${HALF_LOAD:-1} RESULTS=$work/results-$1 \
		./compare.sh "$2" "$PORT") | tee "$work/compare-$1.txt"
}
run_compare new "$top/bin/compat serve --listen 127.0.0.1:$PORT $threads"
# the same without the memo: every request parsed and judged (no half-load probe)
HALF_LOAD=0 run_compare new-no-memo "$top/bin/compat serve --listen 127.0.0.1:$PORT $threads --memo-entries 0"
[ -z "$BASE" ] || run_compare base "$BASE serve --listen 127.0.0.1:$PORT"

# ---- distinct artifacts ----
# Three forms of each program's artifact: "proto" (the prototype's form,
# llnl.compatlib.library-name.N only: the check the peer does), "nosym"
# (compat gen --no-symbols: needs, versions, the ELF header) and "full"
# (compat gen: symbols too).
. bench/lib.sh
bench_artifacts "$work/art" "$ARTIFACTS"
[ "$nart" -ge 50 ] || echo "bench/serve.sh: only $nart distinct artifacts could be made (the budget asks for >= 50)"
sizes() { cat "$work"/art/*."$1".json | wc -c | awk -v n="$nart" '{printf "%.0f", $1 / n}'; }

cpu_ticks() { awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

distinct() {  # distinct LABEL FORM COMMAND...: one server, every artifact at once
	local label=$1 form=$2 pid t0 t1 reqs k hz
	shift 2
	"$@" > "$work/distinct-$label.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for k in $(seq 100); do port_open "$PORT" && break; sleep 0.1; done
	h2args=(-H 'content-type: application/grpc' -H 'te: trailers' -c 1 -m 4 -t 1)
	url=http://127.0.0.1:$PORT/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility
	# warm-up: each artifact a few times (a memo, when on, then holds them all)
	for k in $(seq 0 $((nart - 1))); do h2load -n 4 "${h2args[@]}" -d "$work/art/$k.$form.body" "$url" > /dev/null 2>&1; done
	t0=$(cpu_ticks "$pid")
	for k in $(seq 0 $((nart - 1))); do
		h2load -D "$DURATION" "${h2args[@]}" -d "$work/art/$k.$form.body" "$url" > "$work/h2-$label-$k.txt" 2>&1 &
	done
	wait $(jobs -p | grep -vx "$pid") 2>/dev/null || true
	t1=$(cpu_ticks "$pid")
	reqs=$(awk '/^requests:/ {s += $8} END {print s + 0}' "$work"/h2-"$label"-*.txt)
	bad=$(awk '/^requests:/ {s += $10 + $12} END {print s + 0}' "$work"/h2-"$label"-*.txt)
	hz=$(getconf CLK_TCK)
	rss=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
	anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	awk -v l="$label" -v r="$reqs" -v b="$bad" -v d="$DURATION" -v c=$((t1 - t0)) -v hz="$hz" -v rss="$rss" \
		-v anon="$anon" -v sz="$(sizes "$form")" \
		'BEGIN { printf "%-16s %5d B: rps=%.0f failed=%d server_cpu=%.2f cpu_us_per_req=%.2f peak_rss_kB=%d rss_anon_kB=%d\n",
			 l, sz, r / d, b, c / hz / d, r ? c / hz * 1e6 / r : 0, rss, anon }' | tee -a "$work/distinct.txt"
}
echo
echo "== distinct artifacts: $nart programs of /usr/bin, each artifact sent by its own h2load -c 1 -m 4, ${DURATION}s"
echo "   (label, average artifact size, ...; no-memo: every request parsed and judged)"
distinct proto-no-memo proto "$top/bin/compat" serve --listen "127.0.0.1:$PORT" $threads --memo-entries 0
distinct nosym-no-memo nosym "$top/bin/compat" serve --listen "127.0.0.1:$PORT" $threads --memo-entries 0
distinct full-no-memo full "$top/bin/compat" serve --listen "127.0.0.1:$PORT" $threads --memo-entries 0
distinct full-memo full "$top/bin/compat" serve --listen "127.0.0.1:$PORT" $threads
if [ -n "$BASE" ]; then
	distinct base-proto proto "$BASE" serve --listen "127.0.0.1:$PORT"
	distinct base-full full "$BASE" serve --listen "127.0.0.1:$PORT"
fi

# ---- the budgets ----
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2" | tail -1; }
last=$work/compare-new.txt
echo
echo "== budgets (DESIGN §9)"
awk -v ratio="$(field ratio "$last")" -v cpu="$(field compat_cpu_us_per_req "$last")" \
	-v p99="$(field compat_half_p99_us "$last")" -v rss="$(field compat_rss_kb "$last")" \
	-v dcpu="$(field cpu_us_per_req <(grep proto-no-memo "$work/distinct.txt"))" \
	-v drss="$(field peak_rss_kB <(grep proto-no-memo "$work/distinct.txt"))" 'BEGIN {
	printf "throughput vs the peer, repeated artifact  %6sx  (budget >= 3x)      %s\n", ratio, (ratio >= 3 ? "met" : "NOT met")
	printf "CPU per request, repeated                  %6s us (budget <= 3 us)    %s\n", cpu, (cpu <= 3 ? "met" : "NOT met")
	printf "CPU per request, distinct (proto), no memo %6s us (budget <= 6 us)    %s\n", dcpu, (dcpu <= 6 ? "met" : "NOT met")
	if (p99 != "")
		printf "p99 at half the peak load                  %6s us (budget <= 1000 us) %s\n", p99, (p99 <= 1000 ? "met" : "NOT met")
	m = (rss + 0 > drss + 0) ? rss : drss
	printf "RSS under load (repeated; distinct proto)  %6.1f MB (budget <= 8 MB)   %s\n", m / 1024, (m <= 8192 ? "met" : "NOT met")
}'
