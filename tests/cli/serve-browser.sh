#!/bin/sh
# examples/digits end to end: train, serve the job, upload a PNG of a digit on the page in
# headless Chromium (selenium + chromedriver) and read the digit it shows. The screenshot is
# kept in the build folder (serve-page.png).
. "$MOO_SRC/tests/cli/lib.sh"
export MOO_PYTHON=/usr/bin/python3
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; cleanup_dirs' EXIT
plan 4

expect_exit "moo run examples/digits" 0 "$MOO" run "$MOO_SRC/examples/digits"
job=$(printf '%s\n' "$err" "$out" | sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) succeeded.*/\1/p')
# A picture of a digit as a person would draw it: dark ink on white, 64x64 (the model sees 8x8).
$PY -c '
import sys
from sklearn.datasets import load_digits
from PIL import Image
d = load_digits()
i = 1797 - 5  # a sample of the held-out quarter; its label is printed and asserted
img = Image.frombytes("L", (8, 8), bytes(255 - int(v * 255 / 16) for v in d.images[i].flatten()))
img.resize((64, 64), Image.NEAREST).save(sys.argv[1])
print(d.target[i])' "$T/digit.png" >"$T/digit"
digit=$(cat "$T/digit")
"$MOO" serve "$job" --port 0 --wait-ready >"$T/serve.out" 2>"$T/serve.err" &
SPID=$!
i=0
until [ -s "$T/serve.out" ] || [ $i -gt 600 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -n1 "$T/serve.out")
contains "moo serve JOB prints its URL once ready" "$URL" "http://127.0.0.1:"
expect_exit "moo predict JOB digit.png" 0 "$MOO" predict "$job" "$T/digit.png"
check "the page in Chromium: upload digit.png, see $digit" \
	$PY "$MOO_SRC/tests/cli/serve_page.py" "$URL" "$T/digit.png" "$digit" "$MOO_BUILD/serve-page.png"
done_testing
