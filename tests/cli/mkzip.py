#!/usr/bin/python3
"""Builds the bundles moo's tests feed it, hostile ones included: mkzip.py KIND OUT."""
import io
import os
import struct
import sys
import tarfile
import zipfile
import zlib

META = b"""framework:
  name: sklearn
  version: "1.2"
  runtime: python3
model:
  name: diabetes
entry_point: train.py
"""
TRAIN = b"print('training')\n"


def info(name, mode=0o100644):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.external_attr = mode << 16
    zi.create_system = 3
    zi.compress_type = zipfile.ZIP_DEFLATED
    return zi


def project(z, top=""):
    z.writestr(info(top + "metadata.yaml"), META)
    z.writestr(info(top + "train.py"), TRAIN)


def bomb(out, gib=1):
    """A valid ZIP whose one entry inflates to `gib` GiB of zeros, built in well under a
    second: one deflated MiB of zeros ending in a full flush is repeated (each copy starts
    from a fresh state), then an empty final block."""
    chunk = bytes(1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    n = 1024 * gib
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(chunk, crc)
    data = piece * n + b"\x03\x00"
    usize = n << 20
    name = b"weights.bin"
    entries = []
    f = io.BytesIO()

    def local(nm, method, crc_, csize, usize_, payload):
        off = f.tell()
        f.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc_, csize,
                            usize_, len(nm), 0) + nm + payload)
        entries.append((nm, method, crc_, csize, usize_, off))

    local(b"metadata.yaml", 0, zlib.crc32(META), len(META), len(META), META)
    local(b"train.py", 0, zlib.crc32(TRAIN), len(TRAIN), len(TRAIN), TRAIN)
    # BOMB_DECLARE: the size the headers claim (declared sizes lie)
    declared = int(os.environ.get("BOMB_DECLARE", usize))
    local(name, 8, crc, len(data), min(declared, 0xFFFFFFFF), data)
    cd = f.tell()
    for nm, method, crc_, csize, usize_, off in entries:
        f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x314, 20, 0, method, 0, 0x21,
                            crc_, csize, usize_, len(nm), 0, 0, 0, 0, 0o100644 << 16, off) + nm)
    end = f.tell()
    f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), end - cd,
                        cd, 0))
    with open(out, "wb") as o:
        o.write(f.getvalue())


def main():
    kind, out = sys.argv[1], sys.argv[2]
    if kind == "bomb":
        return bomb(out)
    if kind == "notzip":
        with open(out, "wb") as f:
            f.write(b"this is not a zip file\n" * 100)
        return
    if kind == "hardlink":
        # ZIP cannot say "hard link"; a tar that does, named .zip, must be refused too
        with tarfile.open(out, "w") as t:
            for nm, data in (("metadata.yaml", META), ("train.py", TRAIN)):
                ti = tarfile.TarInfo(nm)
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            ti = tarfile.TarInfo("link.py")
            ti.type = tarfile.LNKTYPE
            ti.linkname = "/etc/passwd"
            t.addfile(ti)
        return
    if kind == "backslash-local":
        # the central directory says 'lib/x.py', the entry's local header 'lib\x.py':
        # libarchive reads the local one
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            project(z)
            z.writestr(info("lib/x.py"), b"x = 1\n")
        data = bytearray(buf.getvalue())
        at = data.index(b"lib/x.py")
        data[at + 3] = ord("\\")
        with open(out, "wb") as f:
            f.write(data)
        return
    with zipfile.ZipFile(out, "w") as z:
        if kind == "top-folder":
            z.writestr(info("proj/", 0o40755), b"")
            project(z, "proj/")
            z.writestr(info("proj/lib/util.py"), b"x = 1\n")
            return
        if kind == "no-metadata":
            z.writestr(info("train.py"), TRAIN)
            return
        if kind == "bad-metadata":
            z.writestr(info("metadata.yaml"), b"framework: [\n")
            z.writestr(info("train.py"), TRAIN)
            return
        if kind == "missing-entry-point":
            z.writestr(info("metadata.yaml"), META)
            return
        project(z)
        if kind == "valid":
            z.writestr(info("lib/util.py", 0o100755), b"x = 1\n" * 1000)
        elif kind == "slip-dotdot":
            z.writestr(info("../evil.txt"), b"pwned\n")
        elif kind == "slip-deep":
            z.writestr(info("lib/../../evil.txt"), b"pwned\n")
        elif kind == "slip-abs":
            z.writestr(info(os.environ.get("EVIL_ABS", "/tmp/moo-evil.txt")), b"pwned\n")
        elif kind == "backslash":
            z.writestr(info("..\\evil.txt"), b"pwned\n")
        elif kind == "backslash-inner":
            z.writestr(info("lib\\util.py"), b"x = 1\n")
        elif kind == "backslash-drive":
            z.writestr(info("C:\\evil.txt"), b"pwned\n")
        elif kind == "backslash-lead":
            z.writestr(info("\\evil.txt"), b"pwned\n")
        elif kind == "symlink":
            target = os.environ.get("EVIL_DIR", "/tmp")
            z.writestr(info("escape", 0o120777), target.encode())
            z.writestr(info("escape/evil.txt"), b"pwned\n")
        elif kind == "device":
            z.writestr(info("dev", 0o020644), b"")
        elif kind == "fifo":
            z.writestr(info("fifo", 0o010644), b"")
        elif kind == "socket":
            z.writestr(info("sock", 0o140644), b"")
        elif kind == "setuid":
            z.writestr(info("run.sh", 0o104755), b"#!/bin/sh\n")
        elif kind == "duplicate":
            import warnings
            warnings.simplefilter("ignore")
            z.writestr(info("train.py"), b"print('evil twin')\n")
        elif kind == "file-as-dir":
            z.writestr(info("train.py/evil.txt"), b"pwned\n")
        elif kind == "many":
            for i in range(200):
                z.writestr(info("f/%d.txt" % i), b"")
        else:
            sys.exit("unknown kind " + kind)


if __name__ == "__main__":
    main()
