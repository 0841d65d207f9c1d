#!/usr/bin/python3
"""A misbehaving or token-protected registry for the registry tests.

Usage: registry_fake.py PORTFILE MODE ARTIFACT.json
MODE: bearer (a real token flow: 401 + WWW-Authenticate Bearer, a token
endpoint, then the artifact), slow (3 s before each answer), delay:S (S
seconds before the manifest only), status500, truncated, hugeheaders,
endlesschunks.
Writes the port it listens on to PORTFILE."""
import hashlib, http.server, json, sys, threading, time

portfile, mode, art_path = sys.argv[1], sys.argv[2], sys.argv[3]
art = open(art_path, "rb").read()
dig = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.llnl.compatlib.v1",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": dig(b"{}"), "size": 2},
    "layers": [{"mediaType": "application/vnd.llnl.compatlib.artifact.v1+json", "digest": dig(art),
                "size": len(art), "annotations": {"org.opencontainers.image.title": "compat.json"}}],
}).encode()
TOKEN = "tok-" + hashlib.sha256(art).hexdigest()[:16]

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def send(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        host = self.headers.get("Host")
        if mode == "bearer":
            if self.path.startswith("/token"):
                ok = "service=fake" in self.path and "scope=repository%3Aapps%2Fx%3Apull" in self.path
                return self.send(200 if ok else 400, json.dumps({"token": TOKEN}).encode())
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                return self.send(401, b"{}", [("WWW-Authenticate",
                    'Bearer realm="http://%s/token",service="fake",scope="repository:apps/x:pull"' % host)])
        if mode == "slow":
            time.sleep(3)
        if mode.startswith("delay:") and "/manifests/" in self.path:
            time.sleep(float(mode[6:]))
        if mode == "status500":
            return self.send(500, b"oops")
        if mode == "hugeheaders":
            self.send_response(200)
            for i in range(2000):
                self.send_header("X-Filler-%d" % i, "y" * 100)
            self.end_headers()
            return
        if mode == "endlesschunks" and "/manifests/" in self.path:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(100000):      # bounded: 400 MB at most, the client stops long before
                    self.wfile.write(b"1000\r\n" + b"z" * 4096 + b"\r\n")
            except OSError:
                pass
            return
        if "/manifests/" in self.path:
            return self.send(200, manifest, [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                             ("Docker-Content-Digest", dig(manifest))])
        if "/blobs/" in self.path:
            if mode == "truncated":
                self.send_response(200)
                self.send_header("Content-Length", str(len(art)))
                self.end_headers()
                self.wfile.write(art[: len(art) // 2])
                self.wfile.flush()
                self.connection.close()
                return
            return self.send(200, art)
        return self.send(404)

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write(str(srv.server_address[1]))
t = threading.Timer(120, srv.shutdown)   # bounded in time
t.daemon = True
t.start()
srv.serve_forever()
