#!/bin/sh
# The GPU path on a real NVIDIA GPU, with the PyTorch that the machine has: the probe finds
# the GPUs, driver and CUDA that nvidia-smi reports; a PyTorch job (examples/emnist-pytorch
# with accelerator gpu) runs on the GPU with the CUDA_VISIBLE_DEVICES moo sets; its lock
# records the GPU, the driver and the torch that ran; a job asking for more GPUs than the
# host has is refused before it starts; a sweep runs one point per GPU, each pinned to its
# own. CI has no GPU: there the whole test skips, saying so. The lead runs it on a GPU
# machine (the device tool); MOO_TEST_GPU_PYTHON names an interpreter with CUDA PyTorch.
. "$MOO_SRC/tests/cli/lib.sh"
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; kill_jobs "$MOO_ROOT"/jobs/*/state; cleanup_dirs' EXIT

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
	echo "1..0 # SKIP no NVIDIA GPU here (nvidia-smi -L fails)"
	exit 0
fi
G=
for p in ${MOO_TEST_GPU_PYTHON:-} /usr/bin/python3 /opt/torch/.venv/bin/python3 python3; do
	if "$p" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
		G=$(command -v "$p")
		break
	fi
done
if [ -z "$G" ]; then
	echo "1..0 # SKIP no Python here imports a PyTorch that sees the GPU"
	exit 0
fi
export MOO_PYTHON="$G"
ngpu=$(nvidia-smi -L | grep -c '^GPU ')
name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
tv=$("$G" -c 'import torch; print(torch.__version__.split("+")[0])')
tmm=$("$G" -c 'import torch; print(".".join(torch.__version__.split(".")[:2]))')
echo "# $ngpu GPU(s): $name, driver $driver, CUDA $cuda; $G has torch $tv"

P="$T/emnist"
cp -R "$MOO_SRC/examples/emnist-pytorch" "$P"
sed -i "s/accelerator: cpu/accelerator: gpu/; s/version: \"1.13\"/version: \"$tmm\"/" "$P/metadata.yaml"
# the job says which GPUs it was given
sed -i 's/^print(f"device: {device}"/print("visible:", os.environ.get("CUDA_VISIBLE_DEVICES")); &/' "$P/train.py"
(cd "$P" && "$G" make_data.py >/dev/null)

expect_exit "resolve --runtime host on the GPU machine" 0 "$MOO" resolve --offline --runtime host -o - --json "$P"
printf '%s' "$out" >"$T/resolve.json"
got=$(jq '(len(d["host"]["facts"]["gpus"]), d["host"]["facts"]["gpus"][0]["name"], d["host"]["facts"]["driver_version"], d["host"]["facts"]["cuda_version"], d["accelerator"])' <"$T/resolve.json" 2>&1)
want=$(printf '%s\n%s\n%s\n%s\n%s' "$ngpu" "$name" "$driver" "$cuda" gpu)
if [ "$got" = "$want" ]; then ok "... the probe found the GPUs, driver and CUDA that nvidia-smi reports"; else not_ok "... probe" "got: $got; want: $want"; fi
case $err in *"has no GPU"*) not_ok "... no 'has no GPU' warning" "$err" ;; *) ok "... no 'has no GPU' warning" ;; esac
contains "... the job's command pins GPU 0" "$(jq 'd["command"]' <"$T/resolve.json")" "CUDA_VISIBLE_DEVICES=0"

expect_exit "a PyTorch job on the GPU (host runtime)" 0 "$MOO" run --runtime host --name gpu "$P"
contains "... it ran on the GPU" "$out$err" "device: cuda ($name)"
contains "... moo gave it GPU 0" "$out$err" "visible: 0"
acc=$(printf '%s\n' "$out$err" | sed -n 's/.*accuracy=\([0-9.]*\).*/\1/p' | tail -1)
if [ -n "$acc" ] && "$G" -c "import sys; sys.exit(0 if float('$acc') > 0.5 else 1)"; then ok "... it learns on the GPU (accuracy $acc)"; else not_ok "... accuracy > 0.5" "$out$err"; fi
"$MOO" fetch gpu -o "$T/model" >/dev/null 2>&1
if [ -s "$T/model/model.pt" ] && [ -s "$T/model/moo.lock" ]; then ok "... the model and its lock are fetched"; else not_ok "... fetch" "$(ls -R "$T/model" 2>&1)"; fi
got=$(jq '(d["accelerator"], d["host"]["facts"]["gpus"][0]["name"], d["host"]["facts"]["driver_version"], d["interpreter"]["path"] == "'"$("$G" -c 'import sys; print(sys.executable)')"'" or d["interpreter"]["path"], [p for p in d["interpreter"]["packages"] if p.lower().startswith("torch==")][0])' <"$T/model/moo.lock" 2>&1)
want=$(printf 'gpu\n%s\n%s\nTrue\ntorch==%s' "$name" "$driver" "$("$G" -c 'import importlib.metadata as m; print(m.version("torch"))')")
if [ "$got" = "$want" ]; then ok "... its lock records the GPU, the driver, the interpreter and the torch that ran"; else not_ok "... lock" "got: $got; want: $want; lock: $(cat "$T/model/moo.lock")"; fi

