#!/usr/bin/env bash
# docs/container.md's Dockerfile, without a container runtime: the final
# image's file tree is built by hand (the static binary and its
# compat-check link as the Dockerfile's COPY and RUN make them, a program,
# the libraries it needs, an ld.so.cache, busybox as /bin/sh), and the
# ENTRYPOINT and CMD read from the document are run in chroot (with /proc
# mounted, as in a container), as Docker would run them: ENTRYPOINT + CMD,
# or ENTRYPOINT + the command given.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || ! command -v chroot > /dev/null; then
	skip "Dockerfile entrypoint in a chroot: needs root for chroot"; exit 0
fi
BUSYBOX=$(command -v busybox)
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
	skip "Dockerfile entrypoint in a chroot: no static busybox for /bin/sh (busybox-static)"; exit 0
fi
DOC=$COMPAT_ROOT/docs/container.md
# The Dockerfile block of the document, and its ENTRYPOINT and CMD (exec form).
sed -n '/^```dockerfile$/,/^```$/p' "$DOC" > "$TMP/Dockerfile"
t "docs/container.md has a multi-stage Dockerfile" test "$(grep -c '^FROM ' "$TMP/Dockerfile")" = 2
t "the Dockerfile copies the static binary from the build stage" \
	grep -q '^COPY --from=compat /src/compat/bin/compat /usr/local/bin/compat$' "$TMP/Dockerfile"
