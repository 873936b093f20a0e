#!/bin/sh
# moo reproduce: a seeded sklearn job run again from its moo.lock gives the same metrics;
# the lock travels with the job (job folder, result folder) and records what ran (the
# interpreter and every package it imports, as the job itself sees them); a package removed
# between run and reproduce is named in the refusal (exit 5) unless --allow-drift; a bundle
# that is no longer the one the job ran is refused.
. "$MOO_SRC/tests/cli/job-lib.sh"
cd "$T" || exit 1

# lockf FILE EXPR: a field of a moo.lock, as Python prints it
lockf() { "$MOO_PYTHON" -c 'import json,sys; l=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

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
check "the store keeps the same lock (moo show --json)" sh -c "'$MOO' show --json '$job' |
	'$MOO_PYTHON' -c 'import json,sys; d=json.load(sys.stdin); assert d[\"lock\"] == json.load(open(sys.argv[1]))' '$MOO_ROOT/jobs/$job/moo.lock'"

"$MOO" reproduce "$job" >out 2>err
check "moo reproduce reruns it and exits 0" [ $? -eq 0 ]
again=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
check "a new job" [ -n "$again" -a "$again" != "$job" ]
check "its line names the interpreter of the host runtime, not (null)" \
	grep -q "^moo: job $again reproduces $job (bundle [0-9a-f]\\{12\\}, /[^()]*python[^()]*)$" err
first=$(metrics_of "$job")
second=$(metrics_of "$again")
check "with metrics" [ -n "$first" ]
if [ "$first" = "$second" ]; then ok "the same metrics twice ($first)"; else
	not_ok "the same metrics twice"; echo "# $first"; echo "# $second"; fi
check "the same parameters (alpha 0.25, seed 7)" grep -q 'Ridge(alpha=0.25)' "$MOO_ROOT/jobs/$again/process.log"
same_lock() { # what ran is the same: runtime, bundle, interpreter, packages, image
	for f in 'l["runtime"]' 'l["bundle"]["sha256"]' 'l["interpreter"]' 'l["image"]'; do
		[ "$(lockf "$1" "$f")" = "$(lockf "$2" "$f")" ] || { echo "# $f differs"; return 1; }
	done
}
check "the same lock: runtime, bundle, interpreter, packages" same_lock \
	"$MOO_ROOT/jobs/$job/moo.lock" "$MOO_ROOT/jobs/$again/moo.lock"
# diff_json EXIT EXPR JOB...: moo diff --json exits EXIT with one document where EXPR holds
diff_json() {
	_want=$1 _expr=$2; shift 2
	"$MOO" diff --json "$@" >"$T/diff.out" 2>/dev/null
	_got=$?
	[ "$_got" = "$_want" ] || { echo "exit $_got, wanted $_want"; cat "$T/diff.out"; return 1; }
	"$MOO_PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert eval(sys.argv[2]), d' \
		"$T/diff.out" "$_expr"
}
check "moo diff --json: the job and its reproduction are the same" diff_json 0 'd["same"] is True' "$job" "$again"
check "moo diff --json with an unknown job: exit 2 and one JSON error naming it" \
	diff_json 2 'd["error"]["message"] == "no job \x27no-such-job\x27"' "$job" no-such-job
check "moo diff --json with one job: exit 2, the error's code is usage" \
	diff_json 2 'd["error"]["code"] == "usage"' "$job"
cp -R "$SRCDIR/examples/sklearn-diabetes" "$T/alpha01"
sed -i 's/^  alpha: 0.5$/  alpha: 0.1/' "$T/alpha01/metadata.yaml"
"$MOO" run "$T/alpha01" >/dev/null 2>&1
a01=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
"$MOO" diff "$a01" "$job" >"$T/diff.txt" 2>&1
check "moo diff prints a float parameter of metadata.yaml as 0.1 (not 0.10000000000000001)" \
	grep -q '^parameter    alpha: 0.1 -> 0.25$' "$T/diff.txt"
L=$MOO_ROOT/jobs/$job/moo.lock
check "the lock records the host runtime" [ "$(lockf "$L" 'l["runtime"]')" = host ]
check "and the interpreter that ran" [ "$(lockf "$L" 'l["interpreter"]["path"]')" = \
	"$("$MOO_PYTHON" -c 'import sys; print(sys.executable)')" ]
check "and this machine's facts, probed (OS, CPUs)" [ "$(lockf "$L" \
	'l["host"]["facts"]["cpus"] > 0 and l["host"]["facts"]["os"]["id"] is not None')" = True ]

# The lock's packages are what the job's own interpreter imports (importlib.metadata, the
# first of a name on sys.path).
mkdir pk && cp "$SRCDIR"/examples/sklearn-diabetes/* pk/ && cat >pk/train.py <<'PY'
import os
from importlib.metadata import distributions
seen = {}
for d in distributions():
    n = d.metadata["Name"]
    if n and n.lower().replace("_", "-") not in seen:
        seen[n.lower().replace("_", "-")] = "%s==%s" % (n, d.version)
with open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "packages.txt"), "w") as f:
    f.write("\n".join(seen[k] for k in sorted(seen)) + "\n")
PY
pj=$("$MOO" run -d pk)
wait_status "$pj" succeeded 60
lockf "$MOO_ROOT/jobs/$pj/moo.lock" '"\n".join(l["interpreter"]["packages"])' >pk.lock
check "the lock lists every package the job's interpreter reports ($(wc -l <pk.lock) of them)" \
	sh -c "[ \$(wc -l <pk.lock) -gt 5 ] && cmp pk.lock '$MOO_ROOT/jobs/$pj/work/training_result/packages.txt'"

# A distribution removed from a venv between run and reproduce: named in the refusal.
/usr/bin/python3 -m venv --system-site-packages --without-pip venv
site=$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir "$site/moofake-1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: moofake\nVersion: 1.0\n' >"$site/moofake-1.0.dist-info/METADATA"
vj=$(MOO_PYTHON="$T/venv/bin/python" "$MOO" run -d "$SRCDIR/examples/sklearn-diabetes")
wait_status "$vj" succeeded 60
check "the venv job's lock has its distribution" [ "$(lockf "$MOO_ROOT/jobs/$vj/moo.lock" \
	'"moofake==1.0" in l["interpreter"]["packages"]')" = True ]
rm -r "$site/moofake-1.0.dist-info"
MOO_PYTHON="$T/venv/bin/python" "$MOO" reproduce "$vj" >out 2>err
check "reproducing it after the package went is refused with exit 5" [ $? -eq 5 ]
check "naming the package that is gone" grep -q "package 'moofake' 1.0 is in the lock but not installed" err
check "and how to run anyway" grep -q -- "--allow-drift" err
MOO_PYTHON="$T/venv/bin/python" "$MOO" reproduce --json "$vj" >out 2>err
check "--json: the refusal's document lists the difference in errors" "$MOO_PYTHON" -c '
import json, sys
d = json.load(open("out"))
assert d["error"]["code"] == "resolve", d
assert any("moofake" in e["message"] for e in d["errors"]), d' 
before=$(ls "$MOO_ROOT/jobs" | wc -l)
MOO_PYTHON="$T/venv/bin/python" "$MOO" reproduce "$vj" >out 2>err
check "nothing is created by a refused reproduce" [ "$(ls "$MOO_ROOT/jobs" | wc -l)" -eq "$before" ]
MOO_PYTHON="$T/venv/bin/python" "$MOO" reproduce --allow-drift "$vj" >out 2>err
check "--allow-drift runs it all the same" [ $? -eq 0 ]

# A user site-packages made between run and reproduce (a first 'pip install --user'): the
# package cache must not hide it. Then PYTHONPATH: what it adds is in the lock.
mkdir -p "$T/h4" "$T/pp/zzpp-1.0.dist-info"
usite=$(HOME="$T/h4" "$MOO_PYTHON" -c 'import site; print(site.getusersitepackages())')
uj=$(HOME="$T/h4" "$MOO" run -d "$SRCDIR/examples/sklearn-diabetes")
wait_status "$uj" succeeded 60
mkdir -p "$usite/zzfake-1.0.dist-info"
printf 'Metadata-Version: 2.1\nName: zzfake\nVersion: 1.0\n' >"$usite/zzfake-1.0.dist-info/METADATA"
HOME="$T/h4" "$MOO" reproduce "$uj" >out 2>err
check "a user site-packages made after the run: reproduce refuses (exit 5)" [ $? -eq 5 ]
check "... naming the package in it" grep -q "package 'zzfake' 1.0 is installed but not in the lock" err
printf 'Metadata-Version: 2.1\nName: zzpp\nVersion: 1.0\n' >"$T/pp/zzpp-1.0.dist-info/METADATA"
pj2=$(PYTHONPATH="$T/pp" "$MOO" run -d "$SRCDIR/examples/sklearn-diabetes")
wait_status "$pj2" succeeded 60
check "a distribution PYTHONPATH adds is in the lock of a job run with it" [ "$(lockf "$MOO_ROOT/jobs/$pj2/moo.lock" \
	'"zzpp==1.0" in l["interpreter"]["packages"]')" = True ]

# --on another host: the same bundle and parameters, there (a loopback sshd); and a job
# that ran on a host is reproduced there again from the lock its pulled result carries.
. "$MOO_SRC/tests/lib/sshd.sh"
if sshd_setup && sshd_start; then
	cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
	mkdir -p "$T/remote"
	"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root \
		--root "$T/remote" >/dev/null
	"$MOO" reproduce --on h1 "$job" >out 2>err
	check "moo reproduce --on h1 runs it there and exits 0" [ $? -eq 0 ]
	there=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
	check "on h1" sh -c "'$MOO' show --json '$there' | grep -q '\"host\": *\"h1\"'"
	check "with the same metrics" [ "$(metrics_of "$there")" = "$first" ]
	check "its lock records h1 and h1's probed facts (its root, its host key), not this machine's" \
		[ "$(lockf "$T/remote/jobs/$there/moo.lock" \
		'l["host"]["name"] + " " + l["host"]["facts"]["disk"]["root"] + " " + l["host"]["facts"]["host_key"]["fingerprint"][:7]')" = "h1 $T/remote SHA256:" ]
	"$MOO" reproduce "$there" >out 2>err
	check "reproducing that job runs on h1 again" [ $? -eq 0 ]
	there2=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
	check "from its lock, with the same metrics" sh -c "[ -d '$T/remote/jobs/$there2' ] &&
		[ \"\$(cat '$T/remote/jobs/$there2/moo.lock' | wc -c)\" -gt 0 ]"
	check "the same metrics a third time" [ "$(metrics_of "$there2")" = "$first" ]
	sshd_stop
else
	ok "# SKIP no sshd"
fi

"$MOO" reproduce --on nosuchhost "$job" >out 2>err
check "a host moo does not know is exit 2" [ $? -eq 2 ]

# A bundle changed behind moo's back is not the job's bundle any more.
chmod u+w "$MOO_ROOT/bundles/$sha.zip"
printf 'x' >>"$MOO_ROOT/bundles/$sha.zip"
"$MOO" reproduce "$job" >out 2>err
code=$?
check "a changed bundle is refused (exit 3)" [ "$code" -eq 3 ]
check "naming the sha256" grep -q "$sha" err
"$MOO" reproduce moo-job-nosuch >out 2>err
check "an unknown job is exit 2" [ $? -eq 2 ]

done_testing
