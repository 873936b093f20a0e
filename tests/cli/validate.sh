#!/bin/sh
# moo validate against the spec corpus (tests/spec) and real project folders.
. "$MOO_SRC/tests/cli/lib.sh"
S=$MOO_SRC/tests/spec
n=$(ls "$S"/valid/*.yaml "$S"/invalid/*.yaml "$S"/parser-only/*.yaml | wc -l)
examples=$(ls -d "$MOO_SRC"/examples/*/ 2>/dev/null)
plan $((n + 19 + $(echo $examples | wc -w)))

# the example projects in the tree are valid, files and all
for d in $examples; do
	expect_exit "example ${d#$MOO_SRC/} validates" 0 "$MOO" validate "$d"
done

for f in "$S"/valid/*.yaml; do
	expect_exit "valid: ${f#$S/}" 0 "$MOO" validate --spec-only "$f"
done
for f in "$S"/invalid/*.yaml "$S"/parser-only/*.yaml; do
	"$MOO" validate --spec-only "$f" >"$T/.out" 2>"$T/.err"
	rc=$?
	# every refusal names the file, a line and a column
	if [ $rc = 3 ] && grep -q "^$f:[0-9]*:[0-9]*: error: " "$T/.err"; then
		ok "invalid: ${f#$S/}"
	elif [ $rc = 3 ] && grep -q "^$f: error: larger" "$T/.err"; then
		ok "invalid: ${f#$S/}"
	else
		not_ok "invalid: ${f#$S/}" "exit $rc: $(cat "$T/.err")"
	fi
done

# one error for one mistake: a split whose only fraction is out of range is that, not also
# "names no split"
sed '/^data_process:/,$d' "$S/invalid/data_split-zero.yaml" >"$T/split.yaml"
printf 'data_process:\n  data_split: {train: 2}\n' >>"$T/split.yaml"
expect_exit "a data_split whose one fraction is 2: exit 3" 3 "$MOO" validate --spec-only "$T/split.yaml"
if [ "$(grep -c ': error: ' "$T/.err")" = 1 ] &&
	grep -q "split.yaml:[0-9]*:[0-9]*: error: the fraction 'data_process.data_split.train' must be greater than 0 and at most 1, found 2$" "$T/.err"; then
	ok "... one error, the fraction's"
else not_ok "... one error, the fraction's" "$err"; fi

# YAML's .inf is read as infinity (strtod read it as 0): said to be what it is
sed '/^data_process:/,$d' "$S/invalid/data_split-zero.yaml" >"$T/inf.yaml"
printf 'resources: {cpus: .inf}\n' >>"$T/inf.yaml"
expect_exit "resources.cpus: .inf is exit 3" 3 "$MOO" validate --spec-only "$T/inf.yaml"
contains "... saying it must be finite, not that it must be greater than 0" "$err" "'resources.cpus' must be a finite number, found .inf"

# a project folder: the files it names must exist
mkdir -p "$T/p"
cp "$S/valid/moo-seed.yaml" "$T/p/metadata.yaml"
expect_exit "a missing entry point is an error" 3 "$MOO" validate "$T/p"
contains "naming the file, line and column" "$err" "$T/p/metadata.yaml:7:14: error: entry_point 'tensorflow_test_mnist.py' does not exist"
: >"$T/p/tensorflow_test_mnist.py"
expect_exit "the folder validates once it exists" 0 "$MOO" validate "$T/p"
contains "and says what it found" "$out" "ok (tensorflow 1.12.0, runtime python2.7"
expect_exit "the file itself validates too" 0 "$MOO" validate "$T/p/metadata.yaml"
expect_exit "a folder without metadata.yaml is exit 2, as in every verb" 2 "$MOO" validate "$T"
contains "and the error says how to start one" "$err" "moo init"

# --json: machine-readable diagnostics
printf 'framework:\n  name: tf\n  verison: 1\n  runtime: python3\nmodel: {name: m}\nentry_point: t.py\n' >"$T/bad.yaml"
expect_exit "--json on an invalid spec exits 3" 3 "$MOO" validate --json --spec-only "$T/bad.yaml"
printf '%s' "$out" >"$T/bad.json"
check "--json prints one JSON document" $PY -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/bad.json"
check "with file, line, column, message and hint" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is False, d
e = d["diagnostics"][0]
assert e["file"].endswith("bad.yaml") and e["line"] == 3 and e["column"] == 3, e
assert e["message"] == "unknown key '"'"'verison'"'"' in '"'"'framework'"'"'", e
assert e["hint"] == "did you mean '"'"'version'"'"'?", e
assert len(d["diagnostics"]) == 2, d  # the typo and the missing version: every problem
' "$T/bad.json"
expect_exit "--json on a valid spec exits 0" 0 "$MOO" validate --json --spec-only "$S/valid/moo-seed.yaml"
check "and says valid" $PY -c 'import json,sys; assert json.loads(sys.argv[1])["valid"] is True' "$out"

# hostile: 100k nested brackets are refused at once, not after seconds of parsing
$PY -c 'import sys; sys.stdout.write("[" * 100000)' >"$T/deep.yaml"
expect_exit "a depth bomb is refused" 3 "$MOO" validate --spec-only "$T/deep.yaml"
printf 'framework: {name: python, version: "3", runtime: python3}\nmodel: {name: t}\n\nentry_point: tr\033ain.py\n' >"$T/ctl.yaml"
expect_exit "a control character in the file is refused" 3 "$MOO" validate --spec-only "$T/ctl.yaml"
if grep -q "^$T/ctl.yaml:4:16: error: invalid YAML: a control character (0x1b)" "$T/.err"; then ok "... named at its line and column, not 1:1"
else not_ok "... at its line and column" "$(cat "$T/.err")"; fi
done_testing
