#!/bin/sh
# Every job verb's man page lists exactly the options of its --help (one option table).
set -u
: "${MOO:?}"
SRCDIR=${SRCDIR:-${MOO_SRC:?}}
n=0
failed=0
for v in run ps status logs cancel fetch rm show compare; do
	n=$((n + 1))
	a=$("$MOO" "$v" --help | sed -n '/^options:/,/^$/p' |
		grep -oE '^ +(-[a-z], )?--[a-z-]+( [A-Z=]+)?' | sed 's/^ *//' | sort)
	b=$(grep -oE '^\*(-[a-z], )?--[a-z-]+\*( _[A-Z=]+_)?' "$SRCDIR/man/moo-$v.1.scd" |
		tr -d '*_' | sort)
	if [ "$a" = "$b" ] && grep -q '^# EXIT STATUS' "$SRCDIR/man/moo-$v.1.scd" &&
		grep -q '^# EXAMPLES' "$SRCDIR/man/moo-$v.1.scd"; then
		echo "ok $n - moo-$v(1) matches 'moo $v --help'"
	else
		failed=$((failed + 1))
		echo "not ok $n - moo-$v(1) matches 'moo $v --help'"
		printf '# help: %s\n# man:  %s\n' "$(echo $a)" "$(echo $b)"
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
