#!/bin/sh
# The job lifecycle with real processes: SIGKILL, cancel with grandchildren, a lost
# supervisor, and a reused pid that must not pass for the job.
. "$(dirname "$0")/job-lib.sh"
cd "$T" || exit 1

project sleeper <<'EOT'
import os, subprocess, sys, time
# A grandchild in the job's process group, and its pid for the test.
gc = subprocess.Popen(["sleep", "300"])
open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "grandchild.pid"), "w").write(str(gc.pid))
print("started", flush=True)
time.sleep(300)
EOT

# SIGKILL of the entry point: failed, with the signal.
id=$("$MOO" run -d sleeper)
wait_file "$MOO_ROOT/jobs/$id/work/training_result/grandchild.pid"
check "the job runs" wait_status "$id" running
kill -KILL "$(state_of "$id" pgid)"
check "killed with SIGKILL, it is reported failed" wait_status "$id" failed
check "with the signal" sh -c "'$MOO' status '$id' | grep -q 'signal 9 (KILL)'"
check "and as JSON" sh -c "'$MOO' status --json '$id' | grep -q '\"signal\": 9'"
gc=$(cat "$MOO_ROOT/jobs/$id/work/training_result/grandchild.pid")
sleep 0.2
check "what it left in its group is stopped too" eval "! alive $gc"

# moo cancel: the whole group, grandchildren too; status cancelled.
id=$("$MOO" run -d sleeper)
wait_file "$MOO_ROOT/jobs/$id/work/training_result/grandchild.pid"
gc=$(cat "$MOO_ROOT/jobs/$id/work/training_result/grandchild.pid")
child=$(state_of "$id" pgid)
check "the grandchild runs before the cancel" alive "$gc"
check "moo cancel succeeds" sh -c "'$MOO' cancel --grace 2 '$id' | grep -q cancelled"
check "the status is cancelled" [ "$(status_of "$id")" = cancelled ]
check "the entry point is gone" eval "! alive $child"
check "the grandchild is gone" eval "! alive $gc"
check "cancelling again says it had ended" sh -c "'$MOO' cancel '$id' | grep -q 'had ended already'"
check "the log stays" sh -c "'$MOO' logs '$id' | grep -q started"

# A job that ignores SIGTERM gets SIGKILL after the grace.
project stubborn <<'EOT'
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring TERM", flush=True)
time.sleep(300)
EOT
id=$("$MOO" run -d stubborn)
wait_status "$id" running
wait_file "$MOO_ROOT/jobs/$id/process.log"
check "moo cancel --grace 0.5 ends a job that ignores SIGTERM" \
	sh -c "'$MOO' cancel --grace 1 '$id' >/dev/null && [ \"\$(sed -n 's/^signal=//p' '$MOO_ROOT/jobs/$id/exit')\" = 9 ]"

# The supervisor itself killed outright: no exit file, so the job is lost.
id=$("$MOO" run -d sleeper)
wait_status "$id" running
sup=$(state_of "$id" pid)
kill -KILL "$sup" "-$(state_of "$id" pgid)" 2>/dev/null
check "a job whose supervisor vanished is lost" wait_status "$id" lost

# The same while 'moo run' follows: the supervisor is moo's child until moo exits, so it
# lingers as a zombie; moo must still see it gone and end, not wait for ever.
"$MOO" run sleeper >"$T/fg.out" 2>"$T/fg.err" &
fg=$!
wait_file "$T/fg.err"
i=0
while ! id=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) running.*/\1/p' "$T/fg.err") ||
	[ -z "$id" ]; do
	i=$((i + 1)) && [ $i -lt 100 ] && sleep 0.1 || break
done
wait_status "$id" running
kill -KILL "$(state_of "$id" pid)" "-$(state_of "$id" pgid)" 2>/dev/null
i=0
while kill -0 "$fg" 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1)) && sleep 0.1
done
check "moo run following a job whose supervisor is killed ends" eval "! kill -0 $fg 2>/dev/null"
wait "$fg"
check "... with exit 1" [ $? -eq 1 ]
check "... and the job lost" [ "$(status_of "$id")" = lost ]

# The supervisor writes state with one printf, no rename: a reader that finds it cut short
# (before its last field, command=) takes it as not written yet, and never calls the job lost.
id=$("$MOO" run -d sleeper)
wait_status "$id" running
cp "$MOO_ROOT/jobs/$id/state" "$T/state.whole"
head -n 1 "$T/state.whole" >"$MOO_ROOT/jobs/$id/state"
check "a state cut short leaves a running job running" [ "$(status_of "$id")" = running ]
cp "$T/state.whole" "$MOO_ROOT/jobs/$id/state"
"$MOO" cancel --grace 1 "$id" >/dev/null

