#!/usr/bin/env bash
# suite: host
# No false alarms: every dynamically linked program of this machine under
# /usr/bin and /usr/sbin, described by gen, is compatible here.
. "$(dirname "$0")/lib.sh"
n=0 bad=0
for f in /usr/bin/* /usr/sbin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	[ "$(head -c4 "$f" 2>/dev/null)" = $'\x7fELF' ] || continue
	readelf -lW "$f" 2>/dev/null | grep -q ' DYNAMIC ' || continue
	n=$((n + 1))
	if ! env -u LD_LIBRARY_PATH "$COMPAT" gen "$f" 2>/dev/null | "$COMPAT" check - > "$TMP/out" 2>&1; then
		bad=$((bad + 1))
		[ $bad -le 5 ] && { echo "#   $f"; sed 's/^/#     /' "$TMP/out" | head -4; }
	fi
done
echo "# $n programs described and checked, $bad reported incompatible"
t "no false alarms on $n programs of /usr/bin and /usr/sbin" test "$n" -gt 0 -a "$bad" = 0
