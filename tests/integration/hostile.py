#!/usr/bin/python3
"""Attacks on compat serve, each with its witnesses (issue 11).

Usage: hostile.py CASE ADDR PID GEN_DIR ARTIFACT [KEY=VALUE...]
CASE names one attack (see CASES below); ADDR/PID name the running server;
GEN_DIR holds compat_pb2.py / health_pb2.py made by protoc; ARTIFACT is a
small compatible artifact (the prototype's xz.json) that normal clients send.

Every case prints TAP-like lines and checks, besides its own outcome:
  - a normal CheckCompatibility from another connection is answered within
    0.5 s while the attack runs and after it (probes every 100 ms);
  - the server's RSS stays under 64 MB (128 MB for the memory case);
  - its descriptor count comes back to the baseline taken before the attack.
Everything runs on loopback and is bounded in time and count; a Python
exception is reported as a failing test (and a non-zero exit)."""
import json, os, socket, struct, sys, threading, time, traceback

CASE, ADDR, PID, GEN, ART = sys.argv[1:6]
OPTS = dict(a.split("=", 1) for a in sys.argv[6:])
PID = int(PID)
sys.path.insert(0, GEN)
import grpc
import compat_pb2, health_pb2

SVC = "/convergedcomputing.org.grpc.v1.CompatibilityService/"
CHECK = SVC + "CheckCompatibility"
HOST, PORT = ADDR.rsplit(":", 1)
HOST, PORT = HOST.strip("[]"), int(PORT)
NORMAL = open(ART).read()
SANITIZE = os.environ.get("SANITIZE") == "1"
failed = 0


def t(name, cond, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + CASE + ": " + name, flush=True)
    if not cond:
        failed += 1
        if detail != "":
            print("#   " + str(detail).replace("\n", "\n#   "), flush=True)


def note(s):
    print("#   " + s, flush=True)


# ---- the server as seen from /proc ----

def rss_mb():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def nfds():
    return len(os.listdir("/proc/%d/fd" % PID))


def cpu_seconds():
    with open("/proc/%d/stat" % PID) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def alive():
    try:
        os.kill(PID, 0)
        return True
    except OSError:
        return False


# ---- gRPC clients ----

def channel():
    return grpc.insecure_channel(ADDR, options=[("grpc.max_send_message_length", 64 << 20),
                                                ("grpc.max_receive_message_length", 64 << 20),
                                                ("grpc.enable_retries", 0)])


def check_fn(ch):
    return ch.unary_unary(CHECK, request_serializer=compat_pb2.CompatRequest.SerializeToString,
                          response_deserializer=compat_pb2.Response.FromString)


def call(req, timeout=10, ch=None):
    """(grpc code name, Response or None, details, seconds)."""
    own = ch is None
    ch = ch or channel()
    t0 = time.time()
    try:
        r = check_fn(ch)(req, timeout=timeout)
        return "OK", r, "", time.time() - t0
    except grpc.RpcError as e:
        return e.code().name, None, e.details(), time.time() - t0
    finally:
        if own:
            ch.close()


class Prober:
    """A normal client on its own connection, asking every 100 ms."""

    def __init__(self):
        self.ch = channel()
        self.lat, self.errors = [], []
        self.stop = threading.Event()
        self.th = None

    def once(self):
        code, r, det, dt = call(compat_pb2.CompatRequest(payload=NORMAL), timeout=5, ch=self.ch)
        if code != "OK" or not r.compatible:
            self.errors.append("%s %s" % (code, det))
        self.lat.append(dt)
        return code == "OK" and r.compatible, dt

    def start(self):
        self.lat, self.errors = [], []
        self.stop.clear()

        def loop():
            while not self.stop.is_set():
                self.once()
                self.stop.wait(0.1)
        self.th = threading.Thread(target=loop, daemon=True)
        self.th.start()

    def finish(self, what):
        self.stop.set()
        self.th.join(10)
        worst = max(self.lat) if self.lat else 99
        t("normal requests answered within 0.5 s %s (%d probes, worst %.0f ms)" % (what, len(self.lat), worst * 1000),
          len(self.lat) > 0 and not self.errors and worst < 0.5, self.errors[:3])


def baseline(prober):
    prober.once()
    prober.once()
    return nfds()


