#!/usr/bin/env bash
# compat gen of a container image (a Debian 12 minbase image in a local
# docker-registry) against doing it by hand: skopeo copy to an OCI layout,
# tar -xzf of the layer, compat gen --root on the tree, rm -rf. Also from an
# OCI layout on disk (no registry): compat gen oci:DIR against tar + gen --root.
# Median of REPS runs each, interleaved; both sides unpack under the same
# TMPDIR (default /tmp; set BENCH_TMPDIR=/dev/shm for tmpfs).
# Needs docker-registry, skopeo, mmdebstrap (or the cached tarball).
set -eu
cd "$(dirname "$0")/.."
REPS=${REPS:-5}
COMPAT=${COMPAT:-$PWD/bin/compat}
. tests/integration/lib.sh	# debian_tarball; TMP is removed on exit
for c in docker-registry skopeo; do
	command -v $c > /dev/null || { echo "bench/image.sh: $c is not installed"; exit 0; }
done
DEB=$(debian_tarball bookworm --variant=minbase) || { echo "bench/image.sh: no Debian tarball (mmdebstrap)"; exit 0; }
export TMPDIR=${BENCH_TMPDIR:-/tmp}
W=$(mktemp -d "$TMPDIR/compat-bench-image.XXXXXX")
cleanup_hooks+=("rm -rf '$W'")
export COMPAT_CACHE=$W/cache

/usr/bin/python3 tests/integration/image_build.py image "$W/layout" deb "tar:$DEB"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp:\n  addr: 127.0.0.1:%s\n' \
	"$W/reg" "$port" > "$W/reg.yml"
docker-registry serve "$W/reg.yml" > /dev/null 2>&1 &
cleanup_hooks+=("kill $! 2> /dev/null")
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
REG=127.0.0.1:$port
skopeo copy --quiet --dest-tls-verify=false "oci:$W/layout:deb" "docker://$REG/deb:12"

mkdir -p "$W/x" && tar -xzf "$W/layout/blobs/sha256/$(/usr/bin/python3 -c '
import json,sys
idx = json.load(open(sys.argv[1] + "/index.json"))
man = json.load(open(sys.argv[1] + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
print(man["layers"][0]["digest"][7:])' "$W/layout")" -C "$W/x"
files=$(find "$W/x" -type f | wc -l)
elfs=$(find "$W/x" -type f -size +1k -exec sh -c 'head -c4 "$1" | grep -q ELF && echo' _ {} \; | wc -l)
layer=$(du -b "$W/layout/blobs/sha256" | cut -f1)
rm -rf "$W/x"
echo "image: Debian 12 minbase, 1 layer, $files files ($elfs ELF), layout $((layer / 1048576)) MiB; TMPDIR=$TMPDIR; median of $REPS"

now() { date +%s%N; }
by_hand_registry() {
	skopeo copy --quiet --src-tls-verify=false "docker://$REG/deb:12" "oci:$W/hand:x" &&
	local l=$(/usr/bin/python3 -c '
import json,sys
idx = json.load(open(sys.argv[1] + "/index.json"))
man = json.load(open(sys.argv[1] + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
print(man["layers"][0]["digest"][7:])' "$W/hand") &&
	mkdir "$W/tree" && tar -xzf "$W/hand/blobs/sha256/$l" -C "$W/tree" &&
	"$COMPAT" gen --root "$W/tree" -o /dev/null "$W/tree" && rm -rf "$W/tree" "$W/hand"
}
by_hand_layout() {
	local l=$1
	mkdir "$W/tree" && tar -xzf "$W/layout/blobs/sha256/$l" -C "$W/tree" &&
	"$COMPAT" gen --root "$W/tree" -o /dev/null "$W/tree" && rm -rf "$W/tree"
}
L=$(/usr/bin/python3 -c '
import json,sys
idx = json.load(open(sys.argv[1] + "/index.json"))
man = json.load(open(sys.argv[1] + "/blobs/sha256/" + idx["manifests"][0]["digest"][7:]))
print(man["layers"][0]["digest"][7:])' "$W/layout")
: > "$W/times"
for r in $(seq "$REPS"); do
	t0=$(now); "$COMPAT" gen --plain-http -o /dev/null "$REG/deb:12"; t1=$(now)
	echo "reg-compat $(( (t1 - t0) / 1000000 ))" >> "$W/times"
	t0=$(now); by_hand_registry; t1=$(now)
	echo "reg-hand $(( (t1 - t0) / 1000000 ))" >> "$W/times"
	t0=$(now); "$COMPAT" gen -o /dev/null "oci:$W/layout:deb"; t1=$(now)
	echo "oci-compat $(( (t1 - t0) / 1000000 ))" >> "$W/times"
	t0=$(now); by_hand_layout "$L"; t1=$(now)
	echo "oci-hand $(( (t1 - t0) / 1000000 ))" >> "$W/times"
done
med() { grep "^$1 " "$W/times" | cut -d' ' -f2 | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-58s %8s\n' "what" "median ms"
printf '%-58s %8s\n' "compat gen REGISTRY/deb:12" "$(med reg-compat)"
printf '%-58s %8s\n' "skopeo copy + tar -xzf + compat gen --root + rm -rf" "$(med reg-hand)"
printf '%-58s %8s\n' "compat gen oci:DIR:deb" "$(med oci-compat)"
printf '%-58s %8s\n' "tar -xzf + compat gen --root + rm -rf" "$(med oci-hand)"
awk -v a="$(med reg-compat)" -v b="$(med reg-hand)" -v c="$(med oci-compat)" -v d="$(med oci-hand)" \
	'BEGIN { printf "ratio, by hand / compat gen: registry %.2fx, layout %.2fx\n", b / a, d / c }'
