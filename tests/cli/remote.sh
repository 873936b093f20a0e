#!/bin/sh
# moo run --on HOST and the job verbs against a real sshd on loopback, as root and as an
# unprivileged user: the sklearn example end to end, bundles sent once, results pulled
# and checked, detached jobs that outlive moo and the connection, cancel, exit codes and
# signals, hostile values, another client's jobs, moo ssh.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3
EX=$MOO_SRC/examples/sklearn-diabetes

# Hosts named without an inventory root use the host's MOO_ROOT: the test's sshd sets it,
# so no test writes under a real ~/.moo.
if sshd_setup; then
	mkdir -p "$T/remote-env" && chmod 777 "$T/remote-env"
	echo "SetEnv MOO_ROOT=$T/remote-env" >>"$SSHD_DIR/sshd_config"
fi
if [ -z "${SSHD_DIR:-}" ] || ! sshd_start; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
R=$T/remote # the job root on the host (MOO_ROOT there)
mkdir -p "$R"
"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null

# kill every job a test left running (same machine: the host's job folders are here)
cleanup_jobs() { kill_jobs "$R"/jobs/*/state "$T"/remote-u/jobs/*/state "$T"/remote-env/jobs/*/state; }
trap 'cleanup_jobs; sshd_stop; cleanup_dirs' EXIT

# wait_file PATH [SECONDS]
wait_file() {
	_i=0
	while [ ! -e "$1" ] && [ $_i -lt $((${2:-30} * 20)) ]; do sleep 0.05; _i=$((_i + 1)); done
	[ -e "$1" ]
}
# project DIR: a project whose train.py is read from stdin
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\n' >"$1/metadata.yaml"
}
# alive PID: a process that runs (a zombie waiting for its reaper does not)
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }

# ---- the sklearn example end to end, as root ------------------------------------------
expect_exit "run --on h1: the sklearn example trains on the host" 0 "$MOO" run --on h1 --json "$EX"
contains "... its log arrives on stderr with --json (MAE printed)" "$err" "MAE:"
j1=$(printf '%s' "$out" | sed -n '/^{/,$p')
id1=$(printf '%s' "$j1" | jq "d['id']")
res1=$(printf '%s' "$j1" | jq "d['result_path']")
if [ "$(printf '%s' "$j1" | jq "d['status'], d['host'], d['bytes_sent'] > 0")" = "succeeded
h1
True" ]; then ok "... succeeded on h1, the bundle sent"; else not_ok "... succeeded on h1" "$j1"; fi
case $res1 in "$MOO_HOME"/results/"$id1"/*) ok "... its result is copied under MOO_HOME/results" ;; *) not_ok "... result under MOO_HOME/results" "$res1" ;; esac
if [ -s "$res1/model.pkl" ] && (cd "$res1" && sha256sum -c --quiet "$R/jobs/$id1/MANIFEST.sha256"); then
	ok "... the model file arrived and matches the host's MANIFEST.sha256"
else not_ok "... the model file arrived" "$(ls -la "$res1" 2>&1)"; fi
if $PY -c "import pickle; pickle.load(open('$res1/model.pkl','rb'))" 2>/dev/null; then ok "... and loads"; else not_ok "... and loads"; fi
expect_exit "run the same bundle again" 0 "$MOO" run --on h1 --json "$EX"
j2=$(printf '%s' "$out" | sed -n '/^{/,$p')
if [ "$(printf '%s' "$j2" | jq "d['status'], d['bytes_sent']")" = "succeeded
0" ]; then ok "... sends 0 bytes of the bundle"; else not_ok "... sends 0 bytes" "$j2"; fi
contains "... and says so" "$err" "already on h1"
id2=$(printf '%s' "$j2" | jq "d['id']")
expect_exit "show --json gives bytes_sent" 0 "$MOO" show --json "$id2"
[ "$(printf '%s' "$out" | jq "d['bytes_sent']")" = 0 ] && ok "... 0 for the re-run" || not_ok "... 0 for the re-run" "$out"

# ---- the upload's progress: bytes / total and a percentage, on a terminal only ---------------
project "$T/p-big" <<'EOF'
print("big")
EOF
head -c 3000000 /dev/urandom >"$T/p-big/data.bin" # over 1 MiB: the pipelined writes
script -qec "$MOO run --on h1 -d $T/p-big" /dev/null >"$T/tty.out" 2>&1
bars=$(tr '\r' '\n' <"$T/tty.out" | sed 's/\x1b\[K//g' | grep -a '^upload')
if [ -n "$bars" ] && ! printf '%s\n' "$bars" | grep -av ' / 2\.9 MiB$' >/dev/null; then
	ok "on a terminal: an upload bar that shows the total (2.9 MiB) at every step"
else not_ok "on a terminal: an upload bar with the total" "$(cat -v "$T/tty.out")"; fi
printf '%s\n' "$bars" | tail -1 | grep -aq '\[#\{30\}\] 100% 2\.9 MiB / 2\.9 MiB$' &&
	ok "... ending full at 100%" || not_ok "... ending full at 100%" "$bars"
echo "# another bundle" >>"$T/p-big/train.py"
expect_exit "not on a terminal: no bar" 0 "$MOO" run --on h1 -d "$T/p-big"
case $err in *upload*) not_ok "... no bar" "$err" ;; *) ok "... no bar" ;; esac

# ---- exit codes and signals ---------------------------------------------------------------
project "$T/p-exit" <<'EOF'
import sys
print("exiting 7")
sys.exit(7)
EOF
expect_exit "a job that exits 7: moo run exits 1" 1 "$MOO" run --on h1 --json "$T/p-exit"
[ "$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['status'], d['exit_code']")" = "failed
7" ] && ok "... and records exit code 7" || not_ok "... exit code 7" "$out"
project "$T/p-sig" <<'EOF'
import os, signal
os.kill(os.getpid(), signal.SIGKILL)
EOF
expect_exit "a job killed by SIGKILL: exit 1" 1 "$MOO" run --on h1 --json "$T/p-sig"
[ "$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['signal'], d['exit_code']")" = "9
None" ] && ok "... and records signal 9" || not_ok "... signal 9" "$out"

# ---- cancel kills the remote process group, grandchildren included --------------------------
project "$T/p-tree" <<'EOF'
import subprocess, time
g = subprocess.Popen(["sh", "-c", "sleep 300 & echo $! > grandchild.pid; wait"])
while True:
    time.sleep(0.1)
EOF
expect_exit "run -d a job with a grandchild" 0 "$MOO" run --on h1 -d "$T/p-tree"
idc=$out
if wait_file "$R/jobs/$idc/work/grandchild.pid"; then
	gc=$(cat "$R/jobs/$idc/work/grandchild.pid")
	expect_exit "cancel it" 0 "$MOO" cancel --grace 2 "$idc"
	sleep 0.2
	if ! alive "$gc"; then ok "... the grandchild is gone"; else not_ok "... the grandchild is gone" "pid $gc lives"; fi
	expect_exit "... status says cancelled" 0 "$MOO" status --json "$idc"
	[ "$(printf '%s' "$out" | jq "d['status']")" = cancelled ] && ok "... cancelled" || not_ok "... cancelled" "$out"
else
	not_ok "the job with a grandchild started" "$(cat "$R/jobs/$idc/process.log" 2>&1)"
	skip "cancel it" "no job"; skip "... the grandchild is gone" "no job"; skip "... status" "no job"; skip "... cancelled" "no job"
fi

# ---- detached: moo killed mid-follow; logs -f resumes with no line lost or repeated ---------
project "$T/p-lines" <<'EOF'
import time
for i in range(1, 41):
    print("line %d" % i, flush=True)
    time.sleep(0.25)
EOF
expect_exit "run -d a job printing 40 lines over 10 s" 0 "$MOO" run --on h1 -d "$T/p-lines"
idl=$out
"$MOO" logs -f "$idl" >"$T/f1" 2>/dev/null &
fp=$!
_i=0
while [ ! -s "$T/f1" ] && [ $_i -lt 400 ]; do sleep 0.05; _i=$((_i + 1)); done
kill -KILL "$fp"
wait "$fp" 2>/dev/null
sup=$(sed -n 's/^pid=//p' "$R/jobs/$idl/state")
if [ -s "$T/f1" ] && [ ! -e "$R/jobs/$idl/exit" ] && alive "$sup"; then
	ok "moo killed mid-follow: the job's supervisor still runs"
else not_ok "moo killed mid-follow: the supervisor still runs" "$(cat "$T/f1"; ls "$R/jobs/$idl")"; fi
off=$(wc -c <"$T/f1")
expect_exit "logs -f --on --offset (the bytes printed) follows it to its end (exit 0)" 0 "$MOO" logs -f --on h1 --offset "$off" "$idl"
printf '%s\n' "$out" >"$T/f2"
if cat "$T/f1" "$T/f2" | cmp -s - "$R/jobs/$idl/process.log" && [ "$(cat "$T/f1" "$T/f2" | sort -u | wc -l)" = 40 ] && [ "$off" -gt 0 ]; then
	ok "... no line lost or repeated"
else not_ok "... no line lost or repeated" "$(cat "$T/f1"; echo ---; cat "$T/f2")"; fi

# ---- the connection cut mid-follow: sshd stopped, sessions killed, then started again -------
expect_exit "run -d the 40-line job again" 0 "$MOO" run --on h1 -d "$T/p-lines"
idr=$out
MOO_RECONNECT_S=30 "$MOO" logs -f "$idr" >"$T/r1" 2>"$T/r1.err" &
fp=$!
_i=0
while [ ! -s "$T/r1" ] && [ $_i -lt 400 ]; do sleep 0.05; _i=$((_i + 1)); done
sshd_cut
sshd_stop
sleep 1.5
sshd_start
wait "$fp"
rc=$?
[ "$rc" = 0 ] && ok "logs -f reconnects after the cut and ends with exit 0" || not_ok "logs -f reconnects" "exit $rc: $(cat "$T/r1.err")"
if cmp -s "$T/r1" "$R/jobs/$idr/process.log" && [ "$(sort -u "$T/r1" | wc -l)" = 40 ]; then
	ok "... every line once"
else not_ok "... every line once" "$(cat "$T/r1")"; fi

# ---- host unreachable: exit 4, the job not marked failed, a later logs -f continues ---------
expect_exit "run -d the 40-line job once more" 0 "$MOO" run --on h1 -d "$T/p-lines"
idu=$out
sleep 0.5
sshd_cut
sshd_stop
MOO_RECONNECT_S=1 "$MOO" logs -f "$idu" >"$T/u1" 2>"$T/u1.err"
rc=$?
[ "$rc" = 4 ] && ok "logs -f with sshd down: exit 4" || not_ok "logs -f with sshd down: exit 4" "exit $rc: $(cat "$T/u1.err")"
contains "... 'host unreachable', with a hint" "$(cat "$T/u1.err")" "hint:"
expect_exit "status with sshd down: exit 4" 4 "$MOO" status "$idu"
expect_exit "ps --json with sshd down lists the job as last seen" 0 "$MOO" ps --json
[ "$(printf '%s' "$out" | jq "[j['status'] for j in d if j['id'] == '$idu']")" = "['running']" ] &&
	ok "... running, not failed or lost" || not_ok "... running, not failed" "$out"
expect_exit "ps -a --on h1 with sshd down: exit 0, as moo-ps(1) says" 0 "$MOO" ps -a --on h1 --json
[ "$(printf '%s' "$out" | jq "[j['status'] for j in d if j['id'] == '$idu']")" = "['running']" ] &&
	ok "... its jobs as last seen" || not_ok "... its jobs as last seen" "$out"
contains "... with a warning" "$err" "warning: cannot reach 'h1'"
sshd_start
expect_exit "sshd back: logs -f --offset continues to the end" 0 "$MOO" logs -f --offset "$(wc -c <"$T/u1")" "$idu"
printf '%s\n' "$out" >"$T/u2"
if cat "$T/u1" "$T/u2" | cmp -s - "$R/jobs/$idu/process.log"; then ok "... no line lost or repeated"; else not_ok "... no line lost or repeated" "$(cat "$T/u1" "$T/u2")"; fi

# run_to_end NAME DIR: 'moo run --on h1 -d DIR' (a check named NAME), then lets the job end
# (it waits for work/go) with no moo watching; its id in $out
run_to_end() {
	expect_exit "$1" 0 "$MOO" run --on h1 -d "$2"
	wait_file "$R/jobs/$out/state" && touch "$R/jobs/$out/work/go"
	wait_file "$R/jobs/$out/exit" && sleep 0.1
}
# ---- results pulled by the next status after the job ended with no moo running --------------
# (the job ends only once the test writes work/go, so no moo sees it end)
project "$T/p-out" <<'EOF'
import os, time
open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "out.txt"), "w").write("result\n")
while not os.path.exists("go"):
    time.sleep(0.05)
EOF
run_to_end "run -d a job and leave" "$T/p-out"
ido=$out
expect_exit "the next status after it ended" 0 "$MOO" status --json "$ido"
p=$(printf '%s' "$out" | jq "d['result_path']")
[ "$(cat "$p/out.txt" 2>/dev/null)" = result ] && ok "... pulled its result" || not_ok "... pulled its result" "$out"

# ---- a file added on the host after the job ended is not downloaded as its result ---------
run_to_end "run -d a job whose result gets a file planted on the host" "$T/p-out"
idp=$out
echo planted >"$R/jobs/$idp/work/training_result/extra.txt"
expect_exit "status after a file was added on the host: exit 6" 6 "$MOO" status "$idp"
contains "... naming it and the host" "$err" "$R/jobs/$idp/work/training_result/extra.txt' on 'h1' is not in MANIFEST.sha256"
[ ! -e "$MOO_HOME/results/$idp/training_result" ] && ok "... and keeping no copy of it" || not_ok "... and keeping no copy of it" "$(ls -R "$MOO_HOME/results/$idp")"

# ---- a file corrupted on the host makes fetch fail -----------------------------------------
run_to_end "run -d another such job" "$T/p-out"
idx=$out
echo tampered >"$R/jobs/$idx/work/training_result/out.txt"
# (a result that cannot be downloaded is said, exit 6: not taken for success; issue 13.4)
expect_exit "status after the file was corrupted on the host: exit 6" 6 "$MOO" status "$idx"
contains "... naming the file on the host" "$err" "$R/jobs/$idx/work/training_result/out.txt' on 'h1' does not match MANIFEST.sha256 as downloaded"
case $err in *"make room"*) not_ok "... no 'make room' hint: the disk is not the cause" "$err" ;; *) ok "... no 'make room' hint: the disk is not the cause" ;; esac
out=$("$MOO" show --json "$idx")
[ "$(printf '%s' "$out" | jq "d['status'], d['result_path']")" = "succeeded
None" ] && ok "... succeeded, no result kept" || not_ok "... no result kept" "$out"
expect_exit "fetch refuses it (exit 6)" 6 "$MOO" fetch "$idx" -o "$T/fx"
contains "... naming the manifest" "$err" "does not match MANIFEST.sha256"
[ ! -e "$T/fx" ] && ok "... and leaves nothing" || not_ok "... and leaves nothing"
expect_exit "fetch of a good job" 0 "$MOO" fetch "$ido" -o "$T/fo"
[ "$(cat "$T/fo/out.txt")" = result ] && ok "... copies its result" || not_ok "... copies its result"
# a result downloaded and checked is copied from MOO_HOME/results with no host: sshd down
sshd_cut
sshd_stop
expect_exit "sshd down: fetch of a result downloaded and checked before (0)" 0 "$MOO" fetch "$ido" -o "$T/fo-down"
[ "$(cat "$T/fo-down/out.txt" 2>/dev/null)" = result ] && ok "... copies it from MOO_HOME/results" || not_ok "... copies it from MOO_HOME/results" "$(ls -la "$T/fo-down" 2>&1)"
echo tampered >"$MOO_HOME/results/$ido/training_result/out.txt"
expect_exit "... and checks it again: a copy changed here is refused (6)" 6 "$MOO" fetch "$ido" -o "$T/fo-bad"
contains "... naming it (the copy in MOO_HOME/results, not the one made for -o)" "$err" "'$MOO_HOME/results/$ido/training_result/out.txt' does not match MANIFEST.sha256"
echo result >"$MOO_HOME/results/$ido/training_result/out.txt"
echo planted >"$MOO_HOME/results/$ido/training_result/extra.txt"
expect_exit "... a file added to that copy is refused (6)" 6 "$MOO" fetch "$ido" -o "$T/fo-add"
contains "... naming it" "$err" "results/$ido/training_result/extra.txt' is not in MANIFEST.sha256"
rm "$MOO_HOME/results/$ido/training_result/extra.txt"
sshd_start

# ---- a job that removes its output folder: succeeded with no result, as on this machine ----
project "$T/p-none" <<'EOF'
import os, shutil
shutil.rmtree(os.environ["MOO_OUTPUT_DIR"])
print("removed")
EOF
expect_exit "a job that removes its output folder and succeeds: exit 0, as here" 0 "$MOO" run --on h1 --json "$T/p-none"
contains "... a warning that it left no output folder" "$err" "succeeded but left no output folder 'training_result'"
case $err in *"could not be downloaded"* | *"make room"*) not_ok "... no download failure said" "$err" ;; *) ok "... no download failure said" ;; esac
jn=$(printf '%s' "$out" | sed -n '/^{/,$p')
idn=$(printf '%s' "$jn" | jq "d['id']")
[ "$(printf '%s' "$jn" | jq "d['status'], d['result_path']")" = "succeeded
None" ] && ok "... succeeded, no result_path" || not_ok "... succeeded, no result_path" "$jn"
expect_exit "fetch of it: exit 2, as of such a job here" 2 "$MOO" fetch "$idn" -o "$T/fn"
contains "... saying it left no result" "$err" "job '$idn' left no result: it succeeded with no output folder 'training_result'"
contains "... with a hint" "$err" "hint: see what it did with: moo logs $idn"

# ---- an interrupted download resumes from the bytes already here ---------------------------
# A part file seeded with 1 MB of zeros stands for a cut download: the pull resumes after
# it (so the result does not match its manifest and is refused), then fetch downloads it
# afresh and it checks out.
project "$T/p-big" <<'EOF'
import os
import time
with open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "big.bin"), "wb") as f:
    f.write(os.urandom(3000000))
while not os.path.exists("go"):
    time.sleep(0.05)
EOF
run_to_end "run -d a job writing 3 MB" "$T/p-big"
idb=$out
mkdir -p "$MOO_HOME/results/$idb/training_result"
head -c 1000000 /dev/zero >"$MOO_HOME/results/$idb/training_result/big.bin.moo-part"
expect_exit "status pulls the result, resuming the cut download" 6 "$MOO" status "$idb"
contains "... the kept bytes were used, and the manifest check refused them (exit 6)" "$err" "big.bin' on 'h1' does not match MANIFEST.sha256 as downloaded"
expect_exit "fetch then downloads it afresh" 0 "$MOO" fetch "$idb" -o "$T/fb"
cmp -s "$T/fb/big.bin" "$R/jobs/$idb/work/training_result/big.bin" && ok "... and it matches the host's file" || not_ok "... and it matches"

# ---- hostile names and params run nothing ------------------------------------------------
project "$T/p-echo" <<'EOF'
import json
print("got", json.load(open("params.json"))["x"])
EOF
printf 'training_params:\n  x: "1"\n' >>"$T/p-echo/metadata.yaml"
hostile="\$(touch $T/MARKER); \`touch $T/MARKER\`; ' \" touch $T/MARKER"
expect_exit "run --on with a hostile name and param" 0 "$MOO" run --on h1 --name "$hostile" --set "training_params.x=$hostile" "$T/p-echo"
contains "... the param arrives byte for byte" "$out" "got $hostile"
[ ! -e "$T/MARKER" ] && ok "... and nothing ran (no marker file)" || not_ok "... nothing ran"
expect_exit "a hostile --on is refused" 2 "$MOO" run --on "-oProxyCommand=touch $T/MARKER" "$T/p-echo"
[ ! -e "$T/MARKER" ] && ok "... and runs nothing" || not_ok "... runs nothing"

# ---- moo ssh ------------------------------------------------------------------------------------
expect_exit "moo ssh JOB -- pwd runs in the job's work folder" 0 "$MOO" ssh "$id1" -- pwd
[ "$out" = "$R/jobs/$id1/work" ] && ok "... $R/jobs/<id>/work" || not_ok "... the work folder" "$out"
expect_exit "moo ssh JOB with commands on stdin (a shell)" 0 sh -c "echo 'ls training_result; exit 3' | '$MOO' ssh '$id1'; test \$? = 3"
contains "... sees the job's files" "$out" "model.pkl"
expect_exit "moo ssh gives the command's exit status" 5 "$MOO" ssh "$id1" -- sh -c 'exit 5'

# ---- another client: a fresh store reaches the host's jobs with --on ----------------------------
(
	export MOO_HOME="$T/other" XDG_DATA_HOME="$T/other-data"
	# (exit 6: the job whose file was corrupted above has a result it cannot download)
	# (the corrupted job's result cannot be pulled: the list stands, and exit 6 says so)
	expect_exit "another client: ps -a --on h1 lists the host's jobs (exit 6: one result refused)" 6 "$MOO" ps -a --json --on h1
	contains "... naming the result it could not pull" "$err" "job '$idx' succeeded, but its result could not be downloaded"
	printf '%s' "$out" | jq "len(d)" >"$T/other.n"
	expect_exit "... status --on h1 of a job it never started" 0 "$MOO" status --json --on h1 "$id1"
	printf '%s' "$out" | jq "d['status']" >"$T/other.st"
	expect_exit "... a job id not on the host: exit 2" 2 "$MOO" status --on h1 moo-job-zzzzzz
	echo "$_n $_failed" >"$T/other.count"
)
read -r _n _failed <"$T/other.count"
[ "$(cat "$T/other.n")" -ge 8 ] && ok "... every job there" || not_ok "... every job there" "$(cat "$T/other.n")"
[ "$(cat "$T/other.st")" = succeeded ] && ok "... and its status" || not_ok "... and its status"

# ---- host keys, user@host:port, rm --------------------------------------------------------------
(
	export MOO_KNOWN_HOSTS="$T/kh-new"
	expect_exit "run --on user@host:port with an unknown host key: exit 4" 4 "$MOO" run --on "root@127.0.0.1:$SSHD_PORT" -d "$T/p-echo"
	printf '%s\n' "$err" >"$T/kh.err"
	expect_exit "... --accept-new-host-key records it and runs" 0 "$MOO" run --on "root@127.0.0.1:$SSHD_PORT" --accept-new-host-key "$T/p-echo"
	grep -q "127.0.0.1" "$T/kh-new" && ls "$T"/remote-env/jobs/moo-job-*/job.json >/dev/null 2>&1 && echo ok >"$T/kh.ok"
	echo "$_n $_failed" >"$T/kh.count"
)
read -r _n _failed <"$T/kh.count"
contains "... the refusal names the fingerprint and the way to accept it" "$(cat "$T/kh.err")" "moo hosts trust"
[ -f "$T/kh.ok" ] && ok "... into known_hosts; the job went to the host's MOO_ROOT" || not_ok "... into known_hosts; the job in the host's MOO_ROOT"
expect_exit "rm a remote job" 0 "$MOO" rm "$id2"
[ ! -e "$R/jobs/$id2" ] && ok "... removes its folder on the host" || not_ok "... removes its folder on the host"

