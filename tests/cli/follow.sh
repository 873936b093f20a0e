#!/bin/sh
# Following: moo killed while following leaves the job running, and moo logs -f resumes
# with no line lost or repeated; Ctrl-C detaches with the offset to resume from.
. "$(dirname "$0")/job-lib.sh"
cd "$T" || exit 1

# 60 lines over ~1.5 s, some written in two pieces, so a read can end mid-line.
project talker <<'EOT'
import sys, time
for i in range(1, 61):
    if i % 3 == 0:
        sys.stdout.write("line %d " % i)
        sys.stdout.flush()
        time.sleep(0.01)
        sys.stdout.write("second half\n")
    else:
        sys.stdout.write("line %d\n" % i)
    sys.stdout.flush()
    time.sleep(0.025)
EOT
i=1
while [ $i -le 60 ]; do
	if [ $((i % 3)) -eq 0 ]; then echo "line $i second half"; else echo "line $i"; fi
	i=$((i + 1))
done >expected

# moo killed (SIGKILL) while following.
"$MOO" run talker >a 2>/dev/null &
moo=$!
wait_file a 10
sleep 0.3
kill -KILL $moo
wait $moo 2>/dev/null
id=$("$MOO" ps --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "the job still runs after moo was killed" [ "$(status_of "$id")" = running ]
check "moo logs -f shows every line exactly once" sh -c "'$MOO' logs -f '$id' >b && cmp -s b expected"
check "moo logs -f exits 0 when the job succeeded" sh -c "'$MOO' logs -f '$id' >/dev/null"
check "the job succeeded" [ "$(status_of "$id")" = succeeded ]

# dfl COMMAND...: with SIGINT as by default (sh starts a background command with SIGINT
# ignored, and moo keeps a signal ignored when it starts ignored, as nohup wants)
dfl() { exec "$MOO_PYTHON" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }

# Ctrl-C (SIGINT) detaches, exits 130 and says where to resume. The old a goes first: the
# shell may truncate it only after wait_file has looked.
rm -f a e
dfl "$MOO" run talker >a 2>e &
moo=$!
wait_file a 10
sleep 0.3
kill -INT $moo
wait $moo
rc=$?
check "Ctrl-C while following exits 130" [ $rc -eq 130 ]
id=$(sed -n 's/.*moo logs -f --offset [0-9]* \(moo-job-[a-z0-9]*\)$/\1/p' e)
off=$(sed -n 's/.*moo logs -f --offset \([0-9]*\) .*/\1/p' e)
check "it says how to reattach" [ -n "$id" -a -n "$off" ]
check "the job goes on" [ "$(status_of "$id")" = running ]
"$MOO" logs -f --offset "$off" "$id" >b
check "resuming at the offset loses and repeats nothing" sh -c "cat a b | cmp -s - expected"
"$MOO" logs -f --offset 99999999 "$id" >o 2>e
check "an offset past the end of the log is a usage error (exit 2)" [ $? -eq 2 ]
check "... saying so, not that the job cut its log" grep -q "offset 99999999 is past the end of the log of '$id' ([0-9]* bytes)" e
check "moo logs --tail 2" sh -c "[ \"\$('$MOO' logs --tail 2 '$id' | head -1)\" = 'line 59' ]"
check "moo logs -n 2 -f of a finished job prints the tail and exits" sh -c "'$MOO' logs -n 2 -f '$id' | tail -1 | grep -qx 'line 60 second half'"

# A signal in the moments the job is being started (before its log is followed) is not
# lost: moo stops at once with exit 130, never follows the job to its end nor waits for the
# forced end 5 s later; a job that did start is said detached, and under --json the
# document says "interrupted" and carries the job, still running.
project slow <<'EOT'
import time
time.sleep(15)
EOT
for d in 0.02 0.05 0.08 0.12 0.2 0.3; do
	s0=$(date +%s%N)
	"$MOO" run --json slow >j 2>e &
	moo=$!
	# from when moo catches SIGTERM (before that, under ASan, the default action ends it)
	i=0
	until c=$(awk '/^SigCgt/ {print $2}' "/proc/$moo/status" 2>/dev/null) &&
		[ -n "$c" ] && [ $((0x$c & 0x4000)) -ne 0 ] || [ $i -gt 500 ]; do sleep 0.01; i=$((i + 1)); done
	sleep $d
	kill -TERM $moo
	wait $moo
	rc=$?
	ms=$((($(date +%s%N) - s0) / 1000000))
	res=$("$MOO_PYTHON" - j "$rc" "$ms" <<'EOT'
import json, sys
rc, ms = int(sys.argv[2]), int(sys.argv[3])
try:
    doc = json.load(open(sys.argv[1]))
except ValueError as e:
    print("stdout is no JSON document: %s" % e); sys.exit()
if rc != 130 or ms > 3000:
    print("exit %d after %d ms" % (rc, ms)); sys.exit()
if doc.get("error", {}).get("code") != "interrupted":
    print("error %r" % doc.get("error")); sys.exit()
job = doc.get("job")
if job is not None and (job.get("status") != "running" or not job.get("id")):
    print("job %r" % job); sys.exit()
print("ok %s" % ("detached" if job else "before the job"))
EOT
)
	case $res in
	ok*) ok "SIGTERM ${d}s into 'moo run --json': exit 130 at once, one document ($res)" ;;
	*) not_ok "SIGTERM ${d}s into 'moo run --json': exit 130 at once, one document"; echo "# $res: $(cat j e)" | head -5 ;;
	esac
done
before=$(ls "$MOO_ROOT"/jobs/*/state 2>/dev/null | wc -l)
"$MOO" run slow >/dev/null 2>e &
moo=$!
i=0
while [ "$(ls "$MOO_ROOT"/jobs/*/state 2>/dev/null | wc -l)" = "$before" ] && [ $i -lt 1000 ]; do sleep 0.005; i=$((i + 1)); done
kill -TERM $moo
wait $moo
rc=$?
check "SIGTERM as the job starts: exit 130" [ $rc -eq 130 ]
check "... saying it detached and how to reattach" grep -q "moo logs -f --offset" e
kill_jobs "$MOO_ROOT"/jobs/*/state

# A failed job: moo logs -f exits 1 like moo run.
project bad <<'EOT'
raise SystemExit(3)
EOT
id=$("$MOO" run -d bad)
"$MOO" logs -f "$id" >/dev/null
check "moo logs -f of a failed job exits 1" [ $? -eq 1 ]
done_testing
