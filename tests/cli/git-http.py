#!/usr/bin/python3
"""A small smart-HTTP git server for tests: basic auth in front of the real `git http-backend`.

usage: git-http.py PORTFILE ROOT USER PASSWORD LOG
Serves the repositories under ROOT at http://127.0.0.1:PORT/<repo>; every request needs
USER:PASSWORD (else 401). Each request is logged to LOG as "METHOD PATH STATUS AUTH" where
AUTH is "none", "ok" or "bad", so tests can count tries. Writes the port to PORTFILE.
"""
import base64
import http.server
import os
import subprocess
import sys

portfile, root, user, password, logfile = sys.argv[1:6]
want = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def note(self, status, auth):
        with open(logfile, "a") as f:
            f.write("%s %s %s %s\n" % (self.command, self.path, status, auth))

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_any(self):
        data = self.body()
        got = self.headers.get("Authorization")
        if got != want:
            self.note(401, "none" if got is None else "bad")
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL="1",
                   REMOTE_USER=user, REMOTE_ADDR="127.0.0.1", PATH_INFO=path,
                   QUERY_STRING=query, REQUEST_METHOD=self.command,
                   CONTENT_TYPE=self.headers.get("Content-Type", ""),
                   CONTENT_LENGTH=str(len(data)), GATEWAY_INTERFACE="CGI/1.1")
        p = subprocess.run(["git", "http-backend"], input=data, env=env,
                           stdout=subprocess.PIPE)
        head, _, rest = p.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, rest = p.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.note(status, "ok")
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)

    do_GET = handle_any
    do_POST = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
