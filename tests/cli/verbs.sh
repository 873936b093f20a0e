#!/bin/sh
# The job verbs as a new user finds them (issue 12, issue 13 item 3): pins enforced with
# Debian's python3 (no 'packaging' module), parameters kept as typed, one JSON document per
# --json, a removed host that never hides the other jobs.
. "$(dirname "$0")/job-lib.sh"
cd "$T" || exit 1
PY=/usr/bin/python3
# jq EXPR: a Python expression over the JSON on stdin (d)
jq() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# spec DIR FRAMEWORK VERSION [REQUIREMENT]: a project printing its argv.
spec() {
	mkdir -p "$1"
	echo 'import sys; print("argv", *sys.argv[1:], flush=True)' >"$1/train.py"
	{
		printf 'framework:\n  name: %s\n  version: "%s"\n  runtime:\n    name: python\n    version: "3"\n' "$2" "$3"
		[ -n "${4:-}" ] && printf '    requirement: ["%s"]\n' "$4"
		printf 'model:\n  name: %s\nentry_point: train.py\noutput_folder: out\n' "$(basename "$1")"
	} >"$1/metadata.yaml"
}

# 1. Pins are enforced with an interpreter that lacks 'packaging'.
have=$($PY -c 'import sklearn, numpy; print(sklearn.__version__, numpy.__version__)')
sk=${have% *} np=${have#* }
if $PY -c 'import packaging' 2>/dev/null; then
	not_ok "/usr/bin/python3 has no 'packaging' module (the case this test is for)"
fi
for pin in 1.3 0.9; do
	spec "sk$pin" sklearn "$pin"
	"$MOO" run "sk$pin" >out 2>err
	rc=$?
	check "scikit-learn '$pin' against $sk: exit 5" [ "$rc" = 5 ]
	check "naming the package, the version found and the pin" \
		grep -q "'scikit-learn==$pin\.\*' (has $sk)" err
done
spec np sklearn "${sk%.*}" "numpy==9.9"
"$MOO" run np >out 2>err
rc=$?
check "requirement numpy==9.9 against $np: exit 5" [ "$rc" = 5 ]
check "naming numpy, $np and the pin" grep -q "'numpy==9.9' (has $np)" err
spec ok sklearn "${sk%.*}" "numpy>=1.20,<99,!=1.0.*"
check "a pin that holds runs" sh -c "'$MOO' run ok >out 2>err"

# 2. Parameters keep the text they were given: argv, MOO_PARAM_*, params.json, show and
# reproduce; "VALUE" is text.
mkdir -p params
cat >params/train.py <<'EOT'
import os, sys
print("argv", *sys.argv[1:])
print("env", *sorted(k + "=" + v for k, v in os.environ.items() if k.startswith("MOO_PARAM_")))
print("json", open("params.json").read())
EOT
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: params\nentry_point: train.py\noutput_folder: out\ntraining_params:\n  alpha: 0.3\n' >params/metadata.yaml
"$MOO" run --set +training_params.tag=007 --set +training_params.ver=1.10 \
	--set +training_params.big=1e3 --set '+training_params.s="12"' params >out 2>err
id=$("$MOO" ps -a --json | jq 'd[0]["id"]')
check "argv keeps the text" grep -q '^argv --alpha 0.3 --tag 007 --ver 1.10 --big 1e3 --s 12$' out
check "MOO_PARAM_* keep the text" \
	grep -q '^env MOO_PARAM_ALPHA=0.3 MOO_PARAM_BIG=1e3 MOO_PARAM_S=12 MOO_PARAM_TAG=007 MOO_PARAM_VER=1.10$' out
check "params.json keeps the text; 007 and \"12\" are strings" \
	grep -q '^json {"alpha":0.3,"tag":"007","ver":1.10,"big":1e3,"s":"12"}$' out
check "show keeps the text" sh -c "'$MOO' show '$id' | grep -q 'params:     alpha=0.3 tag=007 ver=1.10 big=1e3 s=\"12\"$'"
check "show --json: numbers in their shortest form" sh -c "'$MOO' show --json '$id' | grep -q '\"alpha\": 0.3,'"
"$MOO" show --json "$id" >out.json 2>err
check "show --json keeps the text: ver 1.10 and big 1e3 numbers written so" \
	sh -c "grep -q '\"ver\": 1.10,\$' out.json && grep -q '\"big\": 1e3,\$' out.json"
check "and 007 and \"12\" strings" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))["params"]
assert d == {"alpha": 0.3, "tag": "007", "ver": 1.1, "big": 1000.0, "s": "12"}, d' out.json
"$MOO" reproduce "$id" >out 2>err
check "reproduce passes the same argv" grep -q '^argv --alpha 0.3 --tag 007 --ver 1.10 --big 1e3 --s 12$' out
check "and the same params.json" \
	grep -q '^json {"alpha":0.3,"tag":"007","ver":1.10,"big":1e3,"s":"12"}$' out