def after(prober, fd0, rss_limit=64, fd_wait=6.0):
    if not alive():
        t("the server is still running after the attack", False)
        return
    ok, dt = False, 0
    for _ in range(3):   # the first call after an attack may have to reconnect
        ok, dt = prober.once()
        if ok:
            break
    t("a normal request is answered after the attack (%.0f ms)" % (dt * 1000), ok and dt < 0.5, prober.errors[-3:])
    deadline = time.time() + fd_wait
    n = nfds()
    while n > fd0 and time.time() < deadline:
        time.sleep(0.1)
        n = nfds()
    t("descriptors back to the baseline (%d, baseline %d)" % (n, fd0), n <= fd0)
    if SANITIZE:
        print("skip - %s: RSS under %d MB: not meaningful under ASan (shadow memory, quarantine)" % (CASE, rss_limit))
    else:
        r = rss_mb()
        t("RSS %.1f MB < %d MB" % (r, rss_limit), r < rss_limit)


# ---- raw HTTP/2 ----

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(typ, flags, sid, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([typ, flags]) + sid.to_bytes(4, "big") + payload


def hpack_int(n, prefix_bits=7, first=0):
    top = (1 << prefix_bits) - 1
    if n < top:
        return bytes([first | n])
    out = [first | top]
    n -= top
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def lit(name, value):
    """A header as a literal without indexing (new name), no Huffman."""
    return b"\x00" + hpack_int(len(name)) + name + hpack_int(len(value)) + value


def grpc_headers(path=CHECK):
    return (b"\x83\x86" + lit(b":path", path.encode()) + lit(b":authority", b"x") +
            lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers"))


def grpc_body(msg):
    return b"\x00" + len(msg).to_bytes(4, "big") + msg


def raw_conn(timeout=5):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    s.sendall(PREFACE + frame(4, 0, 0))
    return s


def read_frames(s, secs=2.0, limit=1 << 20):
    """Frames the server sent within secs (or until it closed): list of
    (type, flags, stream, payload), and whether it closed."""
    s.settimeout(0.2)
    got, closed, end = b"", False, time.time() + secs
    while time.time() < end and len(got) < limit:
        try:
            c = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not c:
            closed = True
            break
        got += c
    frames, i = [], 0
    while i + 9 <= len(got):
        n = int.from_bytes(got[i:i + 3], "big")
        frames.append((got[i + 3], got[i + 4], int.from_bytes(got[i + 5:i + 9], "big") & 0x7fffffff,
                       got[i + 9:i + 9 + n]))
        i += 9 + n
    return frames, closed


def rst_close(s):
    """Close with a TCP reset (SO_LINGER 0)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def many_needs(n):
    attrs = {"llnl.compatlib.elf.class": "ELF64", "llnl.compatlib.elf.machine": "x86_64"}
    for i in range(n):
        attrs["llnl.compatlib.needed.libnope%d.so.1" % i] = "V_1.0"
    return json.dumps({"version": "0.1.0", "attributes": attrs})


# ---- the cases ----

def case_uaf():
    """Issue 11 item 1: a fetch completes for a connection whose flush fails
    (the client reset it) while an event for that connection waits in the
    same epoll batch. The loop is kept busy by a heavy request on another
    connection so that both events land in one batch."""
    reg = OPTS["registry"]   # a fake registry answering after DELAY s
    delay = float(OPTS.get("delay", "3"))
    p = Prober()
    fd0 = baseline(p)
    s = raw_conn()
    req = compat_pb2.CompatRequest(uri="http://%s/apps/x:v1" % reg).SerializeToString()
    s.sendall(frame(1, 4, 1, grpc_headers()) + frame(0, 1, 1, grpc_body(req)))
    heavy = {}

    def send_heavy():
        heavy["r"] = call(compat_pb2.CompatRequest(payload=many_needs(20000)), timeout=60)
    time.sleep(delay / 2)
    th = threading.Thread(target=send_heavy)
    th.start()
    time.sleep(delay / 2 + 0.4)   # the registry has answered; the loop may still be busy
    rst_close(s)
    th.join(90)
    code = heavy.get("r", ("none",))[0]
    t("the heavy request on another connection gets a status (%s)" % code, code in ("OK", "RESOURCE_EXHAUSTED"))
    time.sleep(0.3)
    t("the server survives a reply to a reset connection", alive())
    after(p, fd0)


CASES = {"uaf": case_uaf}

if __name__ == "__main__":
    try:
        CASES[CASE]()
    except Exception:
        t("the driver ran to the end", False, traceback.format_exc())
    sys.exit(1 if failed else 0)
