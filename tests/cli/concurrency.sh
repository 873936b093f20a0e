#!/bin/sh
# 50 concurrent 'moo run -d' against one store: 50 records, 50 jobs, none lost.
. "$(dirname "$0")/job-lib.sh"
cd "$T" || exit 1

project tiny <<'EOT'
print("hi")
EOT
i=0
while [ $i -lt 50 ]; do
	"$MOO" run -d tiny >"id.$i" 2>"err.$i" &
	i=$((i + 1))
done
wait
check "all 50 exit 0" sh -c "! grep -l . err.* 2>/dev/null | grep -q ."
check "50 distinct ids" [ "$(cat id.* | sort -u | grep -c '^moo-job-')" -eq 50 ]
check "50 records in the store" [ "$("$MOO" ps -a --json | grep -c '"id"')" -eq 50 ]
check "50 job directories" [ "$(ls "$MOO_ROOT/jobs" | wc -l)" -eq 50 ]
for f in id.*; do wait_status "$(cat "$f")" succeeded 60 || break; done
check "all 50 succeeded" [ "$("$MOO" ps -a --status succeeded --json | grep -c '"id"')" -eq 50 ]
check "every log has its line" sh -c "cat '$MOO_ROOT'/jobs/*/process.log | grep -c '^hi$' | grep -qx 50"
done_testing
