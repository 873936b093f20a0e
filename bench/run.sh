#!/bin/sh
# moo run against running the entry point directly, side by side in one run.
#   bench/run.sh [MOO] [N]     (MOO defaults to build/cli/moo, N to 20 runs each)
# The job is a ~100 ms Python script; both sides use the same interpreter ($MOO_PYTHON,
# else /usr/bin/python3). Prints the mean wall time of each and the ratio (goal <= 1.3).
set -eu
MOO=${1:-build/cli/moo}
N=${2:-20}
PY=${MOO_PYTHON:-/usr/bin/python3}
case $MOO in /*) ;; *) MOO=$PWD/$MOO ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MOO_HOME="$T/home" MOO_ROOT="$T/root" XDG_DATA_HOME="$T/data" MOO_PYTHON="$PY"

mkdir "$T/job"
cat >"$T/job/train.py" <<'EOT'
import os, time
time.sleep(0.1)
out = os.environ.get("MOO_OUTPUT_DIR", "training_result")
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "model.txt"), "w").write("ok\n")
print("moo:metric loss=0.1")
EOT
cat >"$T/job/metadata.yaml" <<'EOT'
framework: {name: python, version: "3", runtime: python3}
model: {name: bench}
entry_point: train.py
output_folder: training_result
EOT

now() { date +%s%N; }
# One warm-up of each (page cache, the store, the runtime probe cache).
(cd "$T/job" && "$PY" train.py >/dev/null)
"$MOO" run "$T/job" >/dev/null 2>&1

direct=0
moo=0
i=0
while [ "$i" -lt "$N" ]; do
	# Interleaved, so drift in the machine's load hits both alike.
	t0=$(now)
	(cd "$T/job" && "$PY" train.py >/dev/null)
	t1=$(now)
	"$MOO" run "$T/job" >/dev/null 2>&1
	t2=$(now)
	direct=$((direct + t1 - t0))
	moo=$((moo + t2 - t1))
	i=$((i + 1))
done
awk -v d="$direct" -v m="$moo" -v n="$N" 'BEGIN {
	printf "python3 train.py : %7.1f ms (mean of %d)\n", d / n / 1e6, n
	printf "moo run          : %7.1f ms (mean of %d)\n", m / n / 1e6, n
	printf "ratio            : %7.2f (goal <= 1.3)\n", m / d
}'
