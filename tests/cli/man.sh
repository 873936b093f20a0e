#!/bin/sh
# Every man page renders, and every verb's --help agrees with its page (after git's t0450).
. "$MOO_SRC/tests/cli/lib.sh"
M=$MOO_BUILD/man
pages=$(ls "$M"/*.[15] 2>/dev/null)
verbs=$("$MOO" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')
plan $(( 2 * $(echo "$pages" | wc -w) + 4 * $(echo "$verbs" | wc -w) + 3 ))

if [ -z "$pages" ]; then not_ok "man pages were built (scdoc missing?)"; else ok "man pages were built"; fi
for p in $pages; do
	# groff's complaints go to stderr: a page renders when there are none and text comes out
	if txt=$(MANWIDTH=100 man -l "$p" 2>"$T/man.err") && [ -n "$txt" ] && [ ! -s "$T/man.err" ]; then
		ok "man -l renders ${p##*/}"
	else
		not_ok "man -l renders ${p##*/}" "$(cat "$T/man.err")"
	fi
	# scdoc markup that did not take leaves its underscores in the text: MOO_PARAM__NAME_,
	# python_VERSION_ (Python's __dunder__ names are words of their own)
	debris=$(printf '%s\n' "$txt" | sed 's/__[a-z]*__//g' | grep -E '__|[a-z]_[A-Z]+_([^A-Za-z0-9_]|$)')
	if [ -z "$debris" ]; then ok "${p##*/} has no markup debris"; else not_ok "${p##*/} has no markup debris" "$debris"; fi
done
for v in $verbs; do
	page=$M/moo-$v.1
	if [ -f "$page" ]; then ok "moo $v has a man page"; else not_ok "moo $v has a man page"; continue; fi
	txt=$(MANWIDTH=200 man -l "$page" 2>/dev/null)
	missing=
	for o in $("$MOO" "$v" --help | sed -n 's/^  .*\(--[a-z][a-z0-9-]*\).*/\1/p'); do
		printf '%s' "$txt" | grep -q -- "$o" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then ok "moo-$v(1) documents every option of --help"; else not_ok "moo-$v(1) documents every option of --help" "missing:$missing"; fi
	extra=
	for o in $(printf '%s' "$txt" | sed -n 's/^ *\(--[a-z][a-z0-9-]*\).*/\1/p' | sort -u); do
		"$MOO" "$v" --help | grep -q -- "$o" || extra="$extra $o"
	done
	if [ -z "$extra" ]; then ok "moo $v --help has every option of moo-$v(1)"; else not_ok "moo $v --help has every option of moo-$v(1)" "only in the page:$extra"; fi
	if printf '%s' "$txt" | grep -q '^EXIT STATUS' && printf '%s' "$txt" | grep -q '^EXAMPLES'; then
		ok "moo-$v(1) has EXIT STATUS and EXAMPLES"
	else
		not_ok "moo-$v(1) has EXIT STATUS and EXAMPLES"
	fi
done
txt=$(MANWIDTH=200 man -l "$M/moo.1" 2>/dev/null)
missing=
for v in $verbs; do printf '%s' "$txt" | grep -q "moo-$v" || missing="$missing $v"; done
if [ -z "$missing" ]; then ok "moo(1) names every verb's page"; else not_ok "moo(1) names every verb's page" "missing:$missing"; fi
# the diagnostic codes moo(1) JSON names are those --json prints (libmoo's moo_code_name,
# or the CLI's own, named by the exit status)
codes=$(sed -n '/^# JSON/,/^# [A-Z]/p' "$MOO_SRC/man/moo.1.scd" | tr '\n' ' ' |
	sed -n 's/.*\*code\*\(.*\)\*file\*.*/\1/p' | grep -o '"[a-zA-Z-]*"' | tr -d '"')
unknown=
for c in $codes; do
	grep -q "return \"$c\";" "$MOO_SRC/libmoo/error.c" "$MOO_SRC/cli/output.c" || unknown="$unknown $c"
done
if [ -n "$codes" ] && [ -z "$unknown" ]; then ok "moo(1) JSON names only the codes --json prints"; else not_ok "moo(1) JSON names only the codes --json prints" "codes:$codes; unknown:$unknown"; fi
done_testing
