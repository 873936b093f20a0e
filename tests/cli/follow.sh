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

# Ctrl-C (SIGINT) detaches, exits 130 and says where to resume. The old a goes first: the
# shell may truncate it only after wait_file has looked, and a SIGINT sent before moo
# follows is ignored (a background command starts with SIGINT ignored).
rm -f a e
"$MOO" run talker >a 2>e &
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
check "moo logs --tail 2" sh -c "[ \"\$('$MOO' logs --tail 2 '$id' | head -1)\" = 'line 59' ]"
check "moo logs -n 2 -f of a finished job prints the tail and exits" sh -c "'$MOO' logs -n 2 -f '$id' | tail -1 | grep -qx 'line 60 second half'"

# A failed job: moo logs -f exits 1 like moo run.
project bad <<'EOT'
raise SystemExit(3)
EOT
id=$("$MOO" run -d bad)
"$MOO" logs -f "$id" >/dev/null
check "moo logs -f of a failed job exits 1" [ $? -eq 1 ]
done_testing
