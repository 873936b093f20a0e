#!/bin/sh
# moo reproduce: a seeded sklearn job run again from its moo.lock gives the same metrics;
# the lock travels with the job (job folder, result folder) unchanged; a bundle that is no
# longer the one the job ran is refused.
. "$MOO_SRC/tests/cli/job-lib.sh"
cd "$T" || exit 1

metrics_of() { # the job's final metrics as "name=value …", from moo show --json
	"$MOO" show --json "$1" | "$MOO_PYTHON" -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join("%s=%r" % (m["name"], m["value"]) for m in j["metrics"]))'
}

job=$("$MOO" run -d --set training_params.alpha=0.25 --set training_params.seed=7 \
	"$SRCDIR/examples/sklearn-diabetes")
check "a seeded sklearn job starts" [ -n "$job" ]
check "and succeeds" wait_status "$job" succeeded 60
check "its moo.lock is in the job folder" [ -s "$MOO_ROOT/jobs/$job/moo.lock" ]
check "and in its result folder" cmp -s "$MOO_ROOT/jobs/$job/moo.lock" \
	"$MOO_ROOT/jobs/$job/work/training_result/moo.lock"
check "the result's MANIFEST.sha256 covers the lock" grep -q 'moo.lock' "$MOO_ROOT/jobs/$job/MANIFEST.sha256"
sha=$("$MOO_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["bundle"]["sha256"])' "$MOO_ROOT/jobs/$job/moo.lock")
check "the lock names the job's bundle" [ -s "$MOO_ROOT/bundles/$sha.zip" ]

"$MOO" reproduce "$job" >out 2>err
check "moo reproduce reruns it and exits 0" [ $? -eq 0 ]
again=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
check "a new job" [ -n "$again" -a "$again" != "$job" ]
first=$(metrics_of "$job")
second=$(metrics_of "$again")
check "with metrics" [ -n "$first" ]
if [ "$first" = "$second" ]; then ok "the same metrics twice ($first)"; else
	not_ok "the same metrics twice"; echo "# $first"; echo "# $second"; fi
check "the same parameters (alpha 0.25, seed 7)" grep -q 'Ridge(alpha=0.25)' "$MOO_ROOT/jobs/$again/process.log"
check "the same lock: bundle, image, digest" cmp -s "$MOO_ROOT/jobs/$job/moo.lock" "$MOO_ROOT/jobs/$again/moo.lock"

# A bundle changed behind moo's back is not the job's bundle any more.
chmod u+w "$MOO_ROOT/bundles/$sha.zip"
printf 'x' >>"$MOO_ROOT/bundles/$sha.zip"
"$MOO" reproduce "$job" >out 2>err
code=$?
check "a changed bundle is refused (exit 3)" [ "$code" -eq 3 ]
check "naming the sha256" grep -q "$sha" err
"$MOO" reproduce --on gpu1 "$job" >out 2>err
check "--on another host is a usage error for now (exit 2)" [ $? -eq 2 ]
"$MOO" reproduce moo-job-nosuch >out 2>err
check "an unknown job is exit 2" [ $? -eq 2 ]

done_testing
