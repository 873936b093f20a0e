#!/bin/sh
# moo sweep on this machine and over two hosts in network namespaces (real sshd each):
# the grid's points as jobs under one sweep id, ps --sweep, logs SWEEP:N, compare --by and
# --csv, a failing point not retried, --resume starting only what did not succeed, cancel;
# a sweep refused at start leaves no sweep behind; a host whose supervisor cannot start
# (an infrastructure failure) sends its point to the other host within --retries; then 10
# points over two hosts with one host cut mid-sweep: its points go to the other and every
# point ends succeeded exactly once.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
. "$MOO_SRC/tests/lib/netns.sh"
export MOO_PYTHON=/usr/bin/python3

# project DIR: lr and batch_size as parameters; train.py from stdin
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\ntraining_params:\n  lr: 0.5\n  batch_size: 8\n' >"$1/metadata.yaml"
}
project "$T/p" <<EOF
import os, sys
lr = float(os.environ["MOO_PARAM_LR"]); bs = int(os.environ["MOO_PARAM_BATCH_SIZE"])
if lr == 0.3 and not os.path.exists("$T/fixed"):
    sys.exit(7)
print("moo:metric mae=%g" % (lr * 100 + bs / 100))
EOF

# ---- on this machine -----------------------------------------------------------------------
expect_exit "sweep a 2x2 grid here" 0 "$MOO" sweep "$T/p" --grid training_params.lr=0.1,0.01 \
	--grid training_params.batch_size=32,64 --per-host 2 --json