t "the Dockerfile builds it with make static" grep -q 'make -C /src/compat static$' "$TMP/Dockerfile"
mapfile -t ENTRY < <(/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("ENTRYPOINT "):
        print("\n".join(json.loads(l[len("ENTRYPOINT "):])))' "$TMP/Dockerfile")
mapfile -t CMD < <(/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("CMD "):
        print("\n".join(json.loads(l[len("CMD "):])))' "$TMP/Dockerfile")
t "ENTRYPOINT is compat-check --exec -- (${ENTRY[*]})" test "${ENTRY[*]}" = "/usr/local/bin/compat-check --exec --"
t "CMD names the program (${CMD[*]})" test "${#CMD[@]}" -ge 1

(cd "$COMPAT_ROOT" && make -s static STATIC_OUT="$TMP/static/compat" 2> "$TMP/link.err") ||
	{ nok "make static links"; sed 's/^/#   /' "$TMP/link.err" | tail -5; exit 0; }

# The image's tree: stage 2 of the Dockerfile, by hand.
R=$TMP/root
mkdir -p "$R"/{bin,etc,lib64,lib/x86_64-linux-gnu,usr/local/bin,app/bin,app/lib,tmp}
cp "$TMP/static/compat" "$R/usr/local/bin/compat"		# COPY --from=compat ...
ln -s compat "$R/usr/local/bin/compat-check"			# RUN ln -s compat ...
cp "$BUSYBOX" "$R/bin/busybox"; ln -s busybox "$R/bin/sh"
cat > "$TMP/solver.c" <<'C'
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>
int plugin_answer(void);
int main(int argc, char **argv)
{
	printf("solver pid %d zlib %s answer %d args %d\n", (int)getpid(), zlibVersion(), plugin_answer(), argc - 1);
	return argc > 1 ? 5 : 0;
}
C
echo 'int plugin_answer(void) { return 42; }' > "$TMP/plugin.c"
gcc -shared -fPIC -o "$R/app/lib/libplugin.so.1" "$TMP/plugin.c" -Wl,-soname,libplugin.so.1
# The application's own library travels with it ($ORIGIN); zlib comes from the image.
gcc -o "$R/app/bin/solver" "$TMP/solver.c" -L"$R/app/lib" -l:libplugin.so.1 -lz \
	-Wl,-rpath,'$ORIGIN/../lib' || { nok "build the program"; exit 0; }
for l in libz.so.1 libc.so.6; do cp -L "/lib/x86_64-linux-gnu/$l" "$R/lib/x86_64-linux-gnu/"; done
cp -L /lib64/ld-linux-x86-64.so.2 "$R/lib64/"
echo /lib/x86_64-linux-gnu > "$R/etc/ld.so.conf"
/sbin/ldconfig -r "$R" -X
printf '#!/bin/sh\necho "entrypoint.sh: $*"\nexec /app/bin/solver "$@"\n' > "$R/app/entrypoint.sh"
chmod 755 "$R/app/entrypoint.sh"
printf '#!/usr/bin/env sh\necho "via env"\n' > "$R/app/env.sh"; chmod 755 "$R/app/env.sh"
mkdir -p "$R/usr/bin"; ln -s /bin/busybox "$R/usr/bin/env"

# A container has /proc (ld.so finds $ORIGIN through /proc/self/exe).
mkdir -p "$R/proc"
if ! mount -t proc proc "$R/proc" 2> "$TMP/mount.err"; then
	skip "Dockerfile entrypoint in a chroot: cannot mount /proc there ($(head -c 100 "$TMP/mount.err"))"; exit 0
fi
cleanup_hooks+=("umount '$R/proc' 2> /dev/null || umount -l '$R/proc'")

# docker run IMAGE: ENTRYPOINT + CMD. The program becomes the entrypoint's
# process (execve in place): it prints its own PID, which is chroot's.
chroot "$R" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin "${ENTRY[@]}" "${CMD[@]}" > "$TMP/out" 2> "$TMP/err" &
pid=$!; wait $pid; rc=$?
t "docker run IMAGE: exit 0 (got $rc)" test "$rc" = 0
line=$(head -1 "$TMP/out")
t "docker run IMAGE: the program ran, with its libraries ($line)" \
	bash -c '[[ $1 == "solver pid "*" zlib "*" answer 42 args 0" ]]' _ "$line"
t "docker run IMAGE: compat became the program (same PID, $pid)" \
	bash -c '[[ $1 == "solver pid $2 "* ]]' _ "$line" "$pid"
t "docker run IMAGE: nothing on stderr" test ! -s "$TMP/err"

# docker run IMAGE CMD ARGS: the command given replaces CMD; its status is the container's.
chroot "$R" "${ENTRY[@]}" /app/bin/solver one > "$TMP/out" 2> "$TMP/err"; rc=$?
t "docker run IMAGE /app/bin/solver one: the program's own status (5, got $rc)" test "$rc" = 5
t "... and its arguments" grep -q 'args 1$' "$TMP/out"

# A script: judged by its interpreter (busybox as /bin/sh), run as the kernel runs it.
chroot "$R" "${ENTRY[@]}" /app/entrypoint.sh a b > "$TMP/out" 2> "$TMP/err"; rc=$?
t "docker run IMAGE /app/entrypoint.sh a b: the script's status (5, got $rc)" test "$rc" = 5
t "... the script ran first" test "$(head -1 "$TMP/out")" = "entrypoint.sh: a b"
chroot "$R" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin "${ENTRY[@]}" /app/env.sh > "$TMP/out" 2> "$TMP/err"; rc=$?
t "docker run IMAGE /app/env.sh (#!/usr/bin/env sh): runs (got $rc: $(head -c 200 "$TMP/err"))" \
	bash -c '[ "$1" = 0 ] && [ "$(cat "$2")" = "via env" ]' _ "$rc" "$TMP/out"

# Not found, not executable: as Docker and a shell answer.
chroot "$R" "${ENTRY[@]}" /app/bin/nosuch > "$TMP/out" 2> "$TMP/err"; rc=$?
t "docker run IMAGE /app/bin/nosuch: exit 127 (got $rc)" test "$rc" = 127
t "... one line" test "$(cat "$TMP/err")" = "compat check: /app/bin/nosuch: No such file or directory"
chmod 644 "$R/app/env.sh"
chroot "$R" "${ENTRY[@]}" /app/env.sh > "$TMP/out" 2> "$TMP/err"; rc=$?
t "docker run IMAGE /app/env.sh without execute permission: exit 126 (got $rc)" test "$rc" = 126

# The node lacks a library the program needs: findings, exit 1, never started.
rm "$R/lib/x86_64-linux-gnu/libz.so.1"; /sbin/ldconfig -r "$R" -X
chroot "$R" "${ENTRY[@]}" "${CMD[@]}" > "$TMP/out" 2> "$TMP/err"; rc=$?
t "a library missing here: exit 1 (got $rc)" test "$rc" = 1
t "... the verdict first on stderr" test "$(head -1 "$TMP/err")" = "NOT compatible: solver (1 finding)"
t "... naming the library" grep -q '^  missing-soname .*libz.so.1' "$TMP/err"
t "... and the program did not run" test ! -s "$TMP/out"
