#!/bin/sh
# moo run --on slurm: against a real one-node Slurm (slurmctld, slurmd, munge; tests/lib/slurm.sh)
# on loopback, without accounting (squeue) or, with the argument 'accounting', with
# slurmdbd on a private MariaDB (sacct): a job that succeeds, one that exits non-zero (Slurm
# says COMPLETED), one past its --mem, one past its --time, one cancelled, one pending for
# Resources, config.yaml's slurm: defaults, and a controller that does not answer.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/slurm.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3

mode=${1:-}
if ! slurm_setup "$mode"; then
	echo "1..0 # SKIP no Slurm here${mode:+ with accounting} (apt-get install slurm-wlm munge${mode:+ slurmdbd mariadb-server})"
	exit 0
fi
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state; slurm_stop; cleanup_dirs' EXIT
# the login node over SSH: a real sshd on loopback whose sessions know this cluster
R=$T/remote
mkdir -p "$R"
if sshd_setup; then
	printf 'SetEnv SLURM_CONF=%s MOO_ROOT=%s\n' "$SLURM_CONF" "$R" >>"$SSHD_DIR/sshd_config"
	sshd_start && cp "$SSHD_KH" "$MOO_KNOWN_HOSTS" &&
		"$MOO" hosts add login1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
fi
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state "$R"/jobs/*/state; slurm_stop; sshd_stop; cleanup_dirs' EXIT

# project DIR [METADATA_EXTRA]: a project whose train.py is read from stdin
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\n%s' "${2:-}" >"$1/metadata.yaml"
}
# field JOB KEY: a field of moo status --json
field() { "$MOO" status --json "$1" | jq "d['$2']"; }
# wait_status JOB STATUS SECONDS
wait_status() {
	_end=$(($(date +%s) + $3))
	while [ "$(field "$1" status)" != "$2" ]; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.3
	done
}

project "$T/ok" <<'EOF'
import os
print("on slurm job", os.environ.get("SLURM_JOB_ID"))
print("moo:metric mae=0.25")
open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "model.txt"), "w").write("m")
EOF
project "$T/three" <<'EOF'
print("failing")
raise SystemExit(3)
EOF
project "$T/sleep" <<'EOF'
import time
print("sleeping", flush=True)
time.sleep(600)
EOF
project "$T/hog" 'resources:
  memory: 60M
' <<'EOF'
import time
a = []
for i in range(60):
    a.append(bytearray(10 * 1024 * 1024))
    time.sleep(0.1)
print("not killed")
EOF

# ---- a job that succeeds ------------------------------------------------------------------
expect_exit "run --on slurm: trains through sbatch and reports" 0 "$MOO" run --on slurm: --json "$T/ok"
contains "... its log arrives (on stderr with --json), written on the compute node under Slurm" "$err" "on slurm job "
j=$(printf '%s' "$out" | sed -n '/^{/,$p')
id=$(printf '%s' "$j" | jq "d['id']")
sid=$(printf '%s' "$j" | jq "d['backend_id']")
if [ "$(printf '%s' "$j" | jq "d['status'], d['host'], d['exit_code']")" = "succeeded
slurm:
0" ]; then ok "... succeeded on slurm:, exit 0"; else not_ok "... succeeded" "$j"; fi
contains "... the Slurm job id is the one the job saw" "$err" "on slurm job $sid"
if [ "$(scontrol show job "$sid" | grep -o 'JobName=[^ ]*')" = "JobName=$id" ]; then
	ok "... Slurm knows the job by its moo id"
else not_ok "... Slurm job name" "$(scontrol show job "$sid")"; fi
check "... its result is there (shared filesystem)" test -s "$MOO_ROOT/jobs/$id/work/training_result/model.txt"
expect_exit "... moo logs prints it again" 0 "$MOO" logs "$id"
contains "... ... the whole log" "$out" "moo:metric mae=0.25"
expect_exit "... moo ssh runs in its work folder on the login node" 0 "$MOO" ssh "$id" -- cat params.json
contains "... ... params.json is there" "$out" "{"
expect_exit "... moo show names the Slurm job" 0 "$MOO" show "$id"
contains "... ... 'slurm job:'" "$out" "slurm job:  $sid"

# ---- over SSH: --on slurm:LOGIN ----------------------------------------------------------------
if [ -f "$SSHD_DIR/sshd.pid" ]; then
	expect_exit "run --on slurm:login1 submits over the SSH session" 0 "$MOO" run --on slurm:login1 --json "$T/ok"
	j=$(printf '%s' "$out" | sed -n '/^{/,$p')
	rid=$(printf '%s' "$j" | jq "d['id']")
	if [ "$(printf '%s' "$j" | jq "d['status'], d['host'], d['dir'].startswith('$R/jobs/')")" = "succeeded
slurm:login1
True" ]; then ok "... succeeded, staged under the login node's root"; else not_ok "... over ssh" "$j"; fi
	contains "... ran under Slurm" "$err" "on slurm job $(printf '%s' "$j" | jq "d['backend_id']")"
	check "... its result was pulled here and checked" test -s "$MOO_HOME/results/$rid/training_result/model.txt"
	expect_exit "... moo cancel over SSH: scancel on the login node" 0 "$MOO" run -d --on slurm:login1 "$T/sleep"
	rid=$out
	expect_exit "... ... cancelled" 0 "$MOO" cancel "$rid"
	if [ "$(field "$rid" status)" = cancelled ]; then ok "... ... status cancelled"; else not_ok "... cancelled" "$("$MOO" status "$rid")"; fi
else
	skip "run --on slurm:LOGIN over SSH" "no sshd (apt-get install openssh-server)"
fi

# ---- exit 3: Slurm says COMPLETED (the supervisor ended well), the exit file says 3 ----------
expect_exit "a job that exits 3 on Slurm fails (exit 1)" 1 "$MOO" run --on slurm: "$T/three"
contains "... with the entry point's exit code" "$err" "failed (exit 3)"

# ---- memory: Slurm kills it past --mem (resources.memory) ---------------------------------
# Without cgroups here Slurm's jobacct_gather kills the step and says FAILED; moo reads
# slurmstepd's 'Exceeded job memory limit' in the log (OUT_OF_MEMORY where cgroups say so).
expect_exit "a job past its memory (resources.memory 60M → --mem) fails" 1 "$MOO" run --on slurm: --json "$T/hog"
contains "... told apart as out_of_memory" "$err" "out_of_memory"
case $err in *"not killed"*) not_ok "... it was stopped" "$err" ;; *) ok "... it was stopped before its end" ;; esac

# ---- TIMEOUT: one minute is Slurm's smallest limit; checked at the end -------------------------
expect_exit "run -d --time 1 submits a job that will time out" 0 "$MOO" run -d --on slurm: --time 1 "$T/sleep"
tid=$out
if wait_status "$tid" running 20; then ok "... it runs"; else not_ok "... it runs" "$("$MOO" status "$tid")"; fi

# ---- cancel, and pending for Resources (2 CPUs: the sleeper and this job fill them) ----------
expect_exit "run -d a job to cancel" 0 "$MOO" run -d --on slurm: "$T/sleep"
cid=$out
wait_status "$cid" running 20
expect_exit "run -d a third job while both CPUs are taken" 0 "$MOO" run -d --on slurm: "$T/ok"
pid3=$out
sleep 1
expect_exit "... moo status says it is queued, and why" 0 "$MOO" status "$pid3"
contains "... 'pending: Resources'" "$out" "queued"
contains "... ... the reason" "$out" "pending: Resources"
expect_exit "... ps --json carries the reason as detail" 0 "$MOO" ps --json
contains "... ... detail" "$out" '"detail": "pending: Resources"'
expect_exit "moo cancel a running Slurm job (scancel)" 0 "$MOO" cancel "$cid"
if [ "$(field "$cid" status)" = cancelled ]; then ok "... it is cancelled"; else not_ok "... cancelled" "$("$MOO" status "$cid")"; fi
sstate=$(squeue --states=all -h -j "$(field "$cid" backend_id)" -o %T 2>/dev/null || sacct -n -X -o State -j "$(field "$cid" backend_id)")
contains "... and Slurm says CANCELLED" "$sstate" "CANCELLED"
if wait_status "$pid3" succeeded 30; then ok "... the pending job then runs and succeeds"; else not_ok "... pending job ran" "$("$MOO" status "$pid3")"; fi

# ---- a controller that does not answer: nothing is taken for ended ----------------------------
kill "$(cat "$SLURM_DIR/slurmctld.pid")"
sleep 0.5
expect_exit "status while slurmctld is down: host unreachable (exit 4)" 4 "$MOO" status "$tid"
contains "... says Slurm did not answer" "$err" "cannot ask Slurm"
expect_exit "... ps still lists the job as running" 0 "$MOO" ps --json
if [ "$(printf '%s' "$out" | jq "[x['status'] for x in d if x['id'] == '$tid'][0]")" = running ]; then
	ok "... ... running, as last seen"; else not_ok "... ... running" "$out"; fi
setsid slurmctld -D -f "$SLURM_CONF" </dev/null >>"$SLURM_DIR/ctld.out" 2>&1 &
slurm_wait 30 scontrol ping

# ---- config.yaml's slurm: defaults, and what sbatch refuses ------------------------------------
mkdir -p "$XDG_CONFIG_HOME/moo"
printf 'slurm:\n  partition: nosuch\n  time: 5\n' >"$XDG_CONFIG_HOME/moo/config.yaml"
expect_exit "slurm: partition from config.yaml reaches sbatch (it refuses 'nosuch')" 6 "$MOO" run --on slurm: "$T/ok"
contains "... sbatch's own words" "$err" "sbatch on 'local' refused the job"
contains "... ... naming the partition" "$err" "partition"
expect_exit "... and nothing stays behind" 0 "$MOO" ps -a --json
if [ "$(printf '%s' "$out" | jq "len(d)")" = 8 ]; then ok "... ... 8 jobs, as before"; else not_ok "... 8 jobs" "$out"; fi
expect_exit "--partition overrides it; time: 5 from config reaches the job" 0 "$MOO" run --on slurm: --partition debug --json "$T/ok"
sid=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['backend_id']")
contains "... TimeLimit 5 minutes" "$(scontrol show job "$sid")" "TimeLimit=00:05:00"
expect_exit "a Slurm option without a Slurm host is a usage error" 2 "$MOO" run --time 5 "$T/ok"
printf 'slurm:\n  partion: x\n' >"$XDG_CONFIG_HOME/moo/config.yaml"
expect_exit "an unknown key under slurm: is refused with a hint (usage, exit 2)" 2 "$MOO" run --on slurm: "$T/ok"
contains "... did you mean" "$err" "did you mean 'partition'"
rm "$XDG_CONFIG_HOME/moo/config.yaml"

# ---- requeued: followed to its last run; the exit file of that run is the truth -------------
project "$T/twice" <<'EOF'
import os, time
if not os.path.exists("../../ran-once"):
    open("../../ran-once", "w").write("x")
    print("first run", flush=True)
    time.sleep(300)
print("second run", flush=True)
time.sleep(4)
EOF
expect_exit "run -d a job to requeue" 0 "$MOO" run -d --on slurm: "$T/twice"
qid=$out
wait_status "$qid" running 20
qsid=$(field "$qid" backend_id)
first_started=$(field "$qid" started)
scontrol requeue "$qsid"
sleep 0.5
expect_exit "... requeued (scontrol requeue): moo says queued again" 0 "$MOO" status "$qid"
contains "... ... queued, pending" "$out" "queued"
sleep 1.1                                   # the second run starts in a later second
scontrol update JobId="$qsid" StartTime=now # Slurm holds a requeued job ~2 minutes
i=0
while [ $i -lt 150 ] && ! grep -q "second run" "$MOO_ROOT/jobs/$qid/process.log"; do sleep 0.2; i=$((i + 1)); done
# The first run's supervisor, killed by the requeue, may still record its end, late: after
# the second run's batch script cleared the folder. Here it does, as it writes it (run=0).
printf 'signal=15\nended=up:1\ndisk=\nrun=0\n' >"$T/stale-exit"
mv "$T/stale-exit" "$MOO_ROOT/jobs/$qid/exit"
expect_exit "... the first run's exit file (signal=15, run=0) appears while the second run runs" 0 "$MOO" status --json "$qid"
if [ "$(printf '%s' "$out" | jq "d['status']")" = running ]; then
	ok "... ... moo takes it for no end of this run: running"; else not_ok "... stale exit taken" "$out"; fi
if wait_status "$qid" succeeded 30; then ok "... its second run succeeds and is what moo reports"; else not_ok "... second run" "$("$MOO" status "$qid")"; fi
expect_exit "... logs: both runs" 0 "$MOO" logs "$qid"
contains "... ... the second" "$out" "second run"
# started: Slurm's StartTime of the last run (not the first run's, not a node's boot clock)
slurm_start=$(scontrol show job "$qsid" | sed -n 's/.*StartTime=\([^ ]*\).*/\1/p')
if [ "$(field "$qid" started | $PY -c "import sys, datetime as D
moo = D.datetime.fromisoformat(sys.stdin.read().strip().replace('Z', '+00:00')).timestamp()
slurm = D.datetime.fromisoformat('$slurm_start').timestamp()
first = D.datetime.fromisoformat('$first_started'.replace('Z', '+00:00')).timestamp()
print(abs(moo - slurm) < 1.0 and moo - first >= 1)")" = True ]; then
	ok "... started is Slurm's StartTime of the second run ($slurm_start)"; else
	not_ok "... started" "moo: $(field "$qid" started), Slurm: $slurm_start, first run: $first_started"; fi

# ---- the TIMEOUT ---------------------------------------------------------------------------
if wait_status "$tid" failed 150; then ok "the job past --time 1 fails"; else not_ok "timeout job failed" "$("$MOO" status "$tid")"; fi
if [ "$(field "$tid" detail)" = timeout ]; then ok "... told apart as timeout"; else not_ok "... timeout" "$("$MOO" status --json "$tid")"; fi

plan $_n
done_testing
