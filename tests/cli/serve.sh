#!/bin/sh
# moo serve and moo predict against real clients (curl, Python's urllib, raw sockets):
# protocols, the predictor contract, workers that fail, bad and heavy traffic, batching.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/cli/serve-lib.sh"
trap 'stop_serve; cleanup_dirs' EXIT

plan 80

# ---- a model that loads slowly: live at once, ready after load() ---------------------------
cp -r "$FX/echo" "$T/echo"
mkdir -p "$T/echo/training_result" && echo 3 >"$T/echo/training_result/slow-load"
start_serve echo "$T/echo" --workers 2
case $URL in
http://127.0.0.1:[0-9]*) ok "serve prints its URL, on 127.0.0.1 by default" ;;
*) not_ok "serve prints its URL, on 127.0.0.1 by default" "$URL $(cat "$T/echo.err")" ;;
esac
req GET /v2/health/live
contains "live answers 200 while load() runs" "$code $body" '200 {"live":true}'
req GET /v2/health/ready
contains "ready answers 503 while load() runs" "$code $body" '503 {"ready":false'
contains "... with Retry-After: it will pass" "$(cat "$T/h")" 'Retry-After: 1'
req GET /ping
contains "SageMaker /ping is 503 while loading" "$code" 503
wait_ready
req GET /v2/health/ready
contains "ready answers 200 once load() is done" "$code $body" '200 {"ready":true}'
req GET /ping
contains "SageMaker /ping is 200 once loaded" "$code" 200

# ---- MLflow / SageMaker scoring ---------------------------------------------------------------
J='-H Content-Type:application/json'
req POST /invocations $J -d '{"instances": [[1, 2], [3, 4]]}'
contains "instances reach predict()" "$code $body" '200 {"predictions": [[1, 2], [3, 4]]'
req POST /invocations $J -d '{"inputs": [[5, 6]]}'
contains "MLflow inputs reach predict() as instances" "$code $body" '200 {"predictions": [[5, 6]]'
req POST /invocations $J -d '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}'
contains "MLflow dataframe_split" "$code $body" '{"predictions": [[1, 2]], "columns": ["a", "b"]'
req POST /invocations $J -d '{"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}'
contains "MLflow dataframe_records" "$code $body" '{"predictions": [[1, 2], [3, 4]], "columns": ["a", "b"]'
req POST /invocations -H 'Content-Type: text/csv' --data-binary "$(printf 'a,b\n1,2\n3.5,4\n')"
contains "CSV with a header line" "$code $body" '200 {"predictions": [[1.0, 2.0], [3.5, 4.0]]'
req POST /invocations -H 'Content-Type: image/png' --data-binary 'PNGDATA'
contains "other types reach predict() as bytes" "$code $body" '"size": 7, "content_type": "image/png"'
# curl -F: a file in a multipart/form-data body (binary, with CRLFs and a boundary-like line)
head -c 65536 /dev/urandom >"$T/up.png" && printf '\r\n--x\r\n\r\n' >>"$T/up.png"
req POST /invocations -F "file=@$T/up.png" -F note=hello
contains "curl -F file=@PATH: predict() gets the file's bytes, type, name and the other fields" "$code $body" "200 {\"size\": $(stat -c %s "$T/up.png"), \"content_type\": \"image/png\", \"sha256\": \"$(sha256sum "$T/up.png" | cut -d' ' -f1)\", \"filename\": \"up.png\", \"fields\": {\"note\": \"hello\"}}"
printf '{"instances": [[5, 6]]}' >"$T/in.json"
req POST /invocations -F "file=@$T/in.json;type=application/json"
contains "... a JSON file is read as a JSON body" "$code $body" '200 {"predictions": [[5, 6]]'
req POST /invocations -F note=hello
contains "... a form with no file is 400, saying how to send one" "$code $body" "400 {\"error\": \"the multipart/form-data body holds no file: send one with -F 'file=@PATH'\"}"
check "Python urllib: a request, X-Request-Id echoed" $PY "$CLIENT" urllib "$URL"
req POST /invocations $J -H 'X-Request-Id: trace-42' -d '{"instances": [1]}'
contains "X-Request-Id echoed (curl)" "$(cat "$T/h")" 'X-Request-Id: trace-42'
req POST /invocations $J -d '{"instances": [1'
contains "malformed JSON is 400 with an error" "$code $body" '400 {"error": "malformed JSON'
req POST /invocations -H "$(printf 'Content-Type: text/plain\377"')" -H "$(printf 'X-Request-Id: \377\\')" -d '{"instances": [9]}'
code1=$code
req GET "/%ff%22" # bytes that are not UTF-8 in a header and the path: answered, moo lives on
contains "bytes that are not UTF-8 in Content-Type, X-Request-Id and the path get answers" "$code1 $code $body" \
	'200 404 {"error":"no such path '"'"'/\ufffd\"'"'"'"}'

