#!/bin/sh
# moo serve against FastAPI on uvicorn (uvloop + httptools: what pip install "uvicorn[standard]"
# gives) and Flask under gunicorn, side by side in one run, the same predictor behind each.
#   bench/serve.sh [MOO] [SECONDS] [ROUNDS]   (build/cli/moo, 5 s per run, 3 rounds)
#   BENCH_ONLY=echo|np|mlp|forest runs one of the four sets below.
# 2 workers each, wrk -t2 -c32, POST of a small JSON body. Prints req/s, p50 and p99 of each
# and the ratios against uvicorn, for four predictors:
#   echo  returns its input: HTTP alone (goals: >= 1.5x uvicorn's req/s, <= 0.5x its p99);
#   np    a 64x10 numpy matmul, ~2 us a call: still HTTP-bound, batching has nothing to save;
#   mlp   a small real model, scikit-learn's MLPClassifier 64-256-256-10 (~80 us a call of
#         one row, ~40 us a row in a call of 8), so that batching has something to save
#         (goal: >= 3x uvicorn's req/s);
#   forest  a plain numpy random forest, 100 trees of depth 8 over 64 features, 10 classes
#         (the shape of scikit-learn's RandomForestClassifier(100, max_depth=8)), predicted as
#         scikit-learn predicts a forest: tree by tree, all rows at once. A call costs 2.64 ms
#         for 1 row, 2.80 ms for 8, 2.90 ms for 32 (a micro-benchmark, best of 5, on the
#         2-core machine at load 0.3): its cost is the call's, not the rows'
#         (goal: >= 3x uvicorn's req/s).
# moo serves np, mlp and forest with predict_batch, --batch-max 8 --batch-wait-ms 2; FastAPI
# and Flask call predict() once a request, as their users would (they have no batching).
# Only the forest set shows what batching gives: it is a model whose call costs far more
# than its rows. echo and np are HTTP-bound and mlp half per-row cost; all are reported.
# A dense numpy net (784-1024-1024-10 float32, the MNIST-sized MLP) does not make that case
# here: Debian's numpy on the reference BLAS computes row by row (0.60 ms for 1 row, 4.65 ms
# for 8), and on OpenBLAS 0.3.21 one row goes by gemv and 8 by gemm, which copies (packs) the
# weights on every call (0.12 against 0.71 ms; same micro-benchmark, same load).
set -eu
MOO=${1:-build/cli/moo}
D=${2:-5}
ROUNDS=${3:-3}
PY=/usr/bin/python3
case $MOO in /*) ;; *) MOO=$PWD/$MOO ;; esac
T=$(mktemp -d)
PIDS=
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.3; rm -rf "$T"' EXIT
export MOO_HOME="$T/home" MOO_ROOT="$T/root" XDG_DATA_HOME="$T/data" MOO_PYTHON="$PY"

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir "$T/echo" "$T/np" "$T/mlp" "$T/forest"
cat >"$T/echo/predict.py" <<'EOT'
def load(model_dir):
    return None


def predict(model, request):
    return {"predictions": request["instances"]}
EOT
cat >"$T/np/predict.py" <<'EOT'
import numpy as np

W = np.random.default_rng(0).standard_normal((64, 10))


def load(model_dir):
    return W


def predict(model, request):
    return {"predictions": (np.asarray(request["instances"], dtype=float) @ model).argmax(1).tolist()}


def predict_batch(model, requests):
    rows = [np.asarray(r["instances"], dtype=float) for r in requests]
    out = (np.concatenate(rows) @ model).argmax(1).tolist()
    res, i = [], 0
    for r in rows:
        res.append({"predictions": out[i:i + len(r)]})
        i += len(r)
    return res
EOT
cat >"$T/mlp/predict.py" <<'EOT'
import pickle

import numpy as np


def load(model_dir):
    with open(model_dir + "/model.pkl", "rb") as f:
        return pickle.load(f)


def predict(model, request):
    return {"predictions": model.predict(np.asarray(request["instances"], dtype=float)).tolist()}


def predict_batch(model, requests):
    rows = [np.asarray(r["instances"], dtype=float) for r in requests]
    out = model.predict(np.concatenate(rows)).tolist()
    res, i = [], 0
    for r in rows:
        res.append({"predictions": out[i:i + len(r)]})
        i += len(r)
    return res
EOT
cat >"$T/forest/predict.py" <<'EOT'
import numpy as np

# A random forest of 100 trees of depth 8 over 64 features and 10 classes (the shape of
# scikit-learn's RandomForestClassifier(100, max_depth=8)), as arrays: tree t's node i
# (heap order) tests x[FEAT[t, i]] > THR[t, i]; its leaf j holds class probabilities.
TREES, DEPTH, FEATURES, CLASSES = 100, 8, 64, 10
_rng = np.random.default_rng(0)
FEAT = _rng.integers(0, FEATURES, (TREES, 2**DEPTH - 1))
THR = _rng.standard_normal((TREES, 2**DEPTH - 1))
LEAF = _rng.dirichlet(np.ones(CLASSES), (TREES, 2**DEPTH))


def load(model_dir):
    return FEAT, THR, LEAF


def _forest(model, x):
    # As scikit-learn predicts a forest: tree by tree, each descended by all rows at once
    feat, thr, leaf = model
    rows = np.arange(len(x))
    proba = np.zeros((len(x), CLASSES))
    for t in range(TREES):
        f, h, node = feat[t], thr[t], np.zeros(len(x), dtype=np.intp)
        for _ in range(DEPTH):
            node = 2 * node + 1 + (x[rows, f[node]] > h[node])
        proba += leaf[t, node - (2**DEPTH - 1)]
    return proba.argmax(1)


def predict(model, request):
    return {"predictions": _forest(model, np.asarray(request["instances"], dtype=float)).tolist()}


def predict_batch(model, requests):
    rows = [np.asarray(r["instances"], dtype=float) for r in requests]
    out = _forest(model, np.concatenate(rows)).tolist()
    res, i = [], 0
    for r in rows:
        res.append({"predictions": out[i:i + len(r)]})
        i += len(r)
    return res
EOT
# A small real model: scikit-learn's MLPClassifier, 64 -> 256 -> 256 -> 10, trained (one
# epoch) on random data and pickled; every server loads the same file.
SK=1
$PY -c 'import sklearn' 2>/dev/null || { SK=; echo "bench: no scikit-learn here (python3-sklearn): the MLP set is skipped" >&2; }
[ -z "$SK" ] || $PY - "$T/mlp/model.pkl" <<'EOT'
import pickle, sys, warnings
import numpy as np
from sklearn.neural_network import MLPClassifier
warnings.filterwarnings("ignore")
x = np.random.default_rng(0).standard_normal((1000, 64))
m = MLPClassifier((256, 256), random_state=0).partial_fit(x, x[:, :10].argmax(1), classes=list(range(10)))
with open(sys.argv[1], "wb") as f:
    pickle.dump(m, f)
EOT
for m in echo np mlp forest; do
	cat >"$T/$m/metadata.yaml" <<EOT
framework: {name: sklearn, version: "1.2", runtime: python3}
model: {name: $m}
entry_point: predict.py
inference: {entry_point: predict.py}
EOT
	cat >"$T/$m/app_fastapi.py" <<'EOT'
from fastapi import FastAPI, Request
import predict as p

app = FastAPI()
model = p.load(".")


@app.post("/invocations")
async def invocations(req: Request):
    return p.predict(model, await req.json())
EOT
	cat >"$T/$m/app_flask.py" <<'EOT'
from flask import Flask, request, jsonify
import predict as p

app = Flask(__name__)
model = p.load(".")


@app.post("/invocations")
def invocations():
    return jsonify(p.predict(model, request.get_json(force=True)))
EOT
done

echo '{"instances": [[1.0, 2.0, 3.0, 4.0]]}' >"$T/echo/body.json"
$PY -c 'import json; print(json.dumps({"instances": [[float(i % 17) for i in range(64)]]}))' >"$T/np/body.json"
cp "$T/np/body.json" "$T/mlp/body.json"
cp "$T/np/body.json" "$T/forest/body.json"

# wait_up URL: until a POST answers 200
wait_up() {
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d @"$2" "$1/invocations")" = 200 ]; do
		sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || { echo "bench: $1 never answered" >&2; exit 1; }
	done
}

# bench NAME URL BODY: one wrk run; appends "NAME rps p50_ms p99_ms" to $T/results
bench() {
	cat >"$T/post.lua" <<EOT
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[$(cat "$3")]==]
EOT
	wait_up "$2" "$3"
	[ "$r" -gt 0 ] || wrk -t2 -c32 -d2s -s "$T/post.lua" "$2/invocations" >/dev/null 2>&1 # warm-up
	wrk -t2 -c32 -d"${D}s" --latency -s "$T/post.lua" "$2/invocations" >"$T/wrk.out" 2>&1
	$PY - "$1" "$T/wrk.out" >>"$T/results" <<'EOT'
import re, sys
t = open(sys.argv[2]).read()
def ms(s):
    v, u = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 0.001, "ms": 1, "s": 1000}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(sys.argv[1], rps, p50, p99, errs.group(1) if errs else 0)
EOT
}

stop_all() { for p in $PIDS; do kill $p 2>/dev/null; done; sleep 0.5; PIDS=; }

# settle: until the servers' processes (this script's descendants) are idle, so that no
# server is measured while another's workers still import their model (up to 30 s)
settle() {
	$PY - $$ <<'EOT'
import os, sys, time
def ticks(root):
    kids, total = {}, {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kids.setdefault(int(f[1]), []).append(int(p))
            total[int(p)] = int(f[11]) + int(f[12])
    todo, n = [root], 0
    while todo:
        p = todo.pop()
        n += total.get(p, 0)
        todo += kids.get(p, [])
    return n
root, end = int(sys.argv[1]), time.time() + 30
prev = ticks(root)
while time.time() < end:
    time.sleep(0.5)
    now = ticks(root)
    if now - prev < 5:
        break
    prev = now
EOT
}

# run_set MODEL [moo serve options]: the three servers up at once, then ROUNDS rounds of one
# wrk run each, interleaved, so drift in the machine's load hits all alike; medians reported.
run_set() {
	m=$1; shift
	p1=$(free_port)
	"$MOO" serve "$T/$m" --port "$p1" --workers 2 --wait-ready "$@" >/dev/null 2>"$T/moo.err" &
	PIDS="$PIDS $!"
	p2=$(free_port)
	(cd "$T/$m" && exec $PY -m uvicorn app_fastapi:app --host 127.0.0.1 --port "$p2" --workers 2 \
		--loop uvloop --http httptools --no-access-log --log-level warning) &
	PIDS="$PIDS $!"
	p3=$(free_port)
	(cd "$T/$m" && exec gunicorn -w 2 -b "127.0.0.1:$p3" --log-level warning app_flask:app) &
	PIDS="$PIDS $!"
	for u in "$p1" "$p2" "$p3"; do wait_up "http://127.0.0.1:$u" "$T/$m/body.json"; done
	settle
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		bench "moo-serve${1:+(batching)}" "http://127.0.0.1:$p1" "$T/$m/body.json"
		bench fastapi+uvicorn "http://127.0.0.1:$p2" "$T/$m/body.json"
		bench flask+gunicorn "http://127.0.0.1:$p3" "$T/$m/body.json"
		r=$((r + 1))
	done
	stop_all
}

report() { # TITLE
	echo "$1 (2 workers each, wrk -t2 -c32, medians of $ROUNDS interleaved ${D}s runs)"
	grep -q ' [1-9][0-9]*$' "$T/results" && echo "bench: some answers were not 2xx (last column)" >&2
	$PY - "$T/results" <<'EOT'
import statistics, sys
rows = {}
for l in open(sys.argv[1]):
    n, rps, p50, p99, bad = l.split()
    rows.setdefault(n, []).append((float(rps), float(p50), float(p99), int(bad)))
med = {n: [statistics.median(x[i] for x in v) for i in range(3)] + [sum(x[3] for x in v)]
       for n, v in rows.items()}
base = med["fastapi+uvicorn"]
print("%-24s %10s %9s %9s %8s %9s %9s" % ("server", "req/s", "p50 ms", "p99 ms", "non-2xx", "req/s ×", "p99 ×"))
for n, (rps, p50, p99, bad) in med.items():
    print("%-24s %10.0f %9.2f %9.2f %8d %8.2fx %8.2fx" % (n, rps, p50, p99, bad, rps / base[0], p99 / base[2]))
EOT
	: >"$T/results"
}

: >"$T/results"
want() { [ -z "${BENCH_ONLY:-}" ] || [ "$BENCH_ONLY" = "$1" ]; }
if want echo; then
	run_set echo
	report "echo predictor"
fi
if want np; then
	run_set np --batch-max 8 --batch-wait-ms 2
	report "numpy model, a 64x10 matmul (~2 us a call: HTTP-bound, batching cannot help); moo --batch-max 8 --batch-wait-ms 2"
fi
if want mlp && [ -n "$SK" ]; then
	run_set mlp --batch-max 8 --batch-wait-ms 2
	report "scikit-learn MLPClassifier 64-256-256-10 (~80 us a call of 1 row, ~40 us a row in 8); moo --batch-max 8 --batch-wait-ms 2"
fi
if want forest; then
	run_set forest --batch-max 8 --batch-wait-ms 2
	report "numpy random forest, 100 trees of depth 8 (~2.6 ms a call of 1 row, ~2.8 ms of 8: batching's case, goal >= 3x); moo --batch-max 8 --batch-wait-ms 2"
fi
