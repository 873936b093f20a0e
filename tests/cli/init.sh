#!/bin/sh
# moo init: every template scaffolds a project that validates; nothing is overwritten.
. "$MOO_SRC/tests/cli/lib.sh"
plan 13

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
done_testing
