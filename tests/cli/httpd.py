#!/usr/bin/python3
"""A file server for moo's URL tests: httpd.py ROOT PORTFILE LOG [CUT].

Serves ROOT on a free loopback port (written to PORTFILE once listening), with
  - Range: bytes=N- answered 206 with Content-Range (416 past the end);
  - /redirect/PATH answered 302 to /PATH;
  - /cut/PATH: the first request for it sends CUT bytes of PATH and closes the connection;
  - /norange/PATH: PATH, ignoring Range (always 200 and the whole file).
Every request is logged to LOG as "METHOD PATH RANGE".
"""
import http.server
import os
import re
import socket
import sys

ROOT, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
CUT = int(sys.argv[4]) if len(sys.argv) > 4 else 0
cut_done = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        rng = self.headers.get("Range", "-")
        with open(LOG, "a") as log:
            log.write("GET %s %s\n" % (self.path, rng))
        path = self.path
        if path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", path[len("/redirect"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        cut = norange = False
        if path.startswith("/cut/"):
            path, cut = path[len("/cut"):], path not in cut_done
            cut_done.add(self.path)
        elif path.startswith("/norange/"):
            path, norange = path[len("/norange"):], True
        fp = os.path.join(ROOT, path.lstrip("/"))
        if not os.path.isfile(fp):
            self.send_error(404)
            return
        with open(fp, "rb") as f:
            data = f.read()
        m = re.match(r"bytes=(\d+)-$", rng)
        if m and not norange:
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
            body = data[start:]
        else:
            self.send_response(200)
            body = data
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if cut:
            self.wfile.write(body[:CUT])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
