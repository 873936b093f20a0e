#!/usr/bin/python3
"""Fixtures for tests/cli/registry.sh: OCI layouts, a token server, misbehaving proxies.

oci.py layout DIR TAG ARCH...     an OCI image layout at DIR holding TAG: one image manifest
                                  for one ARCH, an image index over several ("arm64/v8")
oci.py token PORT KEY CERT ISSUER SERVICE
                                  a Docker token server: GET /token?service=&scope= → an
                                  RS256 JWT with the certificate in x5c, as docker-registry's
                                  'auth: token' expects
oci.py lie PORT UPSTREAM          forwards GETs to UPSTREAM, but sends a wrong
                                  Docker-Content-Digest
oci.py redirect PORT TO TOKEN     a registry front that wants 'Bearer TOKEN' (its own /token
                                  hands it out) and then redirects every /v2/ request to TO
oci.py origin HOST PORT UPSTREAM LOG
                                  forwards GETs to UPSTREAM, appending each request's
                                  Authorization header (or 'none') to LOG

Servers print 'ready' once listening and run until killed.
"""
import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid


def blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}


def image(layout, arch):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        content = ("moo test image for %s\n" % arch).encode()
        info = tarfile.TarInfo("hello-" + arch.replace("/", "-"))
        info.size, info.mtime = len(content), 0
        tar.addfile(info, io.BytesIO(content))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    a, _, variant = arch.partition("/")
    config = {"architecture": a, "os": "linux",
              "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]},
              "config": {"Cmd": ["/hello"]}}
    if variant:
        config["variant"] = variant
    cdesc = blob(layout, json.dumps(config, sort_keys=True).encode())
    ldesc = blob(layout, layer)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": dict(cdesc, mediaType="application/vnd.oci.image.config.v1+json"),
                "layers": [dict(ldesc, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]}
    mdesc = blob(layout, json.dumps(manifest, sort_keys=True).encode())
    platform = {"architecture": a, "os": "linux"}
    if variant:
        platform["variant"] = variant
    return dict(mdesc, mediaType=manifest["mediaType"], platform=platform)


def layout(path, tag, archs):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs = [image(path, a) for a in archs]
    if len(descs) == 1:
        top = descs[0]
        top.pop("platform")
    else:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": descs}
        top = dict(blob(path, json.dumps(index, sort_keys=True).encode()),
                   mediaType=index["mediaType"])
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    idx_path = os.path.join(path, "index.json")
    idx = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(idx_path):
        idx = json.load(open(idx_path))
    idx["manifests"].append(top)
    with open(idx_path, "w") as f:
        json.dump(idx, f)


def serve(host, port, handler):
    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True
    srv = Server((host, port), handler)
    print("ready", flush=True)
    srv.serve_forever()


class Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def forward(self, upstream, digest=None):
        req = urllib.request.Request(upstream + self.path, method=self.command)
        for k in ("Accept",):
            if self.headers.get(k):
                req.add_header(k, self.headers[k])
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, body, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, body, hdrs = e.code, e.read(), e.headers
        out = [(k, v) for k, v in hdrs.items()
               if k.lower() not in ("content-length", "connection", "transfer-encoding")]
        if digest:
            out = [(k, v) for k, v in out if k.lower() != "docker-content-digest"]
            out.append(("Docker-Content-Digest", digest))
        self.reply(status, body if self.command == "GET" else b"", out)


def token_server(port, key, cert, issuer, service):
    import jwt
    der = base64.b64decode("".join(
        l for l in open(cert).read().splitlines() if l and not l.startswith("-----")))
    pem = open(key).read()

    class H(Quiet):
        def do_GET(self):
            from urllib.parse import urlparse, parse_qs
            q = parse_qs(urlparse(self.path).query)
            access = []
            for scope in q.get("scope", []):
                typ, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": typ, "name": name,
                               "actions": [a for a in actions.split(",") if a == "pull"]})
            now = int(time.time())
            claims = {"iss": issuer, "sub": "moo-test", "aud": q.get("service", [service])[0],
                      "exp": now + 300, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex,
                      "access": access}
            tok = jwt.encode(claims, pem, algorithm="RS256",
                             headers={"x5c": [base64.b64encode(der).decode()]})
            self.reply(200, json.dumps({"token": tok, "expires_in": 300}).encode(),
                       [("Content-Type", "application/json")])

    serve("127.0.0.1", port, H)


def lie_server(port, upstream):
    class H(Quiet):
        def do_GET(self):
            self.forward(upstream, digest="sha256:" + "0" * 64)
        do_HEAD = do_GET

    serve("127.0.0.1", port, H)


def redirect_server(port, to, token):
    class H(Quiet):
        def do_GET(self):
            if self.path.startswith("/token"):
                self.reply(200, json.dumps({"token": token}).encode(),
                           [("Content-Type", "application/json")])
            elif self.headers.get("Authorization") != "Bearer " + token:
                self.reply(401, b'{"errors":[]}', [
                    ("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token",'
                     'service="moo-redirect",scope="repository:x:pull"' % port)])
            else:
                self.reply(307, b"", [("Location", to + self.path)])

    serve("127.0.0.1", port, H)


def origin_server(host, port, upstream, log):
    class H(Quiet):
        def do_GET(self):
            with open(log, "a") as f:
                f.write("%s %s\n" % (self.path, self.headers.get("Authorization", "none")))
            self.forward(upstream)

    serve(host, port, H)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "layout":
        layout(args[0], args[1], args[2:])
    elif cmd == "token":
        token_server(int(args[0]), *args[1:5])
    elif cmd == "lie":
        lie_server(int(args[0]), args[1])
    elif cmd == "redirect":
        redirect_server(int(args[0]), args[1], args[2])
    elif cmd == "origin":
        origin_server(args[0], int(args[1]), args[2], args[3])
    else:
        sys.exit("unknown command " + cmd)