# A reused pid: the state names a live process that is not the job (other start time).
id=$("$MOO" run -d sleeper)
wait_status "$id" running
kill -KILL "$(state_of "$id" pid)" "-$(state_of "$id" pgid)" 2>/dev/null
sleep 300 &
impostor=$!
sed -i "s/^pid=.*/pid=$impostor/" "$MOO_ROOT/jobs/$id/state"
check "the impostor pid is alive" kill -0 "$impostor"
check "a reused pid is not mistaken for the job" wait_status "$id" lost 5
kill "$impostor"

# moo rm refuses a running job; -f cancels it first.
id=$("$MOO" run -d sleeper)
wait_status "$id" running
check "moo rm refuses a running job (exit 2)" sh -c "'$MOO' rm '$id' 2>/dev/null; [ \$? -eq 2 ]"
check "moo rm -f cancels and removes it" sh -c "'$MOO' rm -f '$id' >/dev/null && ! test -e '$MOO_ROOT/jobs/$id'"
check "an unknown job is a usage error (2)" sh -c "'$MOO' status moo-job-zzzzzz 2>/dev/null; [ \$? -eq 2 ]"

# A job that removes its output folder and succeeds: exit 0, a warning, no result (no
# result_path, no "result in"); fetch says it left none (2), with a hint. remote.sh: the same.
project nooutput <<'EOT'
import os, shutil
shutil.rmtree(os.environ["MOO_OUTPUT_DIR"])
print("removed")
EOT
"$MOO" run --name none nooutput >out 2>err
check "a job that removes its output folder and succeeds: exit 0" [ $? -eq 0 ]
check "... a warning that it left no output folder" \
	grep -q "^moo: warning: job 'moo-job-[a-z0-9]*' succeeded but left no output folder 'training_result': it has no result$" err
check "... and no 'result in' a folder that is not there" eval "! grep -q 'result in' err"
check "... no result_path" sh -c "'$MOO' show --json none | grep -q '\"result_path\": null'"
id=$("$MOO" status --json none | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$MOO" fetch none -o fetched-none >out 2>err
check "fetch of it: exit 2" [ $? -eq 2 ]
check "... saying it left no result" \
	grep -q "^moo: error: job '$id' left no result: it succeeded with no output folder 'training_result'$" err
check "... with a hint" grep -q "^hint: see what it did with: moo logs $id$" err

# moo fetch: a result file removed after the job ended fails the check as a changed one
# does (6), naming the file missing from the result, not the copy; -o '' is a usage error.
project wrote <<'EOT'
import os
open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "out.txt"), "w").write("result\n")
EOT
"$MOO" run --name mf wrote >/dev/null 2>&1
id=$("$MOO" status --json mf | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
mkdir -p fetched
rm -f "$MOO_ROOT/jobs/$id/work/training_result/out.txt"
"$MOO" fetch mf -o fetched/mf >out 2>err
check "fetch of a result missing a file: exit 6, as moo-fetch(1) says" [ $? -eq 6 ]
check "... naming the missing result file" \
	grep -qF "'$MOO_ROOT/jobs/$id/work/training_result/out.txt' is missing: MANIFEST.sha256 lists it" err
check "... and leaving nothing" [ ! -e fetched/mf ]
# a file added to the result after the job ended is not the job's: refused too
"$MOO" run --name mf2 wrote >/dev/null 2>&1
id=$("$MOO" status --json mf2 | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
echo planted >"$MOO_ROOT/jobs/$id/work/training_result/extra.txt"
"$MOO" fetch mf2 -o fetched/mf2 >out 2>err
check "fetch of a result with a file added since: exit 6" [ $? -eq 6 ]
check "... naming the added file" \
	grep -qF "'$MOO_ROOT/jobs/$id/work/training_result/extra.txt' is not in MANIFEST.sha256" err
check "... and leaving nothing" [ ! -e fetched/mf2 ]
rm "$MOO_ROOT/jobs/$id/work/training_result/extra.txt"
"$MOO" fetch mf2 -o fetched/mf2 >out 2>err
check "... fetched once it is gone" [ "$(cat fetched/mf2/out.txt)" = result ]
"$MOO" fetch mf2 -o fetched/mf2-json --json >out 2>err
check "fetch --json: one document with the id, the path, the files and their bytes" \
	"$MOO_PYTHON" -c "import json,sys; d=json.load(open('out')); sys.exit(not (d['id']=='$id' and d['path']=='fetched/mf2-json' and d['files']==2 and d['bytes']==sum(len(open('fetched/mf2-json/'+f,'rb').read()) for f in ('out.txt','moo.lock'))))"
"$MOO" fetch mf -o '' >out 2>err
check "fetch -o '': a usage error (2)" [ $? -eq 2 ]
check "... saying so" grep -q "option '--output' needs a folder" err
done_testing
