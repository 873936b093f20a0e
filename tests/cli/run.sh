#!/bin/sh
# moo run end to end: the examples, parameters, the runtime check, the verbs around a job.
. "$(dirname "$0")/job-lib.sh"
cd "$T" || exit 1

"$MOO" run "$SRCDIR/examples/sklearn-diabetes" >out 2>err
check "sklearn-diabetes runs and exits 0" [ $? -eq 0 ]
check "it prints the MAE" grep -q '^MAE: [0-9.]*$' out
check "the MAE is a recorded metric" grep -q 'moo:   mae = ' err
id=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "its id looks like moo-job-xxxxxx" sh -c "echo '$id' | grep -qx 'moo-job-[a-z0-9]\{6\}'"
check "the model is in the result folder" test -s "$MOO_ROOT/jobs/$id/work/training_result/model.pkl"
check "the job directory has the documented layout" sh -c "cd '$MOO_ROOT/jobs/$id' &&
	test -f metadata.yaml -a -d work -a -f process.log -a -f state -a -f exit -a -f MANIFEST.sha256"
check "the bundle is kept by its sha256" sh -c "ls '$MOO_ROOT'/bundles/*.zip | grep -q '/[0-9a-f]\{64\}\.zip$'"
sha=$(ls "$MOO_ROOT"/bundles/*.zip | head -n 1 | sed 's#.*/##; s#\.zip$##')
check "the bundle's scan is kept by its sha256 in XDG_CACHE_HOME" sh -c "ls '$XDG_CACHE_HOME'/moo/scans/$sha-*.json"
for f in "$XDG_CACHE_HOME"/moo/scans/"$sha"-*.json; do printf '{"prefix": 3' >"$f"; done
"$MOO" run "$SRCDIR/examples/sklearn-diabetes" >/dev/null 2>err
check "a scan kept broken is scanned again: the run succeeds" grep -q 'succeeded' err
check "... and the scan is kept again, whole" sh -c "cat '$XDG_CACHE_HOME'/moo/scans/$sha-*.json |
	'$MOO_PYTHON' -c 'import json,sys; assert json.load(sys.stdin)[\"files\"]'"
check "moo fetch copies the result, checked against the manifest" \
	sh -c "'$MOO' fetch '$id' -o model >/dev/null && test -s model/model.pkl"
check "the fetched model predicts through predict.py" "$MOO_PYTHON" -c "
import sys; sys.path.insert(0, '$SRCDIR/examples/sklearn-diabetes')
import predict
m = predict.load('model')
p = predict.predict(m, {'instances': [[0.0] * 10]})
assert len(p['predictions']) == 1"
check "moo fetch refuses an existing folder" sh -c "! '$MOO' fetch '$id' -o model 2>/dev/null"
"$MOO" show "$id" >show
check "moo show lists params, metrics, command and paths" sh -c "grep -q 'alpha=0.5' show &&
	grep -q '^  mae ' show && grep -q '^command: .*-u.*train.py' show && grep -q '^result: ' show"
check "metrics.json values are recorded too" grep -q 'n_test .*(metrics.json)' show

# A failing job: exit 1, the end of its log, and it stays listed.
"$MOO" run --name failing "$SRCDIR/examples/fails" >out 2>err
check "a failing job exits 1" [ $? -eq 1 ]
check "its log tail is printed" grep -q 'error: the data ran out at epoch 3' err
fid=$("$MOO" ps -a --name failing --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "it stays listed as failed" sh -c "'$MOO' ps -a | grep '$fid' | grep ' failed ' | grep -q ' exit 1 '"
check "moo ps without -a hides finished jobs" sh -c "! '$MOO' ps | grep -q '$fid'"
check "moo ps --status filters" sh -c "'$MOO' ps --status failed | grep -q '$fid' && ! '$MOO' ps -s succeeded | grep -q '$fid'"
check "its log is still there" sh -c "'$MOO' logs '$fid' | grep -q 'epoch 2: loss'"
check "moo logs --tail 1" sh -c "[ \"\$('$MOO' logs --tail 1 failing)\" = 'error: the data ran out at epoch 3' ]"
check "moo compare shows both jobs side by side" sh -c "'$MOO' compare '$id' '$fid' | grep -q '^mae .*[0-9] *- *$' &&
	'$MOO' compare '$id' '$fid' | grep -q '^loss .*- *0.333'"
check "step= is recorded with the metric" sh -c "'$MOO' show --json '$fid' | grep -q '\"step\": 3'"

# Parameters reach the entry point three ways; --set overrides; env is set.
project p <<'EOT'
import json, os, sys
print("argv", sys.argv[1:])
print("env", os.environ["MOO_PARAM_ALPHA"], os.environ["MOO_PARAM_NAME"], os.environ["GREETING"])
print("params", json.dumps(json.load(open("params.json")), sort_keys=True))
print("job", os.environ["MOO_JOB_ID"], os.path.isabs(os.environ["MOO_OUTPUT_DIR"]), os.path.isdir(os.environ["MOO_OUTPUT_DIR"]))
EOT
cat >>p/metadata.yaml <<'EOT'
training_params:
  alpha: 0.5
  name: "it's $HOME"
  epoch: 3
env:
  GREETING: hello world
EOT
"$MOO" run --set training_params.alpha=0.01 --set env.GREETING=hi p >out 2>err
check "the parameter probe runs" [ $? -eq 0 ]
check "params arrive as --name value in document order" \
	grep -qF "argv ['--alpha', '0.01', '--name', \"it's \$HOME\", '--epoch', '3']" out
check "and as MOO_PARAM_ variables, with the spec's env" grep -qF "env 0.01 it's \$HOME hi" out
check "and as params.json, typed" grep -qF 'params {"alpha": 0.01, "epoch": 3, "name": "it'"'"'s $HOME"}' out
check "MOO_JOB_ID and an absolute MOO_OUTPUT_DIR are set" grep -q '^job moo-job-[a-z0-9]* True True$' out
"$MOO" run --set model.name=x p >/dev/null 2>err
check "--set of anything else is a usage error (2)" [ $? -eq 2 ]

# The runtime: refused with 5 before anything starts, naming what is missing.
project nopy python9.9 <<'EOT'
print("never")
EOT
before=$("$MOO" ps -a --json | grep -c '"id"')
MOO_PYTHON= PATH=/usr/bin:/bin "$MOO" run nopy >out 2>err
check "a missing interpreter exits 5" [ $? -eq 5 ]
check "naming it and what is installed" sh -c "grep -q \"no interpreter 'python9.9'\" err && grep -q 'installed: .*python3' err"
mkdir -p req
cp "$SRCDIR/examples/fails/train.py" req/
cat >req/metadata.yaml <<'EOT'
framework: {name: sklearn, version: "1.2", runtime: {name: python, version: "3", requirement: [moo-no-such-package>=1, numpy]}}
model: {name: req}
entry_point: train.py
EOT
"$MOO" run req >out 2>err
check "a missing requirement exits 5" [ $? -eq 5 ]
check "naming it and what is installed" sh -c "grep -q \"lacks 'moo-no-such-package>=1'\" err && grep -q 'has scikit-learn 1.2' err"
after=$("$MOO" ps -a --json | grep -c '"id"')
check "no job was created for either" [ "$before" = "$after" ]

# -d, --name, rm.
did=$("$MOO" run -d --name quick p)
check "-d prints the job id at once" sh -c "echo '$did' | grep -qx 'moo-job-[a-z0-9]\{6\}'"
check "the job is found by its name" wait_status quick succeeded
check "moo rm removes the record and the directory" sh -c "'$MOO' rm '$did' >/dev/null &&
	! test -e '$MOO_ROOT/jobs/$did' && ! '$MOO' status '$did' 2>/dev/null"
check "the store is at \$MOO_HOME/moo.db (WAL)" test -f "$MOO_HOME/moo.db"
# MANIFEST.sha256 lists what find would, flat folder or nested: hidden and odd names, no
# symlinks.
for shape in flat nested; do
	project "manifest-$shape" <<EOT
import os
o = os.environ["MOO_OUTPUT_DIR"]
for n in ["a.txt", ".hidden", "..dots", "sp ace", "new\\nline", "-dash", "back\\\\slash", "*"]:
    open(os.path.join(o, n), "w").write(n)
os.symlink("/etc/passwd", os.path.join(o, "link"))
if "$shape" == "nested":
    os.makedirs(os.path.join(o, "sub/deeper"))
    open(os.path.join(o, "sub/deeper/f"), "w").write("f")
EOT
	mid=$("$MOO" run -d "manifest-$shape")
	"$MOO" logs -f "$mid" >/dev/null
	check "the manifest of a $shape output folder is find's" sh -c "cd '$MOO_ROOT/jobs/$mid' &&
		(cd work/training_result && find . -type f -exec sha256sum {} + | sort) >expected &&
		sort MANIFEST.sha256 | cmp -s - expected && test \$(wc -l <expected) -ge 8"
done
# The spec's env reaches the entry point as written (the supervisor exports the command's
# NAME=VALUE words itself): nothing in a value is run.
project envjob <<'EOT'
import os
want = "$(touch MARKER); `touch MARKER`; x'y\nz $HOME"
print("intact" if os.environ["EVIL"] == want else "changed: %r" % os.environ["EVIL"])
EOT
cat >>envjob/metadata.yaml <<'EOT'
env:
  EVIL: "$(touch MARKER); `touch MARKER`; x'y\nz $HOME"
EOT
"$MOO" run envjob >out 2>err
check "a hostile env value arrives intact" grep -qx intact out
check "and nothing in it ran" [ -z "$(find "$T" -name MARKER)" ]
# A launcher in front of the interpreter (like a pyenv shim) is left out: the job runs the
# interpreter that answered, by its sys.executable.
mkdir -p launcher/bin
printf '#!/bin/sh\nexec /usr/bin/python3 "$@"\n' >launcher/bin/python3
chmod +x launcher/bin/python3
project viashim <<'EOT'
print("ran")
EOT
lid=$(env -u MOO_PYTHON PATH="$T/launcher/bin:$PATH" "$MOO" run -d viashim)
"$MOO" logs -f "$lid" >/dev/null
check "a launcher on PATH is replaced by the interpreter it runs" sh -c "
	'$MOO' show '$lid' | grep '^command: ' | grep -q \"'/usr/bin/python3' '-u' 'train.py'\""
# A job of half a second lasts half a second: the supervisor's times count from the host's
# boot, which /proc/stat gives in whole seconds (a 0.5 s job was shown as 0.0 s).
project halfsec <<'EOT'
import time
time.sleep(0.5)
EOT
"$MOO" run --name halfsec halfsec >/dev/null 2>err
check "a 0.5 s job says so at its end" grep -q 'succeeded (exit 0) in 0\.[5-9] s' err
check "... and in its record: created <= started < ended, 0.5 s apart" sh -c "'$MOO' ps -a --json |
	'$MOO_PYTHON' -c '
import json, sys
from datetime import datetime
j = [j for j in json.load(sys.stdin) if j[\"name\"] == \"halfsec\"][0]
t = {k: datetime.fromisoformat(j[k].replace(\"Z\", \"+00:00\")).timestamp() for k in (\"created\", \"started\", \"ended\")}
assert t[\"created\"] <= t[\"started\"] < t[\"ended\"], t
assert 0.45 < t[\"ended\"] - t[\"started\"] < 5, t'"
done_testing
