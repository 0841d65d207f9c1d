#!/usr/bin/python3
"""A registry that has the referrers API (docker-registry 2.8 has not), for
image.sh: one image, "r:img", and two compat artifacts attached to it. The
referrers answer lists the newer one first and the older one last, so a
client that takes the last entry instead of the newest by
org.opencontainers.image.created gets the wrong one; the fallback tag
(sha256-<hex>) does not exist, so a client must use the API.

  image_referrers.py PORTFILE NEWER.json OLDER.json LOG"""
import hashlib
import http.server
import json
import sys

portfile, newer, older, logfile = sys.argv[1:5]
blobs, manifests = {}, {}


def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return d


cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
image = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cfg),
                               "size": len(cfg)}, "layers": []}).encode()
subject = put(image)
manifests["img"] = manifests[subject] = image
refs = []
for path, created in ((newer, "2030-01-01T00:00:00Z"), (older, "2020-01-01T00:00:00Z")):
    art = open(path, "rb").read()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "artifactType": "application/vnd.llnl.compatlib.v1",
                    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": put(b"{}"), "size": 2},
                    "layers": [{"mediaType": "application/vnd.llnl.compatlib.artifact.v1+json",
                                "digest": put(art), "size": len(art),
                                "annotations": {"org.opencontainers.image.title": "compat.json"}}],
                    "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": subject,
                                "size": len(image)},
                    "annotations": {"org.opencontainers.image.created": created}}).encode()
    d = put(m)
    manifests[d] = m
    refs.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": len(m),
                 "artifactType": "application/vnd.llnl.compatlib.v1",
                 "annotations": {"org.opencontainers.image.created": created}})
# Also something else attached, which must be skipped.
refs.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "0" * 64,
             "size": 10, "artifactType": "application/vnd.example.sbom"})


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        with open(logfile, "a") as f:
            f.write(self.command + " " + self.path + "\n")

    def reply(self, code, body=b"", ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path.split("?")[0]
        if p.startswith("/v2/r/referrers/") and p[len("/v2/r/referrers/"):] == subject:
            return self.reply(200, json.dumps({"schemaVersion": 2, "mediaType":
                                               "application/vnd.oci.image.index.v1+json",
                                               "manifests": refs}).encode(),
                              "application/vnd.oci.image.index.v1+json")
        if p.startswith("/v2/r/manifests/") and p[len("/v2/r/manifests/"):] in manifests:
            return self.reply(200, manifests[p[len("/v2/r/manifests/"):]],
                              "application/vnd.oci.image.manifest.v1+json")
        if p.startswith("/v2/r/blobs/") and p[len("/v2/r/blobs/"):] in blobs:
            return self.reply(200, blobs[p[len("/v2/r/blobs/"):]], "application/octet-stream")
        self.reply(404, b'{"errors":[{"code":"NOT_FOUND"}]}')


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
