#!/bin/sh
# moo run against running the entry point directly, side by side in one run.
#   bench/run.sh [MOO] [N]     (MOO defaults to build/cli/moo, N to 20 runs each)
# The job is a ~100 ms Python script; both sides use the same interpreter ($MOO_PYTHON,
# else /usr/bin/python3). Prints the median and mean wall time of each and their ratios
# (goal <= 1.15).
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

i=0
while [ "$i" -lt "$N" ]; do
	# Interleaved, so drift in the machine's load hits both alike.
	t0=$(now)
	(cd "$T/job" && "$PY" train.py >/dev/null)
	t1=$(now)
	"$MOO" run "$T/job" >/dev/null 2>&1
	t2=$(now)
	echo "$((t1 - t0)) $((t2 - t1))" >>"$T/times"
	i=$((i + 1))
done
# Medians, and means beside them: on a shared machine a load spike lands on single runs,
# and a mean carries it into the ratio.
median() { cut -d' ' -f"$1" "$T/times" | sort -n | awk '{v[NR] = $1} END {
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
awk -v n="$N" -v dm="$(median 1)" -v mm="$(median 2)" '{ d += $1; m += $2 } END {
	printf "python3 train.py : %7.1f ms median, %7.1f ms mean (%d runs)\n", dm / 1e6, d / n / 1e6, n
	printf "moo run          : %7.1f ms median, %7.1f ms mean\n", mm / 1e6, m / n / 1e6
	printf "ratio            : %7.2f of the medians, %.2f of the means (goal <= 1.15)\n", mm / dm, m / d
}' "$T/times"
