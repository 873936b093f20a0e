#!/usr/bin/python3
"""A small smart-HTTP git server for tests: basic auth in front of the real `git http-backend`.

usage: git-http.py PORTFILE ROOT USER PASSWORD LOG
Serves the repositories under ROOT at http://127.0.0.1:PORT/<repo>; every request needs
USER:PASSWORD (else 401). Each request is logged to LOG as "METHOD PATH STATUS AUTH" where
AUTH is "none", "ok" or "bad", so tests can count tries. Writes the port to PORTFILE.

It is also a small Git LFS server of its own (no LFS server is packaged in Debian 12: its
git-lfs is a client only): the batch API at <repo>/info/lfs/objects/batch (basic auth as
above) answers with "basic" transfer actions for the objects ROOT/<repo>/lfs/objects lacks,
whose hrefs (/lfs-object/<repo>/<oid>, /lfs-verify/<repo>) take only the bearer token of
the action's header. A PUT checks the bytes against oid and size; while a file
ROOT/lfs-refuse exists every PUT is refused with 403.
"""
import base64
import hashlib
import http.server
import json
import os
import re
import secrets
import subprocess
import sys

portfile, root, user, password, logfile = sys.argv[1:6]
want = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
token = "Bearer " + secrets.token_hex(16)
LFS_JSON = "application/vnd.git-lfs+json"


def object_path(repo, oid):
    return os.path.join(root, repo, "lfs", "objects", oid[:2], oid[2:4], oid)


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

    def reply(self, status, body=b"", ctype=LFS_JSON):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def lfs_batch(self, repo, data):
        req = json.loads(data)
        base = "http://127.0.0.1:%d" % self.server.server_address[1]
        hdr = {"Authorization": token}
        out = []
        for o in req["objects"]:
            oid, size = o["oid"], o["size"]
            if not re.fullmatch("[0-9a-f]{64}", oid):
                out.append({"oid": oid, "size": size, "error": {"code": 422, "message": "bad oid"}})
                continue
            have = os.path.isfile(object_path(repo, oid)) and os.path.getsize(object_path(repo, oid)) == size
            href = "%s/lfs-object/%s/%s" % (base, repo, oid)
            x = {"oid": oid, "size": size, "authenticated": True}
            if req["operation"] == "upload" and not have:
                x["actions"] = {"upload": {"href": href, "header": hdr},
                                "verify": {"href": "%s/lfs-verify/%s" % (base, repo), "header": hdr}}
            elif req["operation"] == "download":
                if have:
                    x["actions"] = {"download": {"href": href, "header": hdr}}
                else:
                    x["error"] = {"code": 404, "message": "object not found"}
            out.append(x)
        self.note(200, "ok")
        self.reply(200, {"transfer": "basic", "objects": out})

    def lfs_object(self, data):
        m = re.fullmatch(r"/lfs-(object|verify)/([A-Za-z0-9_.-]+)(?:/([0-9a-f]{64}))?", self.path)
        if not m or self.headers.get("Authorization") != token:
            self.note(401, "bad")
            return self.reply(401, {"message": "bad token"})
        kind, repo, oid = m.groups()
        if kind == "verify":
            v = json.loads(data)
            p = object_path(repo, v["oid"])
            ok = os.path.isfile(p) and os.path.getsize(p) == v["size"]
            self.note(200 if ok else 404, "ok")
            return self.reply(200 if ok else 404, {} if ok else {"message": "not found"})
        p = object_path(repo, oid)
        if self.command == "GET":
            body = open(p, "rb").read() if os.path.isfile(p) else None
            self.note(200 if body is not None else 404, "ok")
            if body is None:
                return self.reply(404, {"message": "not found"})
            return self.reply(200, body, "application/octet-stream")
        if os.path.exists(os.path.join(root, "lfs-refuse")):
            self.note(403, "ok")
            return self.reply(403, {"message": "quota exceeded"})
        if hashlib.sha256(data).hexdigest() != oid:
            self.note(422, "ok")
            return self.reply(422, {"message": "content does not match oid"})
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
        self.note(200, "ok")
        self.reply(200)

    def handle_any(self):
        data = self.body()
        if self.path.startswith("/lfs-object/") or self.path.startswith("/lfs-verify/"):
            return self.lfs_object(data)
        got = self.headers.get("Authorization")
        if got != want:
            self.note(401, "none" if got is None else "bad")
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        m = re.fullmatch(r"/([A-Za-z0-9_.-]+)/info/lfs/objects/batch", path)
        if m and self.command == "POST":
            return self.lfs_batch(m.group(1), data)
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
    do_PUT = handle_any


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