# ---- Open Inference Protocol v2, the KServe protocol document's examples ------------------------
req GET /v2
contains "server metadata" "$code $body" '200 {"name":"moo","version"'
req GET /v2/models/echo
contains "model metadata" "$code $body" '200 {"name":"echo","versions":["3"],"platform":"moo-python","inputs":[],"outputs"'
req GET /v2/models/echo/ready
contains "model ready" "$code" 200
# The document's inference request, verbatim (docs/modelserving/data_plane/v2_protocol.md).
req POST /v2/models/echo/infer $J -d '{
  "id" : "42",
  "inputs" : [
    {
      "name" : "input0",
      "shape" : [ 2, 2 ],
      "datatype" : "UINT32",
      "data" : [ 1, 2, 3, 4 ]
    },
    {
      "name" : "input1",
      "shape" : [ 3 ],
      "datatype" : "BOOL",
      "data" : [ true ]
    }
  ],
  "outputs" : [
    {
      "name" : "output0"
    }
  ]
}'
contains "OIP infer checks every tensor's shape against its data" "$code $body" '400 {"error": "input '"'input1'"': shape [3] holds 3 values, data has 1"}'
req POST /v2/models/echo/infer $J -d '{"id": "42", "inputs": [{"name": "input0", "shape": [2, 2], "datatype": "UINT32", "data": [1, 2, 3, 4]}, {"name": "input1", "shape": [3], "datatype": "BOOL", "data": [true, false, true]}], "outputs": [{"name": "output0"}]}'
contains "OIP infer: the first input reshaped reaches predict(), outputs as tensors" "$code $body" '200 {"model_name": "echo", "outputs": [{"name": "predictions", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3, 4]}], "id": "42"}'
req POST /v2/models/nosuch/infer $J -d '{}'
contains "an unknown model is 404 with an error" "$code $body" "404 {\"error\":\"no model 'nosuch' here"
req POST /v2/models/echo/infer $J -d '{"inputs": 3}'
contains "an inference request without inputs is 400" "$code $body" '400 {"error": "an inference request needs'
req GET /openapi.json
if [ "$code" = 200 ] && printf '%s' "$body" | jq "all(p in d['paths'] for p in ['/v2/health/live', '/v2/health/ready', '/v2/models/echo/infer', '/ping', '/invocations', '/'])" | grep -qx True; then
	ok "/openapi.json describes every path"
else
	not_ok "/openapi.json describes every path" "$code $body"
fi
req GET /
contains "/ is the page" "$code $body" '200 <!doctype html>'

