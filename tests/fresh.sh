#!/usr/bin/env bash
# A newcomer's machine: a minimal Debian 12 (mmdebstrap minbase + git + make),
# a clone of this repository with nothing beside it, and exactly the README's
# two set-up commands, run inside chroot. Fails on any non-zero exit or any
# failed test. Run by .ci/run (as root); takes a few minutes.
#
# The Debian tarballs and the downloaded .deb files are cached between runs in
# $COMPAT_TEST_CACHE (default /var/cache/compat-tests), and the tree sees the
# same cache: the tree itself is new every time, and 'make deps' still
# installs every package in it.
. "$(dirname "$0")/integration/lib.sh"
if [ "$(id -u)" != 0 ]; then skip "fresh: needs root (chroot, mounts)"; echo "0 passed, 0 failed, 1 skipped"; exit 0; fi
CACHE=${COMPAT_TEST_CACHE:-/var/cache/compat-tests}
R=$TMP/root
passed=0 failed=0
pass() { ok "$@"; passed=$((passed + 1)); }
fail() { nok "$@"; failed=$((failed + 1)); }
summary() { echo "$passed passed, $failed failed, 0 skipped"; [ "$failed" = 0 ]; }

# Unmount everything under the tree, innermost first; never delete a tree that
# still has something mounted in it (a bound /dev would go with it).
unmount_tree() {
	local m
	for m in $(awk -v r="$R/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2> /dev/null
	done
	if awk -v r="$R/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		echo "# fresh: mounts remain under $R; leaving it in place"
		TMP=/nonexistent-keep
	fi
}
cleanup_hooks+=(unmount_tree)

tar=$(debian_tarball bookworm --variant=minbase --include=git,make) ||
	{ fail "fresh: build the Debian 12 minbase tarball with mmdebstrap"; summary; exit 1; }
mkdir -p "$R" && tar -C "$R" -xf "$tar" || { fail "fresh: unpack $tar"; summary; exit 1; }
pass "fresh: a Debian 12 minbase tree with git and make"
for c in gcc cc pkg-config clang python3; do
	[ -e "$R/usr/bin/$c" ] && { fail "fresh: the tree is not bare ($c is there)"; summary; exit 1; }
done

# The clone: committed work only, as a user gets it, alone under /root.
git clone -q --no-hardlinks "$COMPAT_ROOT" "$R/root/compat" ||
	{ fail "fresh: git clone"; summary; exit 1; }
rm -rf "$R/root/compat/.git/hooks"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d" && chmod 755 "$R/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2> /dev/null
mkdir -p "$CACHE/apt-archives/partial" "$R/var/cache/compat-tests"
# The same caches inside: downloaded .deb files, and the Debian tarballs the
# tests build their trees from (tests/integration/lib.sh's debian_tarball).
mount -t proc proc "$R/proc" &&
	mount --rbind /dev "$R/dev" && mount --make-rslave "$R/dev" &&
	mount -t sysfs sysfs "$R/sys" &&
	mount --bind "$CACHE/apt-archives" "$R/var/cache/apt/archives" &&
	mount --bind "$CACHE" "$R/var/cache/compat-tests" ||
	{ fail "fresh: mount /proc, /dev, /sys and the apt cache in the tree"; summary; exit 1; }

in_tree() { # LOG COMMAND: run COMMAND in the clone, as a login on that machine would
	timeout 1800 chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /root/compat && $2" > "$1" 2>&1
}
# The README's two commands, read from the README itself.
cmds=$(sed -n '/^```/,/^```/p' "$R/root/compat/README.md" | sed -n '2,3p' | sed 's/ *#.*//')
first=$(sed -n 1p <<< "$cmds") second=$(sed -n 2p <<< "$cmds")
if [ "$first" != "make deps demo" ] || [ "$second" != "make check" ]; then
	fail "fresh: the README starts with 'make deps demo' and 'make check' (found '$first', '$second')"
fi

in_tree "$TMP/first.log" "$first"; rc=$?
if [ $rc = 0 ]; then pass "fresh: '$first' exits 0 on a bare Debian 12"; else
	fail "fresh: '$first' exits 0 on a bare Debian 12 (exit $rc)"; tail -25 "$TMP/first.log" | sed 's/^/#   /'; fi
grep -q 'compatible: xz' "$TMP/first.log" &&
	pass "fresh: the demo judges a real program" || fail "fresh: the demo judges a real program"

in_tree "$TMP/second.log" "$second"; rc=$?
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$TMP/second.log" | tail -1)
echo "# make check in the fresh tree: $last"
if [ $rc = 0 ] && [[ $last =~ ^[1-9][0-9]*\ passed,\ 0\ failed ]]; then
	pass "fresh: '$second' passes with 0 failed"
else
	fail "fresh: '$second' passes with 0 failed (exit $rc)"
	grep -E '^(FAILED|not ok)' "$TMP/second.log" | head -30 | sed 's/^/#   /'
	tail -5 "$TMP/second.log" | sed 's/^/#   /'
fi
if grep -q '^ *skip - ' "$TMP/second.log"; then
	echo "# skipped in the fresh tree:"; grep '^ *skip - ' "$TMP/second.log" | sed 's/^/#   /'
fi
summary
