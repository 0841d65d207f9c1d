#!/usr/bin/env bash
# make install: the binary, a link per applet, the systemd unit, man pages,
# bash completion and the documents the unit names, under DESTDIR.
. "$(dirname "$0")/lib.sh"
D=$TMP/dest P=$TMP/dest/opt/compat
(cd "$COMPAT_ROOT" && make -s install DESTDIR="$D" PREFIX=/opt/compat > "$TMP/log" 2>&1)
t "make install: bin/compat installed and runs" "$P/bin/compat" --version
for l in compat-gen compat-check compat-server compat-trace compat-push compat-pull; do
	t "make install: $l links to compat" test "$(readlink "$P/bin/$l")" = compat
done
u=$P/lib/systemd/system/compat-server.service
t "make install: the systemd unit names the installed binary" grep -q '^ExecStart=/opt/compat/bin/compat-server ' "$u"
doc=$(sed -n 's|^Documentation=file://||p' "$u")
t "the unit's Documentation= names an installed file" test "$doc" = /opt/compat/share/doc/compat/README.md -a -f "$D$doc"
t "the unit: restarts on failure, unprivileged, read-only system" \
	bash -c 'grep -q "^Restart=on-failure" "$1" && grep -q "^DynamicUser=yes" "$1" && grep -q "^ProtectSystem=strict" "$1"' _ "$u"
out=$("$P/bin/compat-server" --help)
t "the installed compat-server is the serve applet" grep -q 'usage: compat serve' <<< "$out"

for m in compat compat-check compat-gen compat-serve compat-server compat-trace compat-push compat-pull; do
	f=$P/share/man/man1/$m.1
	if command -v man > /dev/null; then
		t "man page $m.1 renders with man -l" bash -c 'man -l "$1" 2> /dev/null | grep -q "^NAME"' _ "$f"
	else
		t "man page $m.1 installed" test -s "$f"
	fi
done
t "compat-check.1 documents --exec" grep -q 'compat check \\fB\\-\\-exec' "$P/share/man/man1/compat-check.1"

comp=$P/share/bash-completion/completions/compat
complete_words() { # WORDS...: what the completion offers for the last word
	bash -c '. "$1"; shift; PATH='"$P/bin"':$PATH; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _compat; echo "${COMPREPLY[*]}"' _ "$comp" "$@"
}
t "bash completion: applets after 'compat'" test "$(complete_words compat ch)" = check
t "bash completion: options from the applet's --help" test "$(complete_words compat gen --no-s)" = --no-symbols
t "bash completion: the same through a link (compat-check --js)" test "$(complete_words compat-check --js)" = --json
t "bash completion: installed for each link" test -L "$P/share/bash-completion/completions/compat-gen"

# After 'make static', install takes the static binary as it is: no relink
# from the default objects (a dry run of the rules on a copy of the tree).
C=$TMP/copy; mkdir -p "$C/bin"
(cd "$COMPAT_ROOT" && cp -r Makefile main.c applets core proto docs README.md LICENSE "$C/")
cp "$COMPAT" "$C/bin/compat"; touch "$C/bin/.variant-static"
make -n -C "$C" install DESTDIR="$D" > "$TMP/dry" 2>&1
t "after make static, make install does not relink bin/compat" bash -c '! grep -qE "(^| )-o bin/compat( |$)" "$1" && grep -q "install -m 755 bin/compat" "$1"' _ "$TMP/dry"
