#!/bin/sh
# Bundles by URL, against a real HTTP server on loopback (tests/cli/httpd.py): redirects,
# a transfer cut half way and resumed with a Range request, sha256 checks, failures.
. "$MOO_SRC/tests/cli/lib.sh"
plan 24

mkdir -p "$T/www" "$T/tmp"
export TMPDIR="$T/tmp"
$PY "$MOO_SRC/tests/cli/mkzip.py" valid "$T/www/model.zip"
$PY -c 'import os,sys; sys.stdout.buffer.write(os.urandom(3 << 20))' >"$T/blob"
# a bundle big enough to cut: the valid one plus 3 MiB of stored random data
$PY - "$T/www/model.zip" "$T/www/big.zip" "$T/blob" <<'PYEOF'
import shutil, sys, zipfile
shutil.copy(sys.argv[1], sys.argv[2])
with zipfile.ZipFile(sys.argv[2], "a") as z:
    z.write(sys.argv[3], "data/blob.bin", compress_type=zipfile.ZIP_STORED)
PYEOF
$PY "$MOO_SRC/tests/cli/mkzip.py" slip-dotdot "$T/www/evil.zip"
sha=$(sha256sum "$T/www/model.zip" | cut -d' ' -f1)
big_sha=$(sha256sum "$T/www/big.zip" | cut -d' ' -f1)
half=$(( $(wc -c <"$T/www/big.zip") / 2 ))

$PY "$MOO_SRC/tests/cli/httpd.py" "$T/www" "$T/port" "$T/http.log" "$half" &
srv=$!
trap 'kill $srv 2>/dev/null; cleanup_dirs' EXIT
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
port=$(cat "$T/port")
U=http://127.0.0.1:$port

no_temp() {
	if [ -z "$(ls -A "$T/tmp")" ]; then ok "$1: no temporary file left"; else not_ok "$1: no temporary file left" "$(ls -AR "$T/tmp")"; fi
}

expect_exit "a URL to a ZIP opens" 0 "$MOO" inspect "$U/model.zip"
contains "with the sha256 of the bytes served" "$out" "sha256      $sha"
contains "and its spec" "$out" "entry point train.py"
no_temp "after a success"
expect_exit "a redirect is followed" 0 "$MOO" inspect "$U/redirect/model.zip"
contains "to the same bundle" "$out" "sha256      $sha"
expect_exit "the right --sha256 is accepted" 0 "$MOO" inspect --sha256 "$sha" "$U/model.zip"
expect_exit "a wrong --sha256 is refused with exit 3" 3 "$MOO" inspect --sha256 "$big_sha" "$U/model.zip"
contains "saying both" "$err" "sha256 mismatch: expected $big_sha, got $sha"
no_temp "after a wrong sha256"
expect_exit "a --sha256 that is not one is a usage error" 2 "$MOO" inspect --sha256 abc "$U/model.zip"

: >"$T/http.log"
expect_exit "a transfer cut half way is resumed" 0 "$MOO" inspect --sha256 "$big_sha" --json "$U/cut/big.zip"
check "and the bundle is whole" $PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["sha256"] == sys.argv[2], d
assert {"path": "data/blob.bin", "size": 3 << 20, "dir": False, "exec": False} in d["files"], d["files"]' "$out" "$big_sha"
log=$(cat "$T/http.log")
contains "the first request asked for everything" "$log" "GET /cut/big.zip -"
contains "the second resumed where the cut was" "$log" "GET /cut/big.zip bytes=$half-"
no_temp "after a resumed transfer"
expect_exit "a server that ignores Range still gives the whole bundle" 0 "$MOO" inspect --sha256 "$big_sha" "$U/norange/big.zip"

expect_exit "a 404 exits 4" 4 "$MOO" inspect "$U/missing.zip"
contains "naming the URL and the status" "$err" "cannot download '$U/missing.zip'"
no_temp "after a 404"
# a port nothing listens on: take one from the OS, close it, use it
dead=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
expect_exit "a refused connection exits 4" 4 "$MOO" inspect "http://127.0.0.1:$dead/model.zip"
expect_exit "a hostile bundle by URL exits 3" 3 "$MOO" inspect "$U/evil.zip"
contains "naming the entry" "$err" "entry '../evil.txt' refused"
no_temp "after a hostile bundle"
done_testing
