#!/bin/sh
# moo diff: two runs that differ in a parameter and in their interpreter's packages show
# exactly that (human and --json); parameters compare and show by the text they were given;
# a job against itself shows no differences; an unknown job is exit 2 with one JSON document.
. "$MOO_SRC/tests/cli/job-lib.sh"
cd "$T" || exit 1

a=$("$MOO" run -d --set training_params.alpha=0.25 "$SRCDIR/examples/sklearn-diabetes")
wait_status "$a" succeeded 60
/usr/bin/python3 -m venv --system-site-packages --without-pip venv
site=$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir "$site/moofake-1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: moofake\nVersion: 1.0\n' >"$site/moofake-1.0.dist-info/METADATA"
b=$(MOO_PYTHON="$T/venv/bin/python" "$MOO" run -d "$SRCDIR/examples/sklearn-diabetes")
wait_status "$b" succeeded 60

"$MOO" diff "$a" "$b" >out 2>err
check "moo diff of two runs exits 0" [ $? -eq 0 ]
check "it shows the parameter that differs, a then b" grep -q '^parameter    alpha: 0.25 -> 0.5$' out
check "and the package only b's interpreter has" grep -q '^package      + moofake 1.0$' out
check "and the interpreters" grep -q "^interpreter  /usr/bin/python3 -> $T/venv/bin/python\$" out
check "and nothing else: the same bundle and host" sh -c "! grep -q '^bundle\|^host\|^driver' out"

"$MOO" diff --json "$a" "$b" >out.json 2>err
check "--json prints one JSON document" "$MOO_PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' out.json
check "with the differences" "$MOO_PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["same"] is False, d
x = d["differences"]
assert x["parameters"] == {"alpha": {"a": 0.25, "b": 0.5}}, x["parameters"]
assert x["packages"]["added"] == [{"name": "moofake", "version": "1.0"}], x["packages"]
assert x["packages"]["removed"] == [] and x["packages"]["changed"] == [], x["packages"]
assert "bundle" not in x and "host" not in x, x' out.json

"$MOO" diff "$a" "$a" >out 2>err
check "a job against itself: no differences" grep -q '^no differences$' out
"$MOO" diff --json "$a" "$a" >out.json 2>err
check "and 'same': true" "$MOO_PYTHON" -c 'import json,sys; assert json.load(open(sys.argv[1]))["same"] is True' out.json

# Parameters differ by the text they were given: 1.10 stays 1.10, 1 is not 1.0, nor 1.0 1.00.
run_alpha() { "$MOO" run -d --set "training_params.alpha=$1" "$SRCDIR/examples/sklearn-diabetes"; }
p110=$(run_alpha 1.10) p1=$(run_alpha 1) p10=$(run_alpha 1.0) p100=$(run_alpha 1.00)
for j in "$p110" "$p1" "$p10" "$p100"; do wait_status "$j" succeeded 60; done
"$MOO" diff "$a" "$p110" >out 2>err
check "1.10 is shown as given" grep -q '^parameter    alpha: 0.25 -> 1.10$' out
"$MOO" diff --json "$a" "$p110" >out.json 2>err
check "and in --json, a number written 1.10" grep -q '"b": 1.10$' out.json
"$MOO" diff "$p1" "$p10" >out 2>err
check "1 and 1.0 differ, each shown as given" grep -q '^parameter    alpha: 1 -> 1.0$' out
"$MOO" diff "$p10" "$p100" >out 2>err
check "1.0 and 1.00 differ (the entry point got different argv)" \
	grep -q '^parameter    alpha: 1.0 -> 1.00$' out
"$MOO" diff --json "$p10" "$p100" >out.json 2>err
check "and --json says they are not the same, with each text" "$MOO_PYTHON" -c '
import decimal, json, sys
d = json.load(open(sys.argv[1]), parse_float=decimal.Decimal)
assert d["same"] is False, d
x = d["differences"]["parameters"]["alpha"]
assert (str(x["a"]), str(x["b"])) == ("1.0", "1.00"), x' out.json

"$MOO" diff --json "$a" moo-job-nosuch >out.json 2>err
check "an unknown job is exit 2" [ $? -eq 2 ]
check "still with one JSON document on stdout" "$MOO_PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' out.json
"$MOO" diff "$a" >out 2>err
check "one job is a usage error" [ $? -eq 2 ]
done_testing
