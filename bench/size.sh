#!/usr/bin/env bash
# Sizes and memory: the static binary against busybox (the classic one-binary
# tool), and the RSS of compat serve idle and after a load burst.
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/compat-bench-size.XXXXXX)
trap 'pkill -f "compat-bench-size" 2>/dev/null; rm -rf "$work"' EXIT
make -s static STATIC_OUT="$work/compat" 2> /dev/null
make -s
size() { stat -c %s "$1"; }
printf '%-36s %10s\n' binary bytes
printf '%-36s %10d  (budget 2 MiB = 2097152)\n' "compat, make static, stripped" "$(size "$work/compat")"
printf '%-36s %10d\n' "compat, make (dynamic), unstripped" "$(size bin/compat)"
bb=$(command -v busybox || true)
[ -n "$bb" ] && printf '%-36s %10d  (%s)\n' "busybox (Debian busybox-static)" "$(size "$(readlink -f "$bb")")" "$(busybox | head -1 | cut -c1-40)"

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
cat > "$work/body.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import compat_pb2
m = compat_pb2.CompatRequest(payload=open(sys.argv[2]).read()).SerializeToString()
open(sys.argv[3], "wb").write(b"\x00" + len(m).to_bytes(4, "big") + m)
PY
protoc -Iproto --python_out="$work" proto/compat.proto
/usr/bin/python3 "$work/body.py" "$work" ../shared/peers/artifacts/xz.json "$work/body.bin"
echo
printf '%-36s %10s %14s\n' server "idle kB" "after load kB"
for bin in bin/compat "$work/compat"; do
	"$bin" serve --listen 127.0.0.1:0 > "$work/out" 2>&1 &
	pid=$!
	for i in $(seq 100); do grep -q listening "$work/out" && break; sleep 0.05; done
	addr=$(sed -n 's/^server listening: //p' "$work/out")
	sleep 0.3
	idle=$(rss $pid)
	h2load -D 3 -c 16 -m 16 -t 1 -H 'content-type: application/grpc' -H 'te: trailers' -d "$work/body.bin" \
		"http://$addr/convergedcomputing.org.grpc.v1.CompatibilityService/CheckCompatibility" > "$work/h2load" 2>&1
	printf '%-36s %10d %14d  (%s)\n' "compat serve ($(basename "$(dirname "$bin")")/$(basename "$bin"))" \
		"$idle" "$(hwm $pid)" "$(grep -o '[0-9.]* req/s' "$work/h2load")"
	kill -TERM $pid; wait $pid || true
done
