#!/usr/bin/env bash
# Host index build time: every library of this machine's ld.so.cache read
# (class, machine, soname, version definitions), as compat serve and
# compat check do at start. Median of RUNS builds in one process each.
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
work=$(mktemp -d /tmp/compat-bench-index.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/b.c" <<'C'
#include <stdio.h>
#include <time.h>
#include "core/hostindex.h"
int main(void)
{
	struct index_opts o = { 0 };
	struct host_index *idx;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (index_build(&o, &idx, NULL) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.2f %zu\n", (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6, index_count(idx));
	index_free(idx);
	return 0;
}
C
make -s units > /dev/null
objs=$(for c in core/*.c; do echo "build/gcc/${c%.c}.o"; done; ls build/gcc/gen/*.o 2>/dev/null || true
	echo build/gcc/core/audit/embed.o build/gcc/core/audit/auditmap.o)   # the audit objects libcache embeds
cc -O2 -D_GNU_SOURCE -I. -o "$work/b" "$work/b.c" $objs $(pkg-config --libs libelf libnghttp2 jansson zlib) \
	-lmbedtls -lmbedx509 -lmbedcrypto -lprotobuf-nanopb
entries=$(/sbin/ldconfig -p | head -1 | grep -oE '^[0-9]+')
for i in $(seq "$RUNS"); do "$work/b"; done > "$work/t"
med=$(cut -d' ' -f1 "$work/t" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "index build: median ${med} ms over $RUNS runs ($entries ld.so.cache entries read; $(head -1 "$work/t" | cut -d' ' -f2) names indexed with the default directories); budget 50 ms"