# ---- as an unprivileged user ------------------------------------------------------------------
if sshd_test_user; then
	mkdir -p "$T/remote-u" && chown moouser "$T/remote-u"
	"$MOO" hosts add h2 --address 127.0.0.1 --port "$SSHD_PORT" --user moouser --root "$T/remote-u" >/dev/null
	expect_exit "run --on as an unprivileged user: the sklearn example" 0 "$MOO" run --on h2 --json "$EX"
	contains "... MAE printed (on stderr: --json keeps stdout for the document)" "$err" "MAE:"
	p=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['result_path']")
	[ -s "$p/model.pkl" ] && ok "... the model arrives" || not_ok "... the model arrives" "$out"
	[ "$(stat -c %U "$T/remote-u/jobs")" = moouser ] && ok "... the job ran as moouser" || not_ok "... ran as moouser"
	# a job's setup the host refuses (its kept bundle made unreadable to the user)
	kept=$(ls -d "$T"/remote-u/bundles/*/ | head -1)
	chmod 000 "$kept"
	expect_exit "a kept bundle the user cannot read: exit 6" 6 "$MOO" run --on h2 "$EX"
	contains "... 'cannot stage', with the host's reason" "$err" "Permission denied"
	contains "... and what to do, where" "$err" "hint: mend what the host says in $T/remote-u on h2"
	n=$("$MOO" ps -a --json | jq "len([j for j in d if j['host'] == 'h2'])")
	[ "$n" = 1 ] && ok "... no job recorded for it (the first run's only)" || not_ok "... no job recorded" "$("$MOO" ps -a)"
	chmod 755 "$kept"
else
	for i in 1 2 3 4 5 6 7 8; do skip "unprivileged user $i" "no test user (needs root)"; done
fi

# ---- the host removed: a result downloaded and checked is still fetched -------------------
"$MOO" hosts rm --force h1 >/dev/null 2>&1
expect_exit "h1 removed: fetch of a result downloaded and checked before (0)" 0 "$MOO" fetch "$ido" -o "$T/fo-gone"
[ "$(cat "$T/fo-gone/out.txt" 2>/dev/null)" = result ] && ok "... copies it" || not_ok "... copies it" "$(ls -la "$T/fo-gone" 2>&1)"

echo "1..$_n"
done_testing
