#!/usr/bin/env bash
# suite: host
# No false alarms: every dynamically linked program of this machine under
# /usr/bin and /usr/sbin, described by gen, is compatible here; all judged
# by one check process (one host index for all). And the local check (a
# lazy index: only what each artifact needs) reports exactly what the
# server (its full index of the host) reports, for every one of them.
. "$(dirname "$0")/lib.sh"
n=0 bad=0
mkdir -p "$TMP/a"
: > "$TMP/gen-failed"
for f in /usr/bin/* /usr/sbin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	[ "$(head -c4 "$f" 2>/dev/null)" = $'\x7fELF' ] || continue
	readelf -lW "$f" 2>/dev/null | grep -q ' DYNAMIC ' || continue
	n=$((n + 1))
	a=$TMP/a/$(printf '%05d' "$n").json
	if ! env -u LD_LIBRARY_PATH "$COMPAT" gen -o "$a" "$f" 2> "$TMP/gen.err"; then
		bad=$((bad + 1))
		[ $bad -le 5 ] && { echo "#   gen $f"; sed 's/^/#     /' "$TMP/gen.err" | head -4; }
		continue
	fi
	echo "$a $f" >> "$TMP/programs"
done
judged=$(grep -c '' "$TMP/programs")
"$COMPAT" check $(cut -d' ' -f1 "$TMP/programs") > "$TMP/out" 2> "$TMP/err"
rc=$?
reports=$(grep -cE '^(NOT )?compatible: ' "$TMP/out")
incompatible=$(grep -c '^NOT compatible: ' "$TMP/out")
bad=$((bad + incompatible))
grep -A3 '^NOT compatible: ' "$TMP/out" | head -20 | sed 's/^/#   /'
sed 's/^/#   stderr: /' "$TMP/err" | head -5
echo "# $n programs described, $judged checked in one process (exit $rc), $bad reported incompatible"
t "no false alarms on $n programs of /usr/bin and /usr/sbin" test "$n" -gt 0 -a "$bad" = 0 -a "$rc" = 0
t "one report per artifact ($reports of $judged), nothing on stderr" test "$reports" = "$judged" -a ! -s "$TMP/err"

# The same artifacts, --json: the local reports against the server's.
if ! start_server "$TMP/server.log" --listen 127.0.0.1:0; then
	nok "the server for the comparison starts"
	sed 's/^/#   /' "$TMP/server.log" | head -5
	exit 0
fi
"$COMPAT" check --json $(cut -d' ' -f1 "$TMP/programs") > "$TMP/local.jsonl"
while read -r a f; do
	"$COMPAT" check --host "$SERVER_ADDR" --json "$a" > "$a.server" 2> "$a.server.err"
	echo "$? $a $f"
done < "$TMP/programs" > "$TMP/server-status"
t "the local check (lazy index) and the server (full index) report the same for each of $judged programs" \
	/usr/bin/python3 - "$TMP/local.jsonl" "$TMP/server-status" <<'P'
import json, sys
local = [json.loads(l) for l in open(sys.argv[1])]
rows = [l.split(" ", 2) for l in open(sys.argv[2]).read().splitlines()]
assert len(local) == len(rows), (len(local), len(rows))
differ = 0
for row, (status, art, prog) in zip(local, rows):
    assert row["artifact"] == art, (row["artifact"], art)
    try:
        server = json.load(open(art + ".server"))
    except ValueError:
        server = None
    if status not in ("0", "1") or server != row.get("report"):
        differ += 1
        if differ <= 5:
            print("#   %s: server exit %s, reports differ" % (prog, status))
print("# %d reports compared, %d differ" % (len(rows), differ))
sys.exit(1 if differ else 0)
P
