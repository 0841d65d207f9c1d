#!/usr/bin/env bash
# compat check ARTIFACT ARTIFACT...: one process, one report per artifact in
# the order given, each exactly what checking it alone prints; with --json
# one line each ({"artifact", "report"} or {"artifact", "error"}); the exit
# status is the worst of them.
. "$(dirname "$0")/lib.sh"
G=$COMPAT_ROOT/tests/fixtures/golden
"$COMPAT" gen -o "$TMP/true.json" /bin/true
"$COMPAT" gen -o "$TMP/xz.json" "$(command -v xz || command -v gzip)"
cp "$COMPAT_ROOT/tests/fixtures/prototype/xz.json" "$TMP/proto.json"
cp "$G/wrong-arch.json" "$TMP/arm.json"	# an aarch64 program: not compatible on this x86_64 host
echo '{"version": "0.1.0", "attributes": ' > "$TMP/broken.json"
arts=("$TMP/true.json" "$TMP/xz.json" "$TMP/proto.json")

# alone: each one's output and status
for a in "${arts[@]}" "$TMP/arm.json"; do
	"$COMPAT" check "$a" > "$a.txt"
	echo $? >> "$TMP/alone-status"
	"$COMPAT" check --json "$a" > "$a.report"
done
cat "${arts[@]/%/.txt}" > "$TMP/alone3.txt"
cat "$TMP/alone3.txt" "$TMP/arm.json.txt" > "$TMP/alone4.txt"
t "alone: the host's programs are compatible, the aarch64 one is not (statuses $(tr '\n' ' ' < "$TMP/alone-status"))" \
	test "$(tr '\n' ' ' < "$TMP/alone-status")" = "0 0 0 1 "

expect_status 0 "three compatible artifacts in one call: exit 0" "$COMPAT" check "${arts[@]}"
t "... three reports, each as it is alone, in order" cmp -s "$TMP/out" "$TMP/alone3.txt"
t "... nothing on stderr" test ! -s "$TMP/err"
expect_status 1 "with an incompatible one among them: exit 1 (the worst)" "$COMPAT" check "${arts[@]}" "$TMP/arm.json"
t "... four reports, each as it is alone, in order" cmp -s "$TMP/out" "$TMP/alone4.txt"
expect_status 2 "with an unreadable one: exit 2 (the worst), the others still judged" \
	"$COMPAT" check "$TMP/true.json" "$TMP/broken.json" "$TMP/arm.json"
t "... one error line naming it" bash -c '[ $(wc -l < "$1") = 1 ] && grep -q "^compat check: $2" "$1"' _ "$TMP/err" "$TMP/broken.json"
t "... the two reports of the others" test "$(grep -cE '^(NOT )?compatible: ' "$TMP/out")" = 2

expect_status 2 "--json with several: exit 2 (one unreadable)" \
	"$COMPAT" check --json "${arts[@]}" "$TMP/broken.json" "$TMP/arm.json"
cp "$TMP/out" "$TMP/lines"
t "--json with several: a line each, in order, each report as --json alone gives it" /usr/bin/python3 - "$TMP/lines" \
	"${arts[@]}" "$TMP/broken.json" "$TMP/arm.json" <<'P'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
names = sys.argv[2:]
assert len(lines) == len(names), (len(lines), len(names))
for line, name in zip(lines, names):
    row = json.loads(line)
    assert row["artifact"] == name, (row["artifact"], name)
    if name.endswith("broken.json"):
        assert set(row) == {"schema", "artifact", "error"} and name in row["error"]["message"], row
        assert row["error"]["exit"] == 2, row
        continue
    assert set(row) == {"schema", "artifact", "report"} and row["schema"] == 1, row
    assert row["report"] == json.load(open(name + ".report")), name
P

expect_status 2 "--host with several artifacts: a usage error" "$COMPAT" check --host 127.0.0.1:1 "$TMP/true.json" "$TMP/xz.json"
expect_status 2 "no artifact: a usage error" "$COMPAT" check
