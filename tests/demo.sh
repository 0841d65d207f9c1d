#!/usr/bin/env bash
# make demo: compat on real programs of this machine.
set -eu
cd "$(dirname "$0")/.."
C=bin/compat
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
tmp=$(mktemp -d /tmp/compat-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

say compat gen --tree /usr/bin/xz
$C gen --tree /usr/bin/xz
say compat gen -o xz.json /usr/bin/xz '&&' cat xz.json
$C gen --no-symbols -o "$tmp/xz.json" /usr/bin/xz && cat "$tmp/xz.json"
say compat check xz.json
$C check "$tmp/xz.json"
say "compat check missing.json   # the prototype's example of an absent library"
$C check tests/fixtures/prototype/missing.json || echo "(exit $?: not compatible)"
say compat check --exec -- xz --version
$C check --exec -- xz --version
