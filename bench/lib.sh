# Shared set-up of the bench scripts (sourced): the work directory, the
# spawn timer, the static binary to compare with, and a sample of the
# dynamically linked programs of /usr/bin.
# bench_setup NAME: sets work (removed on exit), builds $work/spawn_time, and
# STATIC (a `make static` binary built into $work unless STATIC is given;
# STATIC=0: none).
bench_setup() {
	work=$(mktemp -d "/tmp/compat-bench-$1.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	cc -O2 -o "$work/spawn_time" bench/spawn_time.c
	unset LD_LIBRARY_PATH
	STATIC=${STATIC:-}
	if [ -z "$STATIC" ]; then
		if make --no-print-directory static STATIC_OUT="$work/static/compat" > "$work/static.log" 2>&1; then
			STATIC=$work/static/compat
		else
			echo "(make static failed: the static binary is left out; see its log)"; tail -3 "$work/static.log"
			STATIC=0
		fi
	fi
}

# bench_sample N: every N-th of the dynamically linked programs of /usr/bin
# into $work/sample (about N of them); sets n and total.
bench_sample() {
	local f step
	for f in /usr/bin/*; do
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		readelf -lW "$f" 2>/dev/null | grep -q ' DYNAMIC ' && echo "$f"
	done > "$work/all"
	total=$(wc -l < "$work/all")
	step=$((total / $1)); [ "$step" -ge 1 ] || step=1
	awk -v s="$step" 'NR % s == 0' "$work/all" | head -n "$1" > "$work/sample"
	n=$(wc -l < "$work/sample")
}

# bench_artifacts DIR COUNT: the artifacts of up to COUNT dynamically linked
# programs of /usr/bin in three forms: K.full.json (compat gen), K.nosym.json
# (gen --no-symbols) and K.proto.json (the prototype's form: executable-name
# and library-name.N only), each also as K.FORM.body (a gRPC-framed
# CompatRequest, for h2load -d); sets nart (how many were made).
bench_artifacts() {
	local dir=$1 count=$2 i f
	mkdir -p "$dir"
	i=0
	for f in /usr/bin/*; do
		[ "$i" -lt "$count" ] || break
		[ -f "$f" ] && [ ! -L "$f" ] || continue
		readelf -lW "$f" 2>/dev/null | grep -q ' DYNAMIC ' || continue
		"$top/bin/compat" gen -o "$dir/$i.full.json" "$f" 2>/dev/null || continue
		"$top/bin/compat" gen --no-symbols -o "$dir/$i.nosym.json" "$f" 2>/dev/null || continue
		i=$((i + 1))
	done
	nart=$i
	python3 - "$dir" "$nart" <<-'PY'
	import json, struct, sys
	d, n = sys.argv[1], int(sys.argv[2])
	def body(p):
	    m, v = len(p), b''
	    while m > 127:
	        v += bytes([m & 127 | 128]); m >>= 7
	    msg = b'\x0a' + v + bytes([m]) + p     # CompatRequest{payload}
	    return b'\x00' + struct.pack('>I', len(msg)) + msg   # gRPC: flag 0, length
	for i in range(n):
	    a = json.load(open('%s/%d.full.json' % (d, i)))['attributes']
	    ns = sorted(k[len('llnl.compatlib.needed.'):] for k in a if k.startswith('llnl.compatlib.needed.'))
	    attrs = {'llnl.compatlib.executable-name': a.get('llnl.compatlib.executable-name', 'x')}
	    attrs.update(('llnl.compatlib.library-name.%d' % j, s) for j, s in enumerate(ns))
	    open('%s/%d.proto.json' % (d, i), 'w').write(json.dumps({'version': '0.0.1', 'attributes': attrs}, indent=2))
	    for form in ('proto', 'nosym', 'full'):
	        open('%s/%d.%s.body' % (d, i, form), 'wb').write(body(open('%s/%d.%s.json' % (d, i, form), 'rb').read()))
	PY
}
