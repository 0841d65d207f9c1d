#!/usr/bin/python3
"""Builds small OCI image layouts for the image tests (tarfile + gzip, no
container tools), as skopeo would read them:

  image_build.py image LAYOUT TAG [--platform OS/ARCH] LAYER...
      LAYER is tar:FILE (a tarball: device nodes and FIFOs are dropped, as
      image builders do), dir:DIR (a directory's contents), same:TAG:N (layer
      N of the image tagged TAG, reused as is), or a hostile layer,
      hostile:KIND (see hostile() and sparse_claim_layer() below).
  image_build.py index LAYOUT TAG TAG...
      an image index of the images tagged TAG... (each one's platform).
  image_build.py baddigest LAYOUT TAG
      rewrites the first layer of TAG so its bytes no longer match the
      digest the manifest gives (same size: the gzip header's mtime).

Every layer is written as a gzip tar blob; manifests, configs and the
index.json entry (org.opencontainers.image.ref.name = TAG) are added to the
layout, which is created when missing."""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
CONFIG = "application/vnd.oci.image.config.v1+json"


def put_blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d


def load_index(layout):
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    p = os.path.join(layout, "index.json")
    if os.path.exists(p):
        return json.load(open(p))
    return {"schemaVersion": 2, "manifests": []}


def save_index(layout, idx, tag, desc):
    desc = dict(desc)
    desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    idx["manifests"] = [m for m in idx["manifests"]
                        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    idx["manifests"].append(desc)
    json.dump(idx, open(os.path.join(layout, "index.json"), "w"))


def find(layout, tag):
    for m in load_index(layout)["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return m
    sys.exit("no image tagged " + tag)


def blob(layout, digest):
    return open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb").read()


def info(name, type=tarfile.REGTYPE, size=0, link="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.type, ti.size, ti.linkname, ti.mode = type, size, link, mode
    ti.mtime = 1700000000
    return ti


def hostile(kind, tf):
    """Each writes a harmless file first, then the entry to refuse."""
    tf.addfile(info("etc/harmless", size=3), io.BytesIO(b"ok\n"))
    target = os.environ.get("HOSTILE_TARGET", "/tmp/compat-hostile-target")
    if kind == "dotdot":
        tf.addfile(info("../" * 12 + target.lstrip("/"), size=2), io.BytesIO(b"x\n"))
    elif kind == "absolute":
        tf.addfile(info(target, size=2), io.BytesIO(b"x\n"))
    elif kind == "symlink":
        tf.addfile(info("escape", tarfile.SYMTYPE, link=os.path.dirname(target)))
        tf.addfile(info("escape/" + os.path.basename(target), size=2), io.BytesIO(b"x\n"))
    elif kind == "hardlink":
        tf.addfile(info("victim", tarfile.LNKTYPE, link="../" * 12 + target.lstrip("/")))
    elif kind == "device":
        ti = info("dev/sda", tarfile.BLKTYPE)
        ti.devmajor, ti.devminor = 8, 0
        tf.addfile(ti)
    elif kind == "whiteout-root":
        tf.addfile(info(".wh.."))
    else:
        sys.exit("unknown hostile layer " + kind)


def sparse_claim_layer():
    """A GNU header claiming a 10 GB file, and only a few bytes of it."""
    ti = info("huge.img", size=10 * 1000 ** 3)
    raw = ti.tobuf(tarfile.GNU_FORMAT) + b"\0" * 4096
    return raw


def make_layer(spec):
    if spec == "hostile:sparse":
        return gzip.compress(sparse_claim_layer(), mtime=0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        kind, _, arg = spec.partition(":")
        if kind == "tar":
            with tarfile.open(arg) as src:
                for m in src:
                    if m.ischr() or m.isblk() or m.isfifo():
                        continue
                    tf.addfile(m, src.extractfile(m) if m.isreg() else None)
        elif kind == "dir":
            for top, dirs, files in os.walk(arg):
                dirs.sort()
                for n in sorted(dirs) + sorted(files):
                    p = os.path.join(top, n)
                    tf.add(p, arcname=os.path.relpath(p, arg), recursive=False)
        elif kind == "hostile":
            hostile(arg, tf)
        else:
            sys.exit("unknown layer " + spec)
    return gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def cmd_image(layout, tag, args):
    plat = "linux/amd64"
    if args and args[0] == "--platform":
        plat, args = args[1], args[2:]
    os_, arch = plat.split("/")[:2]
    idx = load_index(layout)
    layers, diff_ids = [], []
    for spec in args:
        if spec.startswith("same:"):
            _, t, n = spec.split(":")
            man = json.loads(blob(layout, find(layout, t)["digest"]))
            cfg = json.loads(blob(layout, man["config"]["digest"]))
            layers.append(man["layers"][int(n)])
            diff_ids.append(cfg["rootfs"]["diff_ids"][int(n)])
            continue
        data = make_layer(spec)
        layers.append({"mediaType": LAYER, "digest": put_blob(layout, data), "size": len(data)})
        try:
            diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest())
        except EOFError:
            diff_ids.append("sha256:" + hashlib.sha256(b"").hexdigest())
    config = json.dumps({"architecture": arch, "os": os_, "config": {},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                      "config": {"mediaType": CONFIG, "digest": put_blob(layout, config), "size": len(config)},
                      "layers": layers}).encode()
    save_index(layout, idx, tag, {"mediaType": MANIFEST, "digest": put_blob(layout, man), "size": len(man),
                                  "platform": {"os": os_, "architecture": arch}})


def cmd_index(layout, tag, tags):
    ms = []
    for t in tags:
        d = find(layout, t)
        ms.append({k: d[k] for k in ("mediaType", "digest", "size", "platform")})
    data = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": ms}).encode()
    save_index(layout, load_index(layout), tag, {"mediaType": INDEX, "digest": put_blob(layout, data),
                                                 "size": len(data)})


def cmd_baddigest(layout, tag):
    man = json.loads(blob(layout, find(layout, tag)["digest"]))
    d = man["layers"][0]["digest"]
    p = os.path.join(layout, "blobs", "sha256", d[7:])
    data = bytearray(open(p, "rb").read())
    data[4] = (data[4] + 1) % 256  # gzip mtime: same size, still gunzips
    open(p, "wb").write(data)


def main():
    cmd, layout, tag, rest = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    if cmd == "image":
        cmd_image(layout, tag, rest)
    elif cmd == "index":
        cmd_index(layout, tag, rest)
    elif cmd == "baddigest":
        cmd_baddigest(layout, tag)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
