#!/usr/bin/python3
"""A misbehaving or token-protected registry for the registry tests.

Usage: registry_fake.py PORTFILE MODE ARTIFACT.json
MODE: bearer (a real token flow: 401 + WWW-Authenticate Bearer, a token
endpoint, then the artifact), slow (3 s before each answer), delay:S (S
seconds before the manifest only), status500, truncated, hugeheaders,
endlesschunks, badtoken (the bearer flow with a token holding CR LF),
redirect:URL (the manifest answers 307 to URL), realm:URL (a
bearer challenge whose realm is URL), canary:LOG (every request's line and
headers appended to LOG, answered 200), tlsredirect:CERTDIR:LOG (TLS and
plain HTTP on one port; over TLS, basic auth alice:s3cret is required and
the blob redirects to plain http on the same host and port, whose requests
are logged to LOG).
Writes the port it listens on to PORTFILE."""
import base64, hashlib, http.server, json, socket, ssl, sys, threading, time

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
        if mode.startswith("canary:"):
            with open(mode[7:], "a") as f:
                f.write(self.requestline + "\n" + str(self.headers) + "\n")
            return self.send(200, b"{}")
        if mode.startswith("redirect:") and "/manifests/" in self.path:
            return self.send(307, b"", [("Location", mode[9:])])
        if mode.startswith("realm:"):
            return self.send(401, b"{}", [("WWW-Authenticate",
                                           'Bearer realm="%s",service="x",scope="repository:apps/x:pull"' % mode[6:])])
        if mode.startswith("tlsredirect:"):
            log = mode.split(":", 2)[2]
            if not isinstance(self.connection, ssl.SSLSocket):
                with open(log, "a") as f:
                    f.write("plain %s authorization=%s\n" % (self.path, self.headers.get("Authorization")))
                if "/blobs/" in self.path:
                    return self.send(200, art)
                return self.send(404)
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:s3cret").decode():
                return self.send(401, b"{}", [("WWW-Authenticate", 'Basic realm="fake"')])
            if "/blobs/" in self.path:
                return self.send(307, b"", [("Location", "http://%s%s" % (host, self.path))])
        if mode in ("bearer", "badtoken"):
            if self.path.startswith("/token") and mode == "badtoken":
                return self.send(200, json.dumps({"token": TOKEN + "\r\nX-Injected: 1"}).encode())
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

class Server(http.server.ThreadingHTTPServer):
    """Plain HTTP, or TLS too when the mode says so (sniffed per connection)."""
    ctx = None

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ctx:
            sock.settimeout(10)
            first = sock.recv(1, socket.MSG_PEEK)
            if first == b"\x16":
                sock = self.ctx.wrap_socket(sock, server_side=True)
        return sock, addr


srv = Server(("127.0.0.1", 0), H)
if mode.startswith("tlsredirect:"):
    certdir = mode.split(":", 2)[1]
    Server.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    Server.ctx.load_cert_chain(certdir + "/srv.pem", certdir + "/srv.key")
open(portfile, "w").write(str(srv.server_address[1]))
t = threading.Timer(120, srv.shutdown)   # bounded in time
t.daemon = True
t.start()
srv.serve_forever()
