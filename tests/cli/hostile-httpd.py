#!/usr/bin/python3
"""A hostile HTTP server for moo's download tests: hostile-httpd.py PORTFILE LOG.

Listens on a free loopback port (written to PORTFILE) and answers
  /drip        Content-Length 1000000, one byte a second;
  /slow        Content-Length 1 GB, 64 KiB a second (a download to interrupt);
  /huge        Content-Length 10 GB, zeros as fast as they are taken;
  /chunked     chunked, zeros without end;
  /zeros/N     Content-Length N, N zeros.
When a response ends (or the client goes), "PATH SENT" is appended to LOG: the body bytes
it sent.
"""
import http.server
import os
import socketserver
import sys
import time

PORTFILE, LOG = sys.argv[1], sys.argv[2]
ZEROS = bytes(64 << 10)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def body(self, total, rate=None, chunked=False):
        sent = 0
        try:
            while total is None or sent < total:
                n = len(ZEROS) if total is None else min(len(ZEROS), total - sent)
                if rate == 1:
                    n = 1
                data = ZEROS[:n]
                if chunked:
                    self.wfile.write(b"%x\r\n" % n + data + b"\r\n")
                else:
                    self.wfile.write(data)
                self.wfile.flush()
                sent += n
                if rate:
                    time.sleep(1 if rate == 1 else n / rate)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with open(LOG, "a") as log:
                log.write("%s %d\n" % (self.path, sent))

    def do_GET(self):
        p = self.path
        self.send_response(200)
        if p == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            return self.body(None, chunked=True)
        sizes = {"/drip": 1000000, "/slow": 1 << 30, "/huge": 10 << 30}
        size = sizes.get(p) or int(p.rsplit("/", 1)[1])
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.body(size, rate={"/drip": 1, "/slow": 64 << 10}.get(p))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up are the point


srv = Server(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
