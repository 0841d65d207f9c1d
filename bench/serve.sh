#!/usr/bin/env bash
# compat serve against the gRPC C++ peer server doing the same check, in one
# interleaved run of ../shared/peers/compare.sh (h2load, loopback): median
# requests/s, server CPU per request, peak RSS, latency near half load.
# The peer is built in a scratch copy (shared/ stays untouched).
# Env: DURATION (s per round, default 10), ROUNDS (3), HALF_LOAD (1), PORT (50061).
set -eu
cd "$(dirname "$0")/.."
top=$PWD
peers=$top/../shared/peers
[ -d "$peers" ] || { echo "bench/serve.sh: $peers not found"; exit 2; }
command -v h2load > /dev/null || { echo "bench/serve.sh: h2load missing (nghttp2-client)"; exit 2; }
work=$(mktemp -d /tmp/compat-bench-serve.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$peers"/. "$work/"
make -s -C "$work" > /dev/null
PORT=${PORT:-50061}
cd "$work"
DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-3} HALF_LOAD=${HALF_LOAD:-1} RESULTS=$work/results \
	./compare.sh "$top/bin/compat serve --listen 127.0.0.1:$PORT" "$PORT"
