#!/usr/bin/env bash
# make install: the binary, the applet symlinks and the systemd unit, under DESTDIR.
. "$(dirname "$0")/lib.sh"
D=$TMP/dest
(cd "$COMPAT_ROOT" && make -s install DESTDIR="$D" PREFIX=/opt/compat > "$TMP/log" 2>&1)
t "make install: bin/compat installed and runs" "$D/opt/compat/bin/compat" --version
for l in compat-gen compat-check compat-server compat-trace; do
	t "make install: $l links to compat" test "$(readlink "$D/opt/compat/bin/$l")" = compat
done
u=$D/opt/compat/lib/systemd/system/compat-server.service
t "make install: the systemd unit names the installed binary" grep -q '^ExecStart=/opt/compat/bin/compat-server ' "$u"
t "the unit: restarts on failure, unprivileged, read-only system" \
	bash -c 'grep -q "^Restart=on-failure" "$1" && grep -q "^DynamicUser=yes" "$1" && grep -q "^ProtectSystem=strict" "$1"' _ "$u"
out=$("$D/opt/compat/bin/compat-server" --help)
t "the installed compat-server is the serve applet" grep -q 'usage: compat serve' <<< "$out"