# ---- workers fail safely ------------------------------------------------------------------------
req POST /invocations $J -d '{"raise": "bad input x"}'
contains "an exception in predict is a 500 naming it" "$code $body" '500 {"error": "predict failed: ValueError: bad input x"}'
contains "its traceback is in moo's output" "$(cat "$T/echo.err")" 'ValueError: bad input x'
req POST /invocations $J -d '{"raise": "Expected 2D array, got 1D array instead:\narray=[].\nReshape your data"}'
contains "an exception of several lines: its type and first line" "$code $body" '500 {"error": "predict failed: ValueError: Expected 2D array, got 1D array instead: ..."}'
req POST /invocations -H 'Content-Type: text/csv' --data-binary ''
contains "an empty CSV body is 400" "$code $body" '400 {"error": "the CSV body holds no rows"}'
req POST /invocations $J -d '{"instances": [9]}'
contains "the worker lives on" "$code" 200
check "workers killed mid-request: 5xx JSON, then a restarted worker answers" $PY "$CLIENT" kill "$URL" "$SPID"
stop_serve
start_serve quick "$FX/echo" --workers 1
wait_ready
check "quick predicts: answered at once one after another, each its own when many at once" $PY "$CLIENT" quick "$URL"
stop_serve

# ---- bad and heavy traffic ---------------------------------------------------------------------
start_serve small "$FX/echo" --max-body 1K --timeout 2 --workers 1 --queue-max 2
wait_ready
req POST /invocations $J --data-binary "{\"instances\": \"$(head -c 2000 /dev/zero | tr '\0' x)\"}"
contains "a body over --max-body is 413 with an error" "$code $body" '413 {"error":"the body of'
check "a client that sends too slowly gets 408 while others are served" $PY "$CLIENT" slow "$URL"
check "a full queue is 503 with Retry-After" $PY "$CLIENT" queue "$URL"
stop_serve

mkdir -p "$T/spool"
TMPDIR_WAS=${TMPDIR:-}
export TMPDIR="$T/spool" # where moo makes its spool folder
start_serve big "$FX/echo" --max-body 2G
TMPDIR=$TMPDIR_WAS
wait_ready
check "a 1 GiB upload is spooled: moo's RSS stays under 100 MiB" $PY "$CLIENT" rss "$URL" "$SPID" 1073741824
# 256 MiB in a multipart/form-data body (curl -F): the worker passes the file on as a
# body_file of its own, its peak RSS far below the file's size, and removes it once answered
head -c 268435456 /dev/urandom >"$T/big.bin" && printf '\r\n--x\r\n\r\n' >>"$T/big.bin"
req POST /invocations -F "file=@$T/big.bin;type=application/octet-stream" -F note=big
if [ "$code" = 200 ] && $PY - "$T/body" "$(stat -c %s "$T/big.bin")" "$(sha256sum "$T/big.bin" | cut -d' ' -f1)" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["size"] == int(sys.argv[2]) and d["sha256"] == sys.argv[3], d
assert d["filename"] == "big.bin" and d["fields"] == {"note": "big"}, d
assert d["content_type"] == "application/octet-stream", d
assert d["peak_rss_kib"] < 64 * 1024, d
PYEOF
then ok "curl -F of 256 MiB: predict() gets the exact file as body_file, the worker's RSS under 64 MiB"
else not_ok "curl -F of 256 MiB" "$code $body"; fi
rm -f "$T/big.bin"
check "... and the file it made for it is gone once answered" sh -c "! ls '$T/spool'/moo-serve-*/*.part 2>/dev/null | grep -q ."
check "... in the spool folder moo made for itself" sh -c "ls -d '$T/spool'/moo-serve-* | grep -q ."
stop_serve
check "... which goes when moo serve stops" sh -c "! ls -d '$T/spool'/moo-serve-* 2>/dev/null | grep -q ."

# ---- dynamic batching ---------------------------------------------------------------------------
start_serve batch "$FX/batch" --workers 2 --batch-max 8 --batch-wait-ms 20
wait_ready
check "predict_batch gets batches under load (--batch-max 8)" $PY "$CLIENT" batch "$URL"
sed -n 's/^batch sizes/# batch sizes/p' "$T/.out" 2>/dev/null
$PY "$CLIENT" batch "$URL" | sed 's/^/# /'