sw=$(printf '%s' "$out" | jq "d['sweep']")
if [ "$(printf '%s' "$out" | jq "len(d['jobs']), set(j['status'] for j in d['jobs']) == {'succeeded'}, [j['sweep_index'] for j in d['jobs']]")" = "4
True
[0, 1, 2, 3]" ]; then ok "... four points, each one job, all succeeded"; else not_ok "... four points" "$out"; fi
case $sw in moo-sweep-??????) ok "... under one sweep id" ;; *) not_ok "... sweep id" "$sw" ;; esac
expect_exit "ps --sweep lists its points" 0 "$MOO" ps --sweep "$sw" --json
if [ "$(printf '%s' "$out" | jq "len(d), d[3]['sweep_index']")" = "4
3" ]; then ok "... in point order"; else not_ok "... in order" "$out"; fi
expect_exit "logs SWEEP:3 is the log of point 3 (lr=0.01, batch_size=64)" 0 "$MOO" logs "$sw:3"
contains "... its metric" "$out" "moo:metric mae=1.64"
expect_exit "compare SWEEP --by mae ranks the points, lowest first" 0 "$MOO" compare "$sw" --by mae --csv
if [ "$(printf '%s\n' "$out" | cut -d, -f1,2,5,6,7)" = "rank,point,lr,batch_size,mae
1,2,0.01,32,1.32
2,3,0.01,64,1.64
3,0,0.1,32,10.32
4,1,0.1,64,10.64" ]; then ok "... as CSV with the swept parameters"; else not_ok "... csv" "$out"; fi
expect_exit "... --desc: highest first" 0 "$MOO" compare "$sw" --by mae --desc --json
if [ "$(printf '%s' "$out" | jq "[j['sweep_index'] for j in d]")" = "[1, 0, 3, 2]" ]; then
	ok "... ... points 1, 0, 3, 2"; else not_ok "... desc" "$out"; fi
expect_exit "a sweep whose values are written 0.10 and 123456789.123456789" 0 "$MOO" sweep "$T/p" \
	--grid training_params.lr=0.10,123456789.123456789 --json
sw3=$(printf '%s' "$out" | jq "d['sweep']")
expect_exit "... compare's table" 0 "$MOO" compare "$sw3"
if [ "$(printf '%s\n' "$out" | awk 'NR > 1 {print $2, $5}')" = "0 0.10
1 123456789.123456789" ]; then ok "... shows each value as it was written"; else not_ok "... as written" "$out"; fi
expect_exit "a bad grid is a usage error" 2 "$MOO" sweep "$T/p" --grid lr=1,2
contains "... naming what may be swept" "$err" "training_params.NAME"

# --random: a range of whole numbers draws whole numbers, both ends included; one of
# decimals draws decimals
expect_exit "--random 6 over batch_size=1..3 and lr=0.01..0.1" 0 "$MOO" sweep "$T/p" \
	--grid training_params.batch_size=1..3 --grid training_params.lr=0.01..0.1 --random 6 \
	--seed 3 --per-host 6 --json
expect_exit "... compare --csv" 0 "$MOO" compare "$(printf '%s' "$out" | jq "d['sweep']")" --csv
if [ "$(printf '%s\n' "$out" | $PY -c "import csv, sys; r = list(csv.DictReader(sys.stdin)); print(len(r), sorted(set(p['batch_size'] for p in r)), all(0.01 <= float(p['lr']) <= 0.1 and p['lr'] not in ('0.01', '0.1') for p in r))")" = "6 ['1', '2', '3'] True" ]; then
	ok "... batch_size drawn from 1, 2, 3 (not '1..3'); lr drawn within 0.01..0.1"; else not_ok "... drawn" "$out"; fi
sweeps() { /usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('$MOO_HOME/moo.db').execute('select count(*) from sweeps').fetchone()[0])"; }
before=$(sweeps)

# a bad range or value is a usage error before anything starts, naming the --grid
for g in "lr=1..0 --random 2|the range runs backwards" "lr=0.5..0.1 --random 2|the range runs backwards" \
	"lr=a..b --random 2|'a' is not a number" "lr=0..1:log --random 2|a :log range needs both ends above 0" \
	"lr=1..2|a range needs --random" "lr=1,,2|value 2 of 'training_params.lr' is empty" \
	"lr=0.1..0.5,0.7 --random 2|the range '0.1..0.5' is one of several"; do
	set -- ${g%%|*}
	gv=$1
	shift
	expect_exit "--grid training_params.$gv${*:+ $*}: a usage error" 2 "$MOO" sweep "$T/p" --grid "training_params.$gv" "$@"
	contains "... naming the --grid and why" "$err" "--grid 'training_params.$gv': ${g#*|}"
	contains "... with a hint" "$err" "hint: "
done
if [ "$(sweeps)" = "$before" ]; then ok "... none of them started a sweep"; else
	not_ok "... no sweep started" "$before before, $(sweeps) after"; fi
expect_exit "a sweep that fails at start (its first point refused: an unknown --set): exit 2" 2 \
	"$MOO" sweep "$T/p" --grid training_params.lr=1,2 --set training_params.nosuch=1 --json
if [ "$(printf '%s' "$out" | jq "d['sweep'], d['jobs'], d['diagnostics'][0]['message']")" = "None
[]
'nosuch' is not a parameter of '$T/p/metadata.yaml'" ]; then
	ok "... names no sweep and says why"; else not_ok "... no sweep" "$out"; fi
if [ "$(sweeps)" = "$before" ]; then ok "... and leaves no sweep in the store"; else
	not_ok "... no sweep record" "$before before, $(sweeps) after"; fi
expect_exit "--json on failure: still one JSON document" 2 "$MOO" sweep "$T/nosuch" --grid training_params.lr=1 --json
if [ "$(printf '%s' "$out" | jq "d['sweep'], d['jobs'], d['diagnostics'][0]['message'].startswith('cannot open')")" = "None
[]
True" ]; then ok "... with the diagnostics"; else not_ok "... json on failure" "$out"; fi

# a sweep whose one host cannot be reached stops (exit 4), kept for --resume, never waits
expect_exit "a sweep whose only host is unreachable: exit 4, not a wait" 4 timeout 20 "$MOO" sweep \
	"$T/p" --on 127.0.0.1:1 --grid training_params.lr=1,2
contains "... says which host" "$err" "cannot reach '127.0.0.1:1', the one host of sweep"
sw5=$(printf '%s' "$err" | sed -n 's/^moo: sweep //p')
contains "... how to go on" "$err" "hint: moo sweep --resume $sw5 once it is back"
case $err in *"go elsewhere"*) not_ok "... and not that its points go elsewhere" "$err" ;;
*) ok "... and not that its points go elsewhere" ;; esac
expect_exit "... with --json: one document" 4 timeout 20 "$MOO" sweep "$T/p" --on 127.0.0.1:1 \
	--grid training_params.lr=1 --json
if [ "$(printf '%s' "$out" | jq "d['sweep'].startswith('moo-sweep-'), d['jobs'], d['diagnostics'][0]['code'], d['diagnostics'][0]['message'].startswith(\"cannot reach '127.0.0.1:1'\")")" = "True
[]
host
True" ]; then ok "... ... the sweep (kept for --resume), no job, the diagnostic"; else not_ok "... json" "$out"; fi

# a point that fails is not retried (its entry point's exit is not the infrastructure's)
expect_exit "a sweep with a failing point exits 1" 1 "$MOO" sweep "$T/p" --grid training_params.lr=0.1,0.3,0.2 --retries 3 --per-host 3 --json
sw2=$(printf '%s' "$out" | jq "d['sweep']")
if [ "$(printf '%s' "$out" | jq "[(j['sweep_index'], j['status'], j['exit_code']) for j in d['jobs']]")" = "[(0, 'succeeded', 0), (1, 'failed', 7), (2, 'succeeded', 0)]" ]; then
	ok "... point 1 failed once, exit 7, not retried"; else not_ok "... not retried" "$out"; fi
contains "... says how to go on" "$err" "moo sweep --resume $sw2"
touch "$T/fixed"
expect_exit "sweep --resume starts only the point that did not succeed" 0 "$MOO" sweep --resume "$sw2" --json
if [ "$(printf '%s' "$out" | jq "len(d['jobs']), [(j['sweep_index'], j['status']) for j in d['jobs']]")" = "4
[(0, 'succeeded'), (1, 'succeeded'), (1, 'failed'), (2, 'succeeded')]" ]; then
	ok "... one new job, for point 1, succeeded"; else not_ok "... resume" "$out"; fi
expect_exit "... logs SWEEP:1 is the newest job of the point" 0 "$MOO" logs "${sw2#moo-sweep-}:1"
contains "... ... (the one that succeeded)" "$out" "moo:metric mae=30.08"

# cancel: every point still running ends, and a detached sweep starts no more
project "$T/slow" <<'EOF'
import time
time.sleep(300)
EOF
expect_exit "sweep -d returns once the points are started" 0 "$MOO" sweep -d "$T/slow" --grid training_params.lr=1,2 --per-host 2
sw3=$out
expect_exit "moo cancel SWEEP cancels its points" 0 "$MOO" cancel "$sw3"
contains "... both" "$out" "2 points were queued or running"
expect_exit "... ps --sweep shows them cancelled" 0 "$MOO" ps --sweep "$sw3" --json
if [ "$(printf '%s' "$out" | jq "[j['status'] for j in d]")" = "['cancelled', 'cancelled']" ]; then
	ok "... ... cancelled"; else not_ok "... cancelled" "$out"; fi
expect_exit "sweep -d of 3 points, one at a time here" 0 "$MOO" sweep -d "$T/slow" --grid training_params.lr=5,6,7
sw4=$out
contains "... says 2 points are not started and how to start them" "$err" \
	"2 of 3 points of '$sw4' are not started (detached after the first wave); 'moo sweep --resume $sw4' starts them"
expect_exit "moo cancel of that sweep" 0 "$MOO" cancel "$sw4"
contains "... its one running point, in good English" "$out" "$sw4 cancelled (1 point was queued or running)"
expect_exit "moo ps --sweep of it" 0 "$MOO" ps --sweep "$sw4"
contains "... the NAME column keeps the point's index (SWEEP:0, not cut to SWEEP)" "$out" " $sw4:0 "
expect_exit "sweep --resume of an unknown sweep: exit 2" 2 "$MOO" sweep --resume moo-sweep-nosuch
contains "... the hint points where ps shows sweeps (NAME; there is no SWEEP column)" "$err" "'moo ps -a' shows a sweep's id as the NAME of its jobs"
expect_exit "ps --sweep of an unknown sweep: exit 2" 2 "$MOO" ps --sweep moo-sweep-nosuch
contains "... with the same hint" "$err" "'moo ps -a' shows a sweep's id as the NAME of its jobs"

# ---- two hosts, one cut mid-sweep ------------------------------------------------------------
if ! sshd_setup || ! netns_setup || ! netns_host A || ! netns_host B; then
	skip "10 points over two namespaced hosts" "${NETNS_WHY:-no sshd or namespaces}"
	plan $_n
	done_testing
	exit
fi
R=$T/remote
mkdir -p "$R/A" "$R/B" "$R/L" "$T/badbin"
# hL: sshd on loopback whose sessions find a setsid that fails, so no supervisor starts there
printf '#!/bin/sh\nexit 1\n' >"$T/badbin/setsid"
chmod +x "$T/badbin/setsid"
printf 'SetEnv PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin\n' "$T/badbin" >>"$SSHD_DIR/sshd_config"
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state "$R"/*/jobs/*/state; netns_cleanup; sshd_stop; cleanup_dirs' EXIT
sshd_start || not_ok "sshd on loopback starts" "see $SSHD_DIR/sshd.log"
printf '%s\n%s\n%s\n' "$NETNS_KH_A" "$NETNS_KH_B" "$(cat "$SSHD_KH")" >"$MOO_KNOWN_HOSTS"
"$MOO" hosts add hA --address "$NETNS_ADDR_A" --user root --root "$R/A" >/dev/null
"$MOO" hosts add hB --address "$NETNS_ADDR_B" --user root --root "$R/B" >/dev/null
"$MOO" hosts add hL --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R/L" >/dev/null
project "$T/two" <<'EOF'
import os, time
time.sleep(2)
print("moo:metric mae=%s" % os.environ["MOO_PARAM_LR"])
EOF

# a host whose supervisor does not start: an infrastructure failure, so hL is taken for
# dropped and its point runs on hA (within --retries), never a failed sweep
expect_exit "2 points over hL (no supervisor starts there) and hA, --retries 1: the sweep succeeds" 0 \
	"$MOO" sweep "$T/two" --grid training_params.lr=1,2 --on hL,hA --per-host 1 --retries 1 --json
if [ "$(printf '%s' "$out" | jq "sorted((j['sweep_index'], j['host']) for j in d['jobs'] if j['status'] == 'succeeded')")" = "[(0, 'hA'), (1, 'hA')]" ]; then
	ok "... both points succeeded on hA"; else not_ok "... on hA" "$out"; fi
if [ "$(printf '%s' "$out" | jq "set((j['host'], j['status'], 'did not start' in j['detail']) for j in d['jobs'] if j['status'] != 'succeeded')")" = "{('hL', 'lost', True)}" ]; then
	ok "... the point's launch on hL is recorded lost, with the reason"; else not_ok "... lost on hL" "$out"; fi
contains "... moo said it retried the point elsewhere" "$err" "is retried (not started on 'hL'"
expect_exit "... with --retries 0 the point is not retried: the sweep fails (exit 1), not moo (6)" 1 \
	"$MOO" sweep "$T/two" --grid training_params.lr=3 --on hL,hA --json
if [ "$(printf '%s' "$out" | jq "[(j['host'], j['status']) for j in d['jobs']]")" = "[('hL', 'lost')]" ]; then
	ok "... ... its one job lost on hL"; else not_ok "... retries 0" "$out"; fi
export MOO_SWEEP_LOST_S=2
"$MOO" sweep "$T/two" --grid training_params.lr=1,2,3,4,5,6,7,8,9,10 --on hA,hB --per-host 2 \
	--retries 2 --json >"$T/sweep.out" 2>"$T/sweep.err" &
spid=$!
_i=0
while ! ls "$R"/B/jobs/*/state >/dev/null 2>&1 && [ $_i -lt 300 ]; do sleep 0.1; _i=$((_i + 1)); done
netns_cut B
wait $spid
rc=$?
out=$(cat "$T/sweep.out")
if [ $rc = 0 ]; then ok "10 points over hA and hB, hB cut mid-sweep: the sweep succeeds"; else
	not_ok "sweep over two hosts" "exit $rc: $(cat "$T/sweep.err")"; fi
contains "... moo said hB dropped" "$(cat "$T/sweep.err")" "cannot reach 'hB'"
if [ "$(printf '%s' "$out" | jq "sorted(j['sweep_index'] for j in d['jobs'] if j['status'] == 'succeeded') == list(range(10))")" = True ]; then
	ok "... every point succeeded exactly once"; else not_ok "... once each" "$out"; fi
if [ "$(printf '%s' "$out" | jq "all(j['host'] == 'hB' and j['status'] == 'lost' for j in d['jobs'] if j['status'] != 'succeeded') and any(j['host'] == 'hB' for j in d['jobs'])")" = True ]; then
	ok "... the points cut off on hB are recorded lost, and ran again on hA"; else not_ok "... lost on hB" "$out"; fi
if [ "$(printf '%s' "$out" | jq "max(sum(1 for k in d['jobs'] if k['host'] == 'hA' and k['started'] and k['started'] <= j['started'] < (k['ended'] or '9999')) for j in d['jobs'] if j['host'] == 'hA' and j['started'])")" -le 2 ]; then
	ok "... hA never ran more than --per-host 2 at once"; else not_ok "... per-host" "$out"; fi
netns_restore B

plan $_n
done_testing
