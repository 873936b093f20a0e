#!/bin/sh
# moo on Slurm against plain sbatch, side by side in one run, on a private one-node Slurm
# (tests/lib/slurm.sh: slurmctld + slurmd + munge on loopback).
#   bench/slurm.sh [MOO] [N] [POINTS]    (defaults: build/cli/moo, 10 runs, 100 points)
# 1. submit-to-running: from the command to the job's first line of output, moo run -d
#    --on slurm: against sbatch of the same script (goal <= 1.2)
# 2. end-to-report: from the job's last act (its exit file's time) to moo run returning
#    with the outcome (goal <= 2 s here; workflow tools poll every 30 s or more)
# 3. a sweep of POINTS trivial points, moo sweep --on slurm: against a hand-written loop of
#    sbatch calls, each until every point has ended (goal <= 1.0)
set -eu
MOO=${1:-build/cli/moo}
N=${2:-10}
POINTS=${3:-100}
case $MOO in /*) ;; *) MOO=$PWD/$MOO ;; esac
MOO_SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
cleanup_dirs() { rm -rf "$T"; }
trap cleanup_dirs EXIT
export MOO_HOME="$T/home" MOO_ROOT="$T/root" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config"
export MOO_PYTHON=/usr/bin/python3 NO_COLOR=1
SLURM_MAX_ARRAY=1001
. "$MOO_SRC/tests/lib/slurm.sh"
slurm_setup || { echo "no Slurm here (apt-get install slurm-wlm munge)"; exit 1; }
# the node: 2 CPUs; each job asks for little memory so both run
mkdir -p "$T/p" "$T/plain"
printf 'import sys\nprint("started", flush=True)\n' >"$T/p/train.py"
printf 'framework: {name: python, version: "3", runtime: python3}\nmodel: {name: b}\nentry_point: train.py\noutput_folder: training_result\ntraining_params: {lr: 0.1}\nresources: {memory: 50M}\n' >"$T/p/metadata.yaml"
now() { date +%s%N; }
ms() { echo "scale=1; ($2 - $1) / 1000000" | bc; }

# wait_line FILE: until FILE holds "started"
wait_line() { until grep -q started "$1" 2>/dev/null; do sleep 0.005; done; }

"$MOO" run --on slurm: "$T/p" >/dev/null 2>&1 # warm: the store, the interpreter probe
i=0
: >"$T/moo.ms"
: >"$T/sbatch.ms"
: >"$T/report.ms"
while [ $i -lt "$N" ]; do
	# plain sbatch of the same entry point, its output to a file
	t0=$(now)
	sbatch --parsable --mem=50M -o "$T/plain/$i.out" --wrap "cd $T/p && /usr/bin/python3 -u train.py" >/dev/null
	wait_line "$T/plain/$i.out"
	t1=$(now)
	ms "$t0" "$t1" >>"$T/sbatch.ms"
	# moo run -d, then its process.log
	t0=$(now)
	id=$("$MOO" run -d --on slurm: "$T/p")
	wait_line "$MOO_ROOT/jobs/$id/process.log"
	t1=$(now)
	ms "$t0" "$t1" >>"$T/moo.ms"
	# end-to-report: moo run (following) returns; the exit file's mtime is the job's end
	t0=$(now)
	"$MOO" run --on slurm: --json "$T/p" >"$T/run.json" 2>/dev/null
	t1=$(now)
	jid=$(sed -n '/^{/,$p' "$T/run.json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	end=$(stat -c %.9Y "$MOO_ROOT/jobs/$jid/exit" | tr -d .)
	ms "$end" "$t1" >>"$T/report.ms"
	i=$((i + 1))
done
med() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
m=$(med "$T/moo.ms")
s=$(med "$T/sbatch.ms")
r=$(med "$T/report.ms")
printf 'submit-to-running (median of %s): moo run -d --on slurm: %s ms, sbatch %s ms: ratio %s (goal <= 1.2)\n' \
	"$N" "$m" "$s" "$(echo "scale=2; $m / $s" | bc)"
printf 'end-to-report (median of %s): %s ms from the exit file to moo run returning (goal <= 2000)\n' "$N" "$r"

# sweep of POINTS points against a loop of sbatch
squeue_empty() { [ -z "$(squeue -h -t PENDING,RUNNING,COMPLETING,CONFIGURING -o %i)" ]; }
t0=$(now)
k=0
while [ $k -lt "$POINTS" ]; do
	sbatch --parsable --mem=50M -o "$T/plain/sw-$k.out" \
		--wrap "cd $T/p && MOO_PARAM_LR=$k /usr/bin/python3 -u train.py --lr $k" >/dev/null
	k=$((k + 1))
done
until squeue_empty; do sleep 0.05; done
t1=$(now)
loop=$(ms "$t0" "$t1")
grid=$(seq -s, 0 $((POINTS - 1)))
t0=$(now)
"$MOO" sweep "$T/p" --on slurm: --grid "training_params.lr=$grid" >/dev/null 2>"$T/sweep.err" || {
	cat "$T/sweep.err"
	exit 1
}
t1=$(now)
sw=$(ms "$t0" "$t1")
printf 'sweep of %s points: moo sweep --on slurm: %s ms, sbatch loop %s ms: ratio %s (goal <= 1.0)\n' \
	"$POINTS" "$sw" "$loop" "$(echo "scale=2; $sw / $loop" | bc)"
slurm_stop
