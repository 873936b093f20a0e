#!/bin/sh
# moo init: every template scaffolds a project that validates; nothing is overwritten.
. "$MOO_SRC/tests/cli/lib.sh"
plan 22

for t in sklearn pytorch tensorflow; do
	expect_exit "init --template $t" 0 "$MOO" init --template "$t" "$T/$t"
	expect_exit "the $t project validates" 0 "$MOO" validate "$T/$t"
done
contains "init says what it created" "$(cd "$T" && "$MOO" init fresh)" "created metadata.yaml"

echo "# my own notes" >"$T/sklearn/train.py"
before=$(cat "$T/sklearn/metadata.yaml")
expect_exit "init over an existing project succeeds" 0 "$MOO" init --template sklearn "$T/sklearn"
contains "and reports the kept files" "$out" "kept    train.py (exists; not overwritten)"
if [ "$(cat "$T/sklearn/train.py")" = "# my own notes" ] && [ "$(cat "$T/sklearn/metadata.yaml")" = "$before" ]; then
	ok "no file was overwritten"
else
	not_ok "no file was overwritten"
fi
expect_exit "an unknown template exits 2" 2 "$MOO" init --template sklaern "$T/x"
contains "and suggests the nearest" "$err" "did you mean 'sklearn'?"
if [ ! -e "$T/x" ]; then ok "and creates nothing"; else not_ok "and creates nothing"; fi

# --json --list: one JSON document, the list of templates
expect_exit "init --json --list exits 0" 0 "$MOO" init --json --list
check "and prints one JSON list of the templates, nothing else" $PY -c '
import json, sys
assert json.loads(sys.argv[1]) == ["pytorch", "sklearn", "tensorflow"], sys.argv[1]' "$out"

# the next: line quotes DIR for the shell
expect_exit "init of a folder whose name has spaces exits 0" 0 "$MOO" init "$T/new é x"
contains "and the next: line quotes it" "$out" "next: moo validate '$T/new é x' && moo run '$T/new é x'"

# a name the template writes taken by a folder (or a link to nothing) is refused, nothing written
mkdir -p "$T/taken/metadata.yaml"
expect_exit "a folder named metadata.yaml in DIR is refused with exit 6" 6 "$MOO" init "$T/taken"
contains "naming it" "$err" "'$T/taken/metadata.yaml' is in the way: it is a folder"
if [ ! -e "$T/taken/train.py" ]; then ok "and nothing is written"; else not_ok "and nothing is written" "$(ls "$T/taken")"; fi
mkdir -p "$T/dangling" && ln -s nowhere "$T/dangling/train.py"
expect_exit "a link to nothing named train.py is refused with exit 6" 6 "$MOO" init "$T/dangling"
contains "naming it" "$err" "'$T/dangling/train.py' is in the way: it is a link to nothing"
done_testing
