#!/bin/sh
# moo sweep --on slurm: on a real one-node Slurm whose MaxArraySize is 4 (tests/lib/slurm.sh):
# 7 points become one job array split in two chunks (0-3 and 0-2), the second waiting on the
# first, each throttled to --max-parallel 2, so that no more than 2 points ever run at once;
# every point succeeds; cancel SWEEP scancels what is left.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/slurm.sh"
export MOO_PYTHON=/usr/bin/python3

SLURM_MAX_ARRAY=4
if ! slurm_setup; then
	echo "1..0 # SKIP no Slurm here (apt-get install slurm-wlm munge)"
	exit 0
fi
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state; slurm_stop; cleanup_dirs' EXIT

mkdir -p "$T/p"
cat >"$T/p/train.py" <<'EOF'
import os, time
time.sleep(1)
print("moo:metric mae=%s" % os.environ["MOO_PARAM_LR"])
EOF
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\ntraining_params:\n  lr: 0.5\nresources:\n  memory: 100M\n' >"$T/p/metadata.yaml"

expect_exit "a 7-point sweep on Slurm (MaxArraySize 4, --max-parallel 2) succeeds" 0 \
	"$MOO" sweep "$T/p" --on slurm: --grid training_params.lr=1,2,3,4,5,6,7 --max-parallel 2 --json
sw=$(printf '%s' "$out" | jq "d['sweep']")
if [ "$(printf '%s' "$out" | jq "len(d['jobs']), set(j['status'] for j in d['jobs']) == {'succeeded'}")" = "7
True" ]; then ok "... 7 points, all succeeded"; else not_ok "... 7 points" "$out $err"; fi
ids=$(printf '%s' "$out" | jq "tuple(j['backend_id'] for j in d['jobs'])")
a1=$(printf '%s\n' "$ids" | sed -n 1p | cut -d_ -f1)
a2=$(printf '%s\n' "$ids" | sed -n 5p | cut -d_ -f1)
if [ "$(printf '%s\n' "$ids" | sed "s/^${a1}_/A_/; s/^${a2}_/B_/" | tr '\n' ' ')" = "A_0 A_1 A_2 A_3 B_0 B_1 B_2 " ] && [ "$a1" != "$a2" ]; then
	ok "... as two arrays: tasks 0-3 and 0-2"
else not_ok "... two arrays" "$ids"; fi
contains "... moo told of both submissions" "$err" "submitted as Slurm job array $a2"
if [ "$(printf '%s' "$out" | jq "(lambda t: min(t(j['started']) for j in d['jobs'][4:]) >= max(t(j['ended']) for j in d['jobs'][:4]) - 0.5)(lambda s: __import__('datetime').datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp())")" = True ]; then
	ok "... the second chunk started once the first had ended (afterany)"
else not_ok "... afterany" "$out"; fi
contains "... throttled %2" "$(scontrol show job "$a1" | tr ' ' '\n')" "ArrayTaskThrottle=2"
# (a start Slurm reports is whole seconds, so up to a second early: overlaps under it are not counted)
over=$(printf '%s' "$out" | jq "(lambda t: max(sum(1 for k in d['jobs'] if k is j or t(k['started']) <= t(j['started']) < t(k['ended']) - 1.0) for j in d['jobs']))(lambda s: __import__('datetime').datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp())")
if [ "$over" -le 2 ]; then ok "... never more than 2 points ran at once, across chunks"; else
	not_ok "... at most 2 at once" "$over: $out"; fi
expect_exit "compare SWEEP --by mae --desc" 0 "$MOO" compare "$sw" --by mae --desc --csv
contains "... point 6 (lr=7) first" "$(printf '%s\n' "$out" | sed -n 2p)" "1,6,"

# cancel: pending and running tasks of the array end
mkdir -p "$T/slow"
printf 'import time\ntime.sleep(300)\n' >"$T/slow/train.py"
cp "$T/p/metadata.yaml" "$T/slow/"
expect_exit "sweep -d on Slurm returns once submitted" 0 "$MOO" sweep -d "$T/slow" --on slurm: --grid training_params.lr=1,2,3 --max-parallel 1
sw2=$out
sleep 2
expect_exit "... ps --sweep: one running, two pending (JobArrayTaskLimit)" 0 "$MOO" ps --sweep "$sw2" --json
if [ "$(printf '%s' "$out" | jq "sorted(j['status'] + ' ' + str(j['detail']) for j in d)")" = "['queued pending: JobArrayTaskLimit', 'queued pending: JobArrayTaskLimit', 'running None']" ]; then
	ok "... ... with the reason Slurm gives"; else not_ok "... pending reason" "$out"; fi
expect_exit "moo cancel SWEEP" 0 "$MOO" cancel "$sw2"
contains "... its 3 points" "$out" "3 points were queued or running"
expect_exit "... all cancelled" 0 "$MOO" ps --sweep "$sw2" --json
if [ "$(printf '%s' "$out" | jq "[j['status'] for j in d]")" = "['cancelled', 'cancelled', 'cancelled']" ]; then
	ok "... ... cancelled"; else not_ok "... cancelled" "$out"; fi
if [ -z "$(squeue -h -t PENDING,RUNNING -o %i)" ]; then ok "... and Slurm runs nothing more"; else
	not_ok "... squeue empty" "$(squeue)"; fi

plan $_n
done_testing
