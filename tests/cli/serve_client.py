"""Clients for tests/cli/serve.sh, on Python's urllib and raw sockets: serve_client.py CHECK URL.
Prints what it saw; exits 0 when the check holds."""
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def post(url, doc, timeout=30, headers=None):
    data = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def fail(msg):
    print(msg)
    sys.exit(1)


def check_urllib(url):
    st, doc, h = post(url + "/invocations", {"instances": [[1, 2], [3, 4]]},
                      headers={"X-Request-Id": "abc-123"})
    print(st, doc, h.get("X-Request-Id"))
    if st != 200 or doc["predictions"] != [[1, 2], [3, 4]] or h.get("X-Request-Id") != "abc-123":
        fail("unexpected answer")


def check_kill(url):
    moo = int(sys.argv[3])
    pids = set()
    for tid in os.listdir("/proc/%d/task" % moo):
        pids |= set(int(p) for p in open("/proc/%d/task/%s/children" % (moo, tid)).read().split())
    out = {}
    t = threading.Thread(target=lambda: out.update(r=post(url + "/invocations", {"sleep": 5})))
    t.start()
    time.sleep(0.7)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    t.join(20)
    st, doc, _ = out["r"]
    print("killed workers %s mid-request: %d %s" % (sorted(pids), st, doc))
    if not (500 <= st < 600 and "error" in doc and "signal 9" in doc["error"]):
        fail("wanted a 5xx JSON error naming the signal")
    for _ in range(300):
        st, doc, _ = post(url + "/invocations", {"instances": [2]})
        if st == 200:
            break
        time.sleep(0.1)
    print("next request: %d %s" % (st, doc))
    if st != 200 or doc["pid"] in pids:
        fail("wanted a restarted worker to answer")


def check_slow(url):
    u = urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=20)
    s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n")
    fast = []
    start = time.time()
    answer = b""
    i = 0
    while time.time() - start < 15:
        try:
            s.sendall(b" ")
        except OSError:
            break
        i += 1
        if i == 3:
            t0 = time.time()
            st, doc, _ = post(url + "/invocations", {"instances": [7]})
            fast.append((st, time.time() - t0))
        s.settimeout(0.3)
        try:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                break
        except socket.timeout:
            pass
    print("slow client got: %r after %.1f s; fast request meanwhile: %s"
          % (answer.split(b"\r\n")[0], time.time() - start, fast))
    if not answer.startswith(b"HTTP/1.1 408") or not fast or fast[0][0] != 200:
        fail("wanted 408 for the slow client and 200 for the other")


def check_stall(url):
    """A client that sends its headers and part of its body, then nothing: 408 once
    --timeout (2 s) has passed, not a connection closed without an answer."""
    u = urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=20)
    s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{\"inst")
    start = time.time()
    answer = b""
    s.settimeout(10)
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
    except OSError as e:
        print("recv: %s" % e)
    took = time.time() - start
    print("stalled client got %r after %.1f s" % (answer, took))
    if not answer.startswith(b"HTTP/1.1 408") or b'{"error":"the request took over 2 s' not in answer:
        fail("wanted 408 with a JSON error")
    if not 1.5 < took < 5:
        fail("wanted it after about --timeout (2 s)")


def check_hang(url):
    """Something that accepts connections and never answers: listens on a free port, prints
    it, and holds every connection until killed."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print(ls.getsockname()[1], flush=True)
    held = []
    while True:
        held.append(ls.accept()[0])


def check_text(url):
    """An HTTP server that answers every POST 200 with text/plain 'nan' (not JSON)."""
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"nan")

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


def check_queue(url):
    res = []
    lock = threading.Lock()

    def one():
        r = post(url + "/invocations", {"sleep": 1.0})
        with lock:
            res.append(r)

    ts = [threading.Thread(target=one) for _ in range(6)]
    for t in ts:
        t.start()
        time.sleep(0.05)
    for t in ts:
        t.join(30)
    codes = sorted(r[0] for r in res)
    print("6 requests of 1 s, 1 worker, queue of 2:", codes)
    full = [r for r in res if r[0] == 503]
    if not full or not all(r[2].get("Retry-After") and "error" in r[1] for r in full):
        fail("wanted 503 with Retry-After and an error")
    if codes.count(200) < 2:
        fail("wanted the queued ones answered")


def check_batch(url):
    sizes = []
    lock = threading.Lock()

    def client(k):
        for j in range(10):
            st, doc, _ = post(url + "/invocations", {"instances": [k, j]})
            with lock:
                sizes.append(doc.get("batch") if st == 200 else -st)

    ts = [threading.Thread(target=client, args=(k,)) for k in range(24)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    hist = {}
    for s in sizes:
        hist[s] = hist.get(s, 0) + 1
    print("batch sizes the predictor saw (size: requests):", dict(sorted(hist.items())))
    if len(sizes) != 240 or min(sizes) < 1 or max(sizes) < 2 or max(sizes) > 8:
        fail("wanted 240 answers in batches of 2..8")


def check_quick(url):
    """Quick predicts one after another (each answered at once: a worker holds an answer only
    while more requests wait to be read), then from 16 clients at once (a worker writes its
    answers a few at a time): every answer is its own."""
    bad = []
    t0 = time.time()
    for j in range(200):
        st, doc, _ = post(url + "/invocations", {"instances": [j]}, timeout=5)
        if st != 200 or doc["predictions"] != [j]:
            fail("request %d of 200 one after another: %s %r" % (j, st, doc))
    print("200 one after another in %.2f s" % (time.time() - t0))

    def client(k):
        for j in range(25):
            st, doc, _ = post(url + "/invocations", {"instances": [k, j]})
            if st != 200 or doc["predictions"] != [k, j]:
                bad.append((k, j, st, doc))

    ts = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    print("then 400 from 16 clients at once, %d wrong" % len(bad))
    if bad:
        fail("wanted every answer right: %r" % bad[:3])


def check_rss(url):
    pid = int(sys.argv[3])
    size = int(sys.argv[4])
    u = urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=120)
    s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Length: %d\r\n\r\n" % size)
    chunk = b"\0" * (1 << 20)
    left = size
    while left:
        n = min(left, len(chunk))
        s.sendall(chunk[:n])
        left -= n
    s.settimeout(120)
    answer = b""
    while b"}" not in answer:
        c = s.recv(65536)
        if not c:
            break
        answer += c
    hwm = [l for l in open("/proc/%d/status" % pid) if l.startswith("VmHWM")][0].split()[1]
    print("answer: %r; moo's peak RSS %d KiB" % (answer.split(b"\r\n\r\n")[-1], int(hwm)))
    if b'"size": %d' % size not in answer or int(hwm) > 100 * 1024:
        fail("wanted the whole body seen by the predictor and moo under 100 MiB")


globals()["check_" + sys.argv[1]](sys.argv[2])