# 7. created <= started <= ended, for every job
check "created <= started <= ended for every job" sh -c "'$MOO' ps -a --json | $PY -c '
import json, sys
for j in json.load(sys.stdin):
    assert j[\"created\"] <= j[\"started\"] <= j[\"ended\"], j
'"

# 3. --set catches typos; +training_params.NAME adds one; run and pack warn as validate does
expect() { # expect NAME CODE COMMAND...: stdout in out, stderr in err
	_d=$1 _w=$2
	shift 2
	"$@" >out 2>err
	_r=$?
	if [ "$_r" = "$_w" ]; then ok "$_d"; else not_ok "$_d"; echo "# exit $_r: $(cat err)"; fi
}
expect "--set of an undeclared parameter is refused (2)" 2 "$MOO" run --set training_params.aplha=0.3 params
check "with did-you-mean" grep -q "did you mean 'alpha'" err
check "and how to add a new one" grep -q "+training_params.aplha=VALUE" err
n_before=$("$MOO" ps -a --json | jq 'len(d)')
check "nothing was started (3 jobs before, got $n_before)" [ "$n_before" = 3 ]
expect "+training_params.NAME adds a parameter" 0 "$MOO" run --set +training_params.seed=3 params
check "which reaches the entry point" grep -q -- "--seed 3" out
printf '  learning_rat: 0.1\n' >>params/metadata.yaml
"$MOO" validate params >/dev/null 2>verr
expect "run of a spec with a near-miss name" 0 "$MOO" run params
check "run warns as validate does" grep -q "did you mean 'learning_rate'" err
check "with validate's words" grep -qF "$(grep warning verr)" err
expect "pack of it" 0 "$MOO" pack params -o "$T/params.zip"
check "pack warns as validate does" grep -qF "$(grep warning verr)" err

# 7, 10. Smaller truths
fid=$("$MOO" ps -a --json | jq '[j for j in d if j["status"] == "succeeded"][0]["id"]')
mkdir -p taken
expect "fetch into an existing folder is exit 2, as moo-fetch(1) says" 2 "$MOO" fetch "$fid" -o taken
check "naming it" grep -q "'taken' exists already" err
mkdir -p nothing
for v in validate run pack inspect resolve; do
	expect "$v of a folder without metadata.yaml: exit 2" 2 "$MOO" $v nothing
done
mkdir -p tabbed && printf 'framework:\n\tname: python\n' >tabbed/metadata.yaml
expect "a tab in YAML is invalid (3)" 3 "$MOO" validate tabbed
check "the error names the tab" grep -q "metadata.yaml:2:1: error: invalid YAML: a tab" err
mkdir -p unclosed && printf 'framework:\n  name: sklearn\n  version: "1.2\n  runtime: python3\nmodel:\n  name: x\nentry_point: train.py\n' >unclosed/metadata.yaml
expect "a quote never closed is invalid (3)" 3 "$MOO" validate unclosed
check "the error names where the quote opens, not a line past the end" grep -q "metadata.yaml:3:12: error: invalid YAML: the file ends inside a quoted string" err
mkdir -p nullp && printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: x\nentry_point: train.py\ntraining_params:\n  alpha:\n' >nullp/metadata.yaml
touch nullp/train.py
expect "a parameter without a value is invalid (3)" 3 "$MOO" validate nullp
check "the error names the parameter" grep -q "metadata.yaml:9:3: error: parameter 'training_params.alpha' has no value" err
expect "moo help help" 0 "$MOO" help help
check "says what help does" grep -q "usage: moo help" out
expect "moo help --help" 0 "$MOO" help --help
check "... is help's usage" grep -q "usage: moo help" out
expect "moo help -h" 0 "$MOO" help -h
expect "moo logs -n -5: a negative count is refused (2)" 2 "$MOO" logs -n -5 "$fid"
check "... naming the option" grep -q "option '--tail' needs a number of 0 or more" err
expect "moo pack DIR/metadata.yaml packs DIR (0)" 0 "$MOO" pack "$SRCDIR/examples/sklearn-diabetes/metadata.yaml" -o m1.zip
"$MOO" pack "$SRCDIR/examples/sklearn-diabetes" -o m2.zip >/dev/null 2>&1
check "... the same bundle as of DIR" cmp -s m1.zip m2.zip
expect "moo run -d DIR/metadata.yaml runs DIR (0)" 0 "$MOO" run -d "$SRCDIR/examples/sklearn-diabetes/metadata.yaml"

# 8. Metrics while it runs; compare shows the parameters that differ
mkdir -p slow
cat >slow/train.py <<'EOT'
import os, sys, time
print("moo:metric loss=0.75 step=1", flush=True)
while not os.path.exists(os.environ["MOO_OUTPUT_DIR"] + "/../../go"):
    time.sleep(0.05)
print("moo:metric loss=0.5 step=2", flush=True)
EOT
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: slow\nentry_point: train.py\noutput_folder: out\ntraining_params:\n  alpha: 0.3\n  seed: 1\n' >slow/metadata.yaml
s1=$("$MOO" run -d slow)
s2=$("$MOO" run -d --set training_params.alpha=0.1 slow)
wait_status "$s1" running
i=0
until grep -q 'loss=0.75' "$MOO_ROOT/jobs/$s1/process.log" 2>/dev/null || [ $i -gt 200 ]; do sleep 0.05; i=$((i + 1)); done
check "ps shows the metric of a running job" sh -c "'$MOO' ps | grep '$s1' | grep -q 'loss=0.75'"
check "show too" sh -c "'$MOO' show '$s1' | grep -q 'loss *0.75 *step 1'"
check "compare too" sh -c "'$MOO' compare '$s1' | grep -q '^loss *0.75'"
touch "$MOO_ROOT/jobs/$s1/go" "$MOO_ROOT/jobs/$s2/go"
wait_status "$s1" succeeded
wait_status "$s2" succeeded
"$MOO" compare "$s1" "$s2" >out
check "compare shows the parameter that differs" grep -q '^alpha= *0.3 *0.1 *$' out
check "not the ones that are the same" eval "! grep -q '^seed=' out"
check "and the final metrics" grep -q '^loss *0.5 *0.5 *$' out

# 9. Packing never pollutes the project
cp -r "$SRCDIR/examples/sklearn-diabetes" mk
sha() { "$MOO" pack -o "$T/probe.zip" mk 2>/dev/null | cut -d' ' -f1; }
s0=$(sha)
(cd mk && "$MOO" pack >/dev/null 2>&1)
check "cd proj && moo pack writes the ZIP beside the project" test -f mk.zip
check "not inside it" eval "! ls mk/*.zip 2>/dev/null"
(cd mk && "$MOO" pack -o other.zip >/dev/null 2>&1)
check "a ZIP pack wrote inside the project (-o) is not bundled next time" [ "$(sha)" = "$s0" ]
if command -v make >/dev/null; then
	(cd mk && make MOO="$MOO" >/dev/null 2>&1)
	j1=$(cat mk/.job)
	check "make trains and fetches the model" test -d mk/model
	check "the job stamp and the fetched model are not bundled" [ "$(sha)" = "$s0" ]
	(cd mk && make MOO="$MOO" >/dev/null 2>&1)
	check "make again does not train again" [ "$(cat mk/.job)" = "$j1" ]
	(cd mk && make MOO="$MOO" ALPHA=0.1 >/dev/null 2>&1)
	j2=$(cat mk/.job)
	check "make ALPHA=0.1 trains again" [ "$j2" != "$j1" ]
	check "with alpha 0.1" sh -c "'$MOO' show '$j2' | grep -q 'alpha=0.1 '"
	check "the bundle's sha256 stays the same" [ "$(sha)" = "$s0" ]
else
	not_ok "make is installed (.ci/packages)"
fi
"$MOO" fetch "$j1" >/dev/null 2>&1 && mv "$j1" mk/
check "a result fetched into the project (./JOB) is not bundled" [ "$(sha)" = "$s0" ]

# 7. resolve --accelerator gpu on a host without a GPU says so
if ! command -v nvidia-smi >/dev/null; then
	mkdir -p gpu && printf 'framework:\n  name: pytorch\n  version: "2.1"\n  runtime: python3.10\nmodel:\n  name: g\nentry_point: train.py\n' >gpu/metadata.yaml && touch gpu/train.py
	expect "resolve --offline --accelerator gpu here (no GPU)" 0 "$MOO" resolve --offline -o - --accelerator gpu gpu
	check "warns that the host has no GPU and run refuses it" grep -q "warning: the host has no GPU: accelerator 'gpu' resolves, but moo run there refuses it" err
	# an nvidia-smi that answers as the H100 host's did (tests/fixtures): the facts are kept,
	# and moo hosts check local is how they are probed again
	FX=$MOO_SRC/tests/fixtures/gpu-host-h100
	mkdir -p fakebin && printf '#!/bin/sh\ncase "$*" in --query-gpu*) cat "%s/query-gpu.csv" ;; *) cat "%s/nvidia-smi.txt" ;; esac\n' "$FX" "$FX" >fakebin/nvidia-smi && chmod 755 fakebin/nvidia-smi
	PATH0=$PATH
	PATH=$T/fakebin:$PATH
	expect "hosts check local with a GPU now" 0 "$MOO" hosts check local
	check "... which it reports" grep -q "NVIDIA H100" out
	expect "resolve after it" 0 "$MOO" resolve --offline -o - --accelerator gpu gpu
	PATH=$PATH0
	check "... takes the facts hosts check probed: no 'no GPU' warning" sh -c "! grep -q 'the host has no GPU' err"
	expect "hosts check local without it again" 0 "$MOO" hosts check local
	check "... prints host local, not (null)" sh -c "grep -q '^host       local (this machine)' out && ! grep -q null out"
fi

# 10. inspect and validate show the runtime alike
mkdir -p rt && printf 'framework:\n  name: python\n  version: "3"\n  runtime:\n    name: python\n    version: "3.11"\nmodel:\n  name: rt\nentry_point: train.py\n' >rt/metadata.yaml && touch rt/train.py
v=$("$MOO" validate rt | sed -n 's/.*, \(runtime [^,]*\),.*/\1/p')
check "validate says 'runtime python3.11'" [ "$v" = "runtime python3.11" ]
check "inspect says the same" sh -c "'$MOO' inspect rt | grep -q '^framework   python 3, $v\$'"

# 10. every problem is reported: a missing entry point beside the spec's other errors
mkdir -p twoerr && printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: x\n  verison: 1\nentry_point: train.py\n' >twoerr/metadata.yaml
expect "validate of a spec with an error and a missing entry point" 3 "$MOO" validate twoerr
check "names the spec's error" grep -q "unknown key 'verison'" err
check "and the missing file beside it" grep -q "entry_point 'train.py' does not exist" err
for v in run pack; do
	expect "$v of that project exits 3" 3 "$MOO" $v twoerr
	check "... with the spec's error and the missing file together" sh -c "grep -q \"unknown key 'verison'\" err && grep -q \"entry_point 'train.py' does not exist\" err"
done

# 4. Every verb's --json, success and failure: exactly one JSON document on stdout with the
# keys moo(1) documents; a job's log on stderr; times in one form; no float artefacts.
cat >keys.py <<'EOT'
import json, re, sys
verb, want = sys.argv[1], sys.argv[2]
text = open("o").read()
d = json.loads(text)  # the whole of stdout: one document
T = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JOB = "id name status host created started ended exit_code signal source source_sha256 dir result_path bytes_sent metrics".split()
shapes = {
    "error": ["error", "errors"],
    "job": JOB, "full": JOB + "pid command output_folder params spec lock".split(),
    "validate": ["path", "valid", "diagnostics"],
    "inspect": "source sha256 size prefix spec files bytes valid".split(),
    "inspect-fail": ["source", "valid", "diagnostics"],
    "resolve-fail": ["source", "resolved", "diagnostics"],
    "init": ["dir", "template", "files"], "pack": "path sha256 size files dirs bytes".split(),
}
def job(j, keys):
    missing = [k for k in keys if k not in j]
    assert not missing, (verb, "missing", missing)
    for k in ("created", "started", "ended"):
        assert j[k] is None or T.match(j[k]), (verb, k, j[k])
if want == "ps":
    assert isinstance(d, list) and d, d
    for j in d:
        job(j, JOB + ["problem"])
elif want == "compare":
    assert all(isinstance(v, dict) for v in d.values()), d
elif want in ("job", "full"):
    job(d, shapes[want])
else:
    missing = [k for k in shapes[want] if k not in d]
    assert not missing, (verb, "missing", missing, d)
if want == "error":
    e = d["error"]
    for k in "severity code file line column message hint cause".split():
        assert k in e, (verb, "error lacks", k)
    assert e["line"] is None or e["line"] > 0, e
    assert e["severity"] == "error" and e["message"], e
    assert d["errors"][0] == e, (verb, "errors[0] is not error", d)
# no float artefacts anywhere: no number with 16 or more significant digits
assert not re.search(r"\d\.\d{15,}|\d{10}\.\d{6,}", text), (verb, re.findall(r"[\d.]{17,}", text))
EOT
# j NAME WANT-EXIT SHAPE ARGS...: one document of that shape, and that exit status
j() {
	_name=$1 _want=$2 _shape=$3
	shift 3
	"$MOO" "$@" >o 2>e
	_rc=$?
	if [ "$_rc" = "$_want" ] && _why=$($PY keys.py "$_name" "$_shape" 2>&1); then
		ok "--json: $_name"
	else
		not_ok "--json: $_name"
		printf '# exit %s (wanted %s): %s\n# stdout: %s\n# stderr: %s\n' "$_rc" "$_want" \
			"$_why" "$(head -c 300 o)" "$(head -c 300 e)"
	fi
}
mkdir -p jp
printf 'import time\nprint("hello on the log", flush=True)\nprint("moo:metric loss=0.3 mae=45.4951", flush=True)\n' >jp/train.py
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: jp\nentry_point: train.py\noutput_folder: out\ntraining_params:\n  alpha: 0.3\n' >jp/metadata.yaml
mkdir -p nospec
j "run" 0 full run --json jp
check "run --json: the job's log goes to stderr" grep -q "hello on the log" e
check "run --json: none of it on stdout" eval "! grep -q 'hello on the log' o"
id=$($PY -c 'import json; print(json.load(open("o"))["id"])')
j "run -d" 0 full run -d --json jp
j "run, no such project" 2 error run --json nosuch
j "run, a bad --set" 2 error run --json --set nodot jp
j "reproduce" 0 full reproduce --json "$id"
j "reproduce, no such job" 2 error reproduce --json moo-job-nosuch
j "status" 0 job status --json "$id"
j "status, no such job" 2 error status --json moo-job-nosuch
j "show" 0 full show --json "$id"
j "show, no such job" 2 error show --json moo-job-nosuch
j "status --on another host than the job's" 2 error status --json --on elsewhere "$id"
check "... which it names, with the host the job runs on" grep -q "runs on 'local', not on 'elsewhere'" o
j "ps -a" 0 ps ps -a --json
j "ps, a bad status" 2 error ps --json --status bogus
j "ps, an unknown option" 2 error ps --json --bogus
j "compare" 0 compare compare --json "$id" "$id"
j "compare, no such job" 2 error compare --json "$id" moo-job-nosuch
j "validate" 0 validate validate --json jp
j "validate, no metadata.yaml" 2 validate validate --json nospec
j "inspect" 0 inspect inspect --json jp
j "inspect, no such source" 2 inspect-fail inspect --json nosuch
j "init" 0 init init --json fresh
j "init, no such template" 2 error init --json --template nosuch other
j "pack" 0 pack pack --json jp -o jp.zip
j "pack, no such folder" 2 error pack --json nosuch
j "resolve, no metadata.yaml" 2 resolve-fail resolve --json nospec
j "hosts check, an unknown host" 2 error hosts check --json nosuch.invalid
check "the metric value as written, not 45.495100000000001" \
	sh -c "'$MOO' show --json '$id' | grep -q '\"value\": 45.4951,'"

# 9. Names: none that cannot be reached; a name that is also another job's start is said to be
for bad in '' 'a:1' "$(printf 'a\tb')" moo-job-abcdef moo-sweep-x; do
	"$MOO" run --name "$bad" ok >out 2>err
	rc=$?
	check "run --name '$bad': a usage error (exit 2), nothing started" sh -c "[ $rc = 2 ] && grep -q 'cannot be a job.s name' err && ! grep -q . out"
done
"$MOO" run -d ok >out 2>err && a=$(cat out)
pre=$(printf '%s' "${a#moo-job-}" | cut -c1-4)
"$MOO" run -d --name "$pre" ok >/dev/null 2>&1
"$MOO" status "$pre" >out 2>err
rc=$?
check "a name ($pre) that is also the start of another job's id: exit 2" [ "$rc" = 2 ]
check "... saying it is both" grep -q "'$pre' is the name of 'moo-job-[a-z0-9]*' and the start of '$a'" err
check "... and the whole id still finds that job" sh -c "'$MOO' status '$a' >/dev/null 2>&1"
# 10. A running job whose folder was removed by hand is lost at once (not 'running' for a
# minute), and moo rm then forgets it
mkdir -p slow && printf 'import time\nprint("up", flush=True)\ntime.sleep(30)\n' >slow/train.py &&
	sed 's/name: ok/name: slow/' ok/metadata.yaml >slow/metadata.yaml
g=$("$MOO" run -d slow)
wait_status "$g" running 20
kill -KILL "-$(state_of "$g" pgid)" "$(state_of "$g" pid)" 2>/dev/null
rm -rf "$MOO_ROOT/jobs/$g"
check "a job whose folder is gone is lost at once" wait_status "$g" lost 3
check "... and moo rm forgets it" sh -c "'$MOO' rm '$g' >/dev/null 2>&1 && ! '$MOO' status '$g' >/dev/null 2>&1"
"$MOO" compare --by mae moo-sweep-nope >out 2>err
check "compare --by of a sweep that does not exist: exit 2, saying there is no such sweep" sh -c "[ $? = 2 ] && grep -q \"no sweep 'moo-sweep-nope'\" err"
for f in '' 'running,'; do
	check "ps -s '$f' names no status: a usage error (exit 2), not every job" sh -c "'$MOO' ps -s '$f' >/dev/null 2>&1; [ \$? = 2 ]"
done
done_testing
