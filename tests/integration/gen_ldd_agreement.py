#!/usr/bin/python3
"""compat gen --list must agree with ldd on every dynamically linked ELF file
of this machine under /usr/bin, /usr/sbin and /usr/lib (DESIGN §3, §9):
the same 'soname => path' pairs (and the same 'not found' names).

Usage: gen_ldd_agreement.py COMPAT_BIN [DIR...]. Prints TAP-like lines."""
import os, subprocess, sys, struct, concurrent.futures

compat = sys.argv[1]
dirs = sys.argv[2:] or ["/usr/bin", "/usr/sbin", "/usr/lib"]

def dynamic_elf(path):
    """ET_EXEC/ET_DYN with a PT_DYNAMIC program header."""
    try:
        with open(path, "rb") as f:
            h = f.read(64)
            if len(h) < 52 or h[:4] != b"\x7fELF" or h[5] != 1:
                return False
            cls64 = h[4] == 2
            etype = struct.unpack_from("<H", h, 16)[0]
            if etype not in (2, 3):
                return False
            if cls64:
                phoff, = struct.unpack_from("<Q", h, 32)
                phentsize, phnum = struct.unpack_from("<HH", h, 54)
            else:
                phoff, = struct.unpack_from("<I", h, 28)
                phentsize, phnum = struct.unpack_from("<HH", h, 42)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
            for i in range(phnum):
                if len(ph) >= (i + 1) * phentsize and struct.unpack_from("<I", ph, i * phentsize)[0] == 2:
                    return True
    except OSError:
        pass
    return False

files = set()
for d in dirs:
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            p = os.path.realpath(p)
            if dynamic_elf(p):
                files.add(p)
files = sorted(files)

def parse_blocks(text, paths, with_addr):
    """Split multi-file ldd-style output into {path: set(pairs)}."""
    out, cur = {}, None
    wanted = set(paths)
    for line in text.splitlines():
        if not line.startswith("\t") and line.endswith(":") and line[:-1] in wanted:
            cur = line[:-1]
            out[cur] = set()
            continue
        if cur is not None and line.strip() == "not a dynamic executable":
            out[cur] = None    # ld.so refuses it (e.g. a separate .debug file)
            continue
        if cur is None or out[cur] is None:
            continue
        if "=>" not in line:
            # a loaded path with no name: the loader, or a DT_NEEDED with '/'
            p = line.strip()
            if with_addr and p.endswith(")") and " (0x" in p:
                p = p[: p.rindex(" (0x")]
            if p.startswith("/"):
                out[cur].add(("", p))
            continue
        name, _, rest = line.strip().partition(" => ")
        rest = rest.strip()
        if with_addr and rest.endswith(")") and " (0x" in rest:
            rest = rest[: rest.rindex(" (0x")]
        if rest.startswith("not found"):
            rest = "not found"
        if not rest:
            continue   # "name =>  (0x...)": the vdso-like entries
        out[cur].add((name, rest))
    return out

def run(cmd, batch):
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env["LC_ALL"] = "C"
    # ldd says "not a dynamic executable" on stderr, right under the
    # file's header on stdout: one pipe keeps them in order.
    p = subprocess.run(cmd + batch, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=env, timeout=600)
    return p.stdout

def chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]

# ldd prints a "file:" header only with two or more arguments: pad each
# batch with /bin/true so the parser always sees headers.
pad = os.path.realpath("/bin/true")
ldd_out, gen_out = {}, {}
with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
    futs = []
    for b in chunks(files, 100):
        bb = b + ([pad] if len(b) == 1 else [])
        futs.append((b, bb, ex.submit(run, ["ldd"], bb), ex.submit(run, [compat, "gen", "--list"], bb)))
    for b, bb, fl, fg in futs:
        ldd_out.update(parse_blocks(fl.result(), bb, True))
        gen_out.update(parse_blocks(fg.result(), bb, False))

compared = diffs = refused = 0
for f in files:
    if f not in ldd_out or ldd_out[f] is None:
        refused += 1
        continue   # ld.so itself refuses it: nothing to agree on
    compared += 1
    want, got = ldd_out[f], gen_out.get(f)
    if got is None or want != got:
        diffs += 1
        if diffs <= 20:
            print("#   %s\n#     ldd only: %s\n#     gen only: %s" % (f, sorted(want - (got or set())), sorted((got or set()) - want)))
print("# %d dynamically linked ELF files found, %d refused by ld.so ('not a dynamic executable'), %d compared with ldd, %d differ" % (len(files), refused, compared, diffs))
ok = compared > 0 and diffs == 0
print("%s - gen agrees with ldd on %d ELF files under %s" % ("ok" if ok else "not ok", compared, " ".join(dirs)))