cp -R "$P" "$T/many"
sed -i "s/accelerator: gpu/&\n  count: $((ngpu + 1))/" "$T/many/metadata.yaml"
# served in the environment its lock records: MOO_PYTHON unset, the lock's interpreter runs
# the workers (the first python3 on PATH may have no torch at all)
(unset MOO_PYTHON; exec "$MOO" serve gpu --port 0 --wait-ready >"$T/serve.out" 2>"$T/serve.err") &
SPID=$!
i=0
until [ -s "$T/serve.out" ] || [ $i -gt 900 ]; do sleep 0.1; i=$((i + 1)); done
URL=$(head -n1 "$T/serve.out")
"$G" -c "import json, numpy as np; x = np.load('$P/data/images.npy')[-20:]; print(json.dumps({'instances': x.tolist()}))" >"$T/req.json"
expect_exit "moo serve JOB: the GPU job's model answers (moo predict)" 0 "$MOO" predict "$URL" -d "$(cat "$T/req.json")"
n=$("$G" -c "import json, sys, numpy as np; p = json.loads(sys.argv[1])['predictions']; y = np.load('$P/data/labels.npy')[-20:]; print(sum(int(a == b) for a, b in zip(p, y)))" "$out" 2>&1)
if [ "$n" -ge 15 ] 2>/dev/null; then ok "... $n of 20 held-out images right"; else not_ok "... predictions" "$n; $out $err; $(cat "$T/serve.err")"; fi
w=$(ps -eo args | grep -F -- ' -u -c ' | grep -F predict.py | grep -v grep | head -n1 | cut -c1-200)
contains "... its workers run the lock's interpreter" "$w" "$("$G" -c 'import sys; print(sys.executable)')"
kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=

expect_exit "a job asking for more GPUs than the host has is refused (exit 5)" 5 "$MOO" run --runtime host "$T/many"
contains "... naming the GPUs it has" "$err" "$ngpu"
n=$(find "$MOO_ROOT/jobs" -mindepth 1 -maxdepth 1 -type d | wc -l)
if [ "$n" = 1 ]; then ok "... and nothing was started"; else not_ok "... nothing started" "$(ls "$MOO_ROOT/jobs")"; fi

# one point per GPU: with N GPUs, at most N points at once, each on its own GPU
expect_exit "a sweep of $((ngpu + 2)) points on this GPU machine" 0 "$MOO" sweep --runtime host --json --grid "training_params.seed=$(seq -s, 1 $((ngpu + 2)))" --set training_params.epoch=1 "$P"
printf '%s' "$out" >"$T/sweep.json"
bad=0
for j in $(jq 'tuple(x["id"] for x in d["jobs"])' <"$T/sweep.json"); do
	v=$("$MOO" logs "$j" 2>&1 | sed -n 's/^visible: //p')
	case $v in [0-9]*) [ "$v" -lt "$ngpu" ] || bad=1 ;; *) bad=1 ;; esac
	echo "# $j: CUDA_VISIBLE_DEVICES=$v"
done
if [ "$bad" = 0 ]; then ok "... each point was pinned to one GPU of the host"; else not_ok "... pinned" "$(cat "$T/sweep.json")"; fi
over=$(jq 'max(sum(1 for y in d["jobs"] if y["started"] <= x["started"] < y["ended"]) for x in d["jobs"])' <"$T/sweep.json" 2>&1)
if [ "$over" -le "$ngpu" ] 2>/dev/null; then ok "... never more points at once than GPUs ($over at most)"; else not_ok "... at most $ngpu at once" "$over; $(cat "$T/sweep.json")"; fi

plan "$_n"
done_testing