# ---- moo predict URL -------------------------------------------------------------------------------
expect_exit "moo predict URL -d: the answer, exit 0" 0 "$MOO" predict "$URL" -d '{"instances": [[1]]}'
contains "moo predict prints the answer" "$out" '"predictions": [[1]]'
expect_exit "moo predict URL: an error answer exits 1" 1 "$MOO" predict "$URL" -d '{"instances": [1'
contains "moo predict names the error" "$err" 'HTTP 400: malformed JSON'
expect_exit "moo predict --json URL -d: exit 0" 0 "$MOO" predict --json "$URL" -d '{"instances": [[2]]}'
[ "$(printf '%s' "$out" | $PY -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; print(r["input"], r["status"], r["answer"]["predictions"])')" = "-d 200 [[2]]" ] &&
	ok "... its input labelled -d, with status and answer" || not_ok "... input labelled -d" "$out"
stop_serve
expect_exit "moo predict of a file that is not there: exit 6" 6 "$MOO" predict "$URL" "$T/no-such.json"
contains "... saying why" "$err" "cannot open '$T/no-such.json': No such file or directory"
expect_exit "moo predict --json URL with nothing answering: exit 4" 4 "$MOO" predict --json "$URL" -d '{}'
check "and the failure as moo(1) JSON has it: one {\"error\": …} document" sh -c "printf '%s' \"\$1\" |
	$PY -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (list(d) == [\"error\", \"errors\"] and d[\"errors\"][0] == d[\"error\"] and d[\"error\"][\"code\"] == \"network\"))'" - "$out"

# ---- a job: served from its result in the environment it ran in ----------------------------------
"$MOO" run "$MOO_SRC/examples/sklearn-diabetes" >"$T/run.out" 2>&1
job=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) succeeded.*/\1/p' "$T/run.out")
X='[[0.038, 0.05, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.02, -0.018]]'
expect_exit "moo predict JOB -d: the trained model answers" 0 "$MOO" predict "$job" -d "{\"instances\": $X}"
contains "moo predict JOB prints a prediction" "$out" '{"predictions": [1'
start_serve job "$job" --wait-ready
req POST /v2/models/sklearn-diabetes/infer $J -d "{\"inputs\": [{\"name\": \"x\", \"shape\": [1, 10], \"datatype\": \"FP64\", \"data\": $X}]}"
contains "moo serve JOB: OIP infer on the trained model" "$code $body" '200 {"model_name": "sklearn-diabetes", "outputs": [{"name": "predictions", "shape": [1], "datatype": "FP64"'
stop_serve
# moo-serve(1)'s example, as written there (its job id this job's)
ex=$(sed -n 's/^moo \(serve --port 0 --wait-ready .*\) &.*/\1/p' "$MOO_SRC/man/moo-serve.1.scd" | sed "s/moo-job-hqx9uo/$job/")
"$MOO" $ex >"$T/ex.out" 2>"$T/ex.err" &
SPID=$!
i=0
until [ -s "$T/ex.out" ] || ! kill -0 "$SPID" 2>/dev/null || [ $i -gt 600 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -n1 "$T/ex.out")
req POST /invocations $J -d "{\"instances\": $X}"
contains "moo-serve(1)'s example of --wait-ready --workers 4 serves a job as written" "$code $body" '200 {"predictions": [1'
stop_serve

# ---- a ZIP bundle; usage errors --------------------------------------------------------------------
"$MOO" pack "$FX/echo" -o "$T/echo.zip" >/dev/null 2>&1
export TMPDIR="$T/tmp" # the extracted bundles, to see them go
mkdir -p "$TMPDIR"
start_serve killed "$T/echo.zip" --wait-ready
killed=$(ls -d "$TMPDIR"/moo-serve-*/model 2>/dev/null)
kill -KILL "$SPID" && wait "$SPID" 2>/dev/null
SPID=
start_serve zip "$T/echo.zip" --wait-ready
expect_exit "moo serve ZIP: served from the extracted bundle" 0 "$MOO" predict "$URL" -d '{"instances": [4]}'
contains "its answer" "$out" '{"predictions": [4]'
check "a moo serve ZIP killed by SIGKILL: the next moo removes its folder" \
	sh -c "[ -n '$killed' ] && [ ! -e '$(dirname "${killed:-.}")' ]"
stop_serve
check "... and moo serve removes its own when it stops" sh -c "! ls -d '$TMPDIR'/moo-serve-* 2>/dev/null"
expect_exit "--max-body that is not a size is a usage error" 2 "$MOO" serve "$FX/echo" --max-body 12Q
expect_exit "--queue-max 0 is a usage error, not the default" 2 "$MOO" serve "$FX/echo" --queue-max 0
expect_exit "a folder whose spec has no inference.entry_point is refused (exit 3)" 3 "$MOO" serve "$MOO_SRC/examples/fails"
"$MOO" pack "$MOO_SRC/examples/fails" -o "$T/big.zip" >/dev/null 2>&1
expect_exit "so is a ZIP's (exit 3)" 3 sh -c 'cd "$1" && exec "$2" serve big.zip --port 0' - "$T" "$MOO"
contains "... naming the ZIP, not the folder moo extracted it to" "$err" "error: 'big.zip/metadata.yaml' names no inference.entry_point"

# ---- a job with no result; a folder never trained ---------------------------------------
"$MOO" run "$MOO_SRC/examples/fails" >"$T/fails.out" 2>&1
fjob=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) failed.*/\1/p' "$T/fails.out")
expect_exit "moo serve of a failed job: exit 1" 1 "$MOO" serve "$fjob" --port 0
contains "... saying it failed, the hint naming its log" "$err" "job '$fjob' has no result to serve: it failed
hint: see why in 'moo logs $fjob'"
expect_exit "moo predict of a failed job: exit 1" 1 "$MOO" predict "$fjob" -d '{}'
contains "... saying it failed, the hint naming its log" "$err" "job '$fjob' has no result to serve: it failed
hint: see why in 'moo logs $fjob'"
cp -r "$MOO_SRC/examples/sklearn-diabetes" "$T/diabetes" && rm -rf "$T/diabetes/training_result"
expect_exit "moo serve --wait-ready of a folder never trained: exit 1" 1 "$MOO" serve "$T/diabetes" --port 0 --wait-ready
contains "... the hint says it holds no training_result/ and to train it" "$err" "hint: '$T/diabetes' holds no training_result/, so load() was given the folder itself: train it first ('moo run $T/diabetes')"

# ---- a load() that fails ------------------------------------------------------------------------
expect_exit "--wait-ready exits 1 when load() fails" 1 "$MOO" serve "$FX/badload" --port 0 --wait-ready
contains "moo's output has load()'s last traceback line" "$err" 'load() failed: RuntimeError: weights missing: model.bin'
start_serve badload "$FX/badload"
i=0
until grep -q 'load() failed' "$T/badload.err" || [ $i -gt 300 ]; do sleep 0.1; i=$((i + 1)); done
req GET /v2/health/ready
contains "ready shows load()'s error" "$code $body" '503 {"ready":false,"error":"RuntimeError: weights missing: model.bin"}'
check "... without Retry-After: load() is not retried" sh -c "! grep -qi '^Retry-After' '$T/h'"
req POST /invocations $J -d '{"instances": [1]}'
contains "a request is 503 saying the model failed to load for good" "$code $body" '503 {"error":"load() failed: RuntimeError: weights missing: model.bin; the model is not served (load() is not retried): fix it and serve again"}'
check "... without Retry-After" sh -c "! grep -qi '^Retry-After' '$T/h'"
stop_serve
done_testing
