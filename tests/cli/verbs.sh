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
"$MOO" run --set training_params.tag=007 --set training_params.ver=1.10 \
	--set training_params.big=1e3 --set 'training_params.s="12"' params >out 2>err
id=$("$MOO" ps -a --json | jq 'd[0]["id"]')
check "argv keeps the text" grep -q '^argv --alpha 0.3 --tag 007 --ver 1.10 --big 1e3 --s 12$' out
check "MOO_PARAM_* keep the text" \
	grep -q '^env MOO_PARAM_ALPHA=0.3 MOO_PARAM_BIG=1e3 MOO_PARAM_S=12 MOO_PARAM_TAG=007 MOO_PARAM_VER=1.10$' out
check "params.json keeps the text; 007 and \"12\" are strings" \
	grep -q '^json {"alpha":0.3,"tag":"007","ver":1.10,"big":1e3,"s":"12"}$' out
check "show keeps the text" sh -c "'$MOO' show '$id' | grep -q 'params:     alpha=0.3 tag=007 ver=1.10 big=1e3 s=\"12\"$'"
check "show --json: numbers in their shortest form" sh -c "'$MOO' show --json '$id' | grep -q '\"alpha\": 0.3,'"
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
done_testing
