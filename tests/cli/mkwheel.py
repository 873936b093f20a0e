"""Writes a minimal pure-Python wheel (no build step, no index needed): mkwheel.py DIR NAME VERSION."""
import base64, hashlib, os, sys, zipfile

out, name, version = sys.argv[1:4]
files = {
    f"{name}/__init__.py": f"VERSION = {version!r}\n",
    f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    f"{name}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: moo-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = f"{name}-{version}.dist-info/RECORD"
path = os.path.join(out, f"{name}-{version}-py3-none-any.whl")
with zipfile.ZipFile(path, "w") as z:
    lines = []
    for n, text in files.items():
        data = text.encode()
        z.writestr(n, data)
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{n},sha256={h},{len(data)}")
    lines.append(f"{record},,")
    z.writestr(record, "\n".join(lines) + "\n")
print(path)
