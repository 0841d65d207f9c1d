#!/usr/bin/env bash
# serial: it measures latency and deadlines
# The fleet question: "which of these nodes can run it?" One check, several
# servers asked at once (--host repeated, --hosts FILE), one row each, and
# hints where a user mixes up TLS and plain text. The nodes are real compat
# servers on loopback, indexing different copies of a library.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
LD_LIBRARY_PATH="$FX/vboth" "$COMPAT" gen -o "$TMP/v.json" "$FX/exe_v" ||
	{ nok "gen the fixture artifact"; exit 0; }
start_server "$TMP/new.out" --listen 127.0.0.1:0 --library-path "$FX/vboth" || { nok "server 1 starts"; exit 0; }
NEW=$SERVER_ADDR
start_server "$TMP/old.out" --listen 127.0.0.1:0 --library-path "$FX/v1" || { nok "server 2 starts"; exit 0; }
OLD=$SERVER_ADDR
DEAD=127.0.0.1:1

expect_status 1 "two hosts, one lacks FOO_2.0: exit 1" "$COMPAT" check --host "$NEW" --host "$OLD" "$TMP/v.json"
t "the table: a header, then one row per host in order" bash -c '
	[ "$(sed -n 1p "$1" | tr -s " ")" = "HOST VERDICT FIRST FINDING" ] &&
	sed -n 2p "$1" | grep -qE "^$2 +compatible *$" &&
	sed -n 3p "$1" | grep -qE "^$3 +NOT compatible +.*FOO_2.0 needed by bar, foo_new$" && [ $(wc -l < "$1") = 3 ]' _ "$TMP/out" "$NEW" "$OLD"
expect_status 0 "every host compatible: exit 0" "$COMPAT" check --host "$NEW" --host "$NEW" "$TMP/v.json"
expect_status 3 "one host unreachable: exit 3" "$COMPAT" check --host "$NEW" --host "$OLD" --host "$DEAD" "$TMP/v.json"
t "the unreachable host's row says why" grep -qE "^$DEAD +unreachable +cannot reach $DEAD" "$TMP/out"

printf '# the nodes\n%s\n\n  %s   # old glibc\n' "$NEW" "$OLD" > "$TMP/hosts"
expect_status 1 "--hosts FILE (comments and blank lines ignored)" "$COMPAT" check --hosts "$TMP/hosts" "$TMP/v.json"
t "--hosts FILE: both hosts in the table" test "$(grep -cE "^($NEW|$OLD) " "$TMP/out")" = 2
expect_status 1 "--json: one object per host" "$COMPAT" check --json --host "$NEW" --host "$OLD" "$TMP/v.json"
t "--json: schema 1, the name, hosts, statuses and reports" /usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == 1 and d["name"] == "exe_v", d
l = d["hosts"]
assert [r["host"] for r in l] == sys.argv[2:4], l
assert [r["status"] for r in l] == ["compatible", "incompatible"], l
assert l[0]["report"]["compatible"] is True and l[1]["report"]["compatible"] is False, l
assert l[0]["report"]["schema"] == 1 and l[0]["report"]["name"] == "exe_v", l
' "$TMP/out" "$NEW" "$OLD"

# Asked at once, not one after another: two servers that accept but never
# answer (listening sockets nobody serves) cost one deadline, not two.
stall() { /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(30)' > "$1" & cleanup_hooks+=("kill $! 2> /dev/null"); }
stall "$TMP/s1"; stall "$TMP/s2"
wait_for_line "$TMP/s1" . && wait_for_line "$TMP/s2" .
t0=${EPOCHREALTIME/./}
"$COMPAT" check --timeout 1500 --host "127.0.0.1:$(cat "$TMP/s1")" --host "127.0.0.1:$(cat "$TMP/s2")" \
	--host "$NEW" "$TMP/v.json" > "$TMP/out" 2>&1; rc=$?
ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
t "two silent servers: exit 3 and the live one still answered" bash -c '[ "$1" = 3 ] && grep -qE "^$2 +compatible" "$3"' _ "$rc" "$NEW" "$TMP/out"
t "two silent servers: each row says its deadline passed" test "$(grep -c 'unreachable .*deadline exceeded' "$TMP/out")" = 2
t "two silent servers are waited for at once (${ms} ms for two 1.5 s deadlines)" test "$ms" -ge 1400 -a "$ms" -lt 2900

# Default port: a bare host name means port 50051 (the prototype's).
"$COMPAT" check --host 127.0.0.1 "$TMP/v.json" > /dev/null 2> "$TMP/err"
t "--host without a port asks port 50051" grep -q 'cannot reach 127.0.0.1:50051' "$TMP/err"

# Hints where TLS and plain text are mixed up, and for an IP address that a
# certificate names only by DNS (mbedtls 2.28 checks DNS names only).
if make_test_certs "$TMP/tls"; then
	start_server "$TMP/tls.out" --listen 127.0.0.1:0 --library-path "$FX/vboth" --tls-cert "$TMP/tls/srv.pem" --tls-key "$TMP/tls/srv.key" ||
		nok "a TLS server starts"
	TLSPORT=${SERVER_ADDR##*:}
	expect_status 0 "TLS with the right CA and name" "$COMPAT" check --host "localhost:$TLSPORT" --tls-ca "$TMP/tls/ca.pem" "$TMP/v.json"
	expect_status 3 "plain text to a TLS server: exit 3" "$COMPAT" check --host "localhost:$TLSPORT" "$TMP/v.json"
	t "plain text to a TLS server: the hint says to use --tls-ca" grep -q 'try --tls-ca FILE\|use --tls-ca FILE' "$TMP/err"
	expect_status 3 "TLS to a plain-text server: exit 3" "$COMPAT" check --host "$NEW" --tls-ca "$TMP/tls/ca.pem" "$TMP/v.json"
	t "TLS to a plain-text server: the hint says to leave out --tls-ca" grep -q 'does not speak TLS? leave out --tls-ca' "$TMP/err"
	expect_status 3 "an IP address against a DNS-name certificate: exit 3" "$COMPAT" check --host "127.0.0.1:$TLSPORT" --tls-ca "$TMP/tls/ca.pem" "$TMP/v.json"
	t "an IP address against a DNS-name certificate: the hint names --tls-name" grep -q 'with --tls-name' "$TMP/err"
	expect_status 0 "... and --tls-name works" "$COMPAT" check --host "127.0.0.1:$TLSPORT" --tls-ca "$TMP/tls/ca.pem" --tls-name localhost "$TMP/v.json"
else
	nok "openssl makes test certificates"
fi
