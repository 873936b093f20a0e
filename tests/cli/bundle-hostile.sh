#!/bin/sh
# Hostile bundles: every one is refused with exit 3, naming the entry and the rule, and
# nothing is written: no file outside, no staging folder, no temporary folder.
. "$MOO_SRC/tests/cli/lib.sh"
plan 79

mk() { EVIL_ABS="$T/abs-evil.txt" EVIL_DIR="$T/outside" $PY "$MOO_SRC/tests/cli/mkzip.py" "$1" "$T/$1.zip"; }
mkdir -p "$T/outside" "$T/tmp" "$T/run"
export TMPDIR="$T/tmp"

# nothing_written NAME: no file escaped, the run folder holds no dest or staging, TMPDIR is empty
nothing_written() {
	left="$(ls -A "$T/run")$(ls -A "$T/tmp")$(ls -A "$T/outside")"
	for f in "$T/evil.txt" "$T/abs-evil.txt" "$T/run/evil.txt" /tmp/moo-evil.txt; do
		[ -e "$f" ] && left="$left $f"
	done
	if [ -z "$left" ]; then ok "$1: nothing written"; else not_ok "$1: nothing written" "left: $left"; fi
	rm -rf "$T/run" "$T/tmp" && mkdir -p "$T/run" "$T/tmp"
}

# refused KIND MESSAGE: moo inspect --extract refuses the bundle, saying MESSAGE
refused() {
	mk "$1"
	(cd "$T/run" && "$MOO" inspect --extract "$T/run/work" "$T/$1.zip" >"$T/.out" 2>"$T/.err")
	rc=$?
	err=$(cat "$T/.err")
	if [ $rc = 3 ]; then ok "$1: exit 3"; else not_ok "$1: exit 3" "exit $rc: $err"; fi
	contains "$1: says why" "$err" "$2"
	nothing_written "$1"
}

refused slip-dotdot "entry '../evil.txt' refused: a '..' component leads outside the bundle"
refused slip-deep "entry 'lib/../../evil.txt' refused: a '..' component leads outside the bundle"
refused slip-abs "entry '$T/abs-evil.txt' refused: an absolute path"
# libarchive turns '\' into '/' before moo sees a name: the name is read from the ZIP as
# written, refused, and shown as written
refused backslash "entry '..\\evil.txt' refused: a backslash in a path"
refused backslash-inner "entry 'lib\\util.py' refused: a backslash in a path"
refused backslash-drive "entry 'C:\\evil.txt' refused: a backslash in a path"
refused backslash-lead "entry '\\evil.txt' refused: a backslash in a path"
# the name libarchive reads is the local header's, not the central directory's
refused backslash-local "entry 'lib\\x.py' refused: a backslash in a path"
refused symlink "entry 'escape' refused: a symbolic link"
refused device "entry 'dev' refused: a device file"
refused socket "entry 'sock' refused: a socket"
# libarchive reads a FIFO's mode in a ZIP as a regular file's: the mode is read as written
refused fifo "entry 'fifo' refused: a FIFO"
refused setuid "entry 'run.sh' refused: a setuid, setgid or sticky mode"
refused duplicate "entry 'train.py' refused: a duplicate name"
refused file-as-dir "entry 'train.py/evil.txt' refused: 'train.py' is a file earlier in the bundle"
refused hardlink "not a readable ZIP file"
refused notzip "not a readable ZIP file"
refused no-metadata "the bundle has no metadata.yaml"
refused bad-metadata "bad-metadata.zip/metadata.yaml:2:1: error: invalid YAML"
refused missing-entry-point "entry_point 'train.py' is not a file in the bundle"

# a zip bomb: 1 MiB that inflates to 1 GiB, stopped at the ratio cap after a few MiB
mk bomb
start=$(date +%s)
(cd "$T/run" && "$MOO" inspect --extract "$T/run/work" "$T/bomb.zip" >"$T/.out" 2>"$T/.err")
rc=$? err=$(cat "$T/.err")
if [ $rc = 3 ]; then ok "bomb: exit 3"; else not_ok "bomb: exit 3" "exit $rc: $err"; fi
contains "bomb: says why" "$err" "entry 'weights.bin' refused: inflates more than 100 times"
if [ $(( $(date +%s) - start )) -le 5 ]; then ok "bomb: refused at once"; else not_ok "bomb: refused at once"; fi
nothing_written bomb
BOMB_DECLARE=4096 $PY "$MOO_SRC/tests/cli/mkzip.py" bomb "$T/liar.zip"
(cd "$T/run" && "$MOO" inspect --max-ratio 100000 --max-bytes 50000000 --extract "$T/run/work" "$T/liar.zip" >"$T/.out" 2>"$T/.err")
rc=$? err=$(cat "$T/.err")
if [ $rc = 3 ]; then ok "bomb past a raised ratio cap: stopped by the byte cap"; else not_ok "bomb past a raised ratio cap: stopped by the byte cap" "exit $rc: $err"; fi
contains "bomb: the byte cap counts bytes written, not the 4096 declared" "$err" "entry 'weights.bin' refused: the bundle inflates to more than the cap of 50000000 bytes"
nothing_written "bomb past the byte cap"
(cd "$T/run" && "$MOO" inspect --max-ratio 100000 --extract "$T/run/work" "$T/liar.zip" >"$T/.out" 2>"$T/.err")
rc=$? err=$(cat "$T/.err")
if [ $rc = 3 ] && printf '%s\n' "$err" | grep -q "^$T/liar.zip: error: entry 'weights.bin' refused: its data cannot be read: .*wrong size (read [0-9]*, expected 4096)\$"; then
	ok "a size the ZIP lies about: refused, the library's reason ending the line (no escaped line break after it)"
else not_ok "a size the ZIP lies about" "exit $rc: $err"; fi

# a truncated ZIP: the first half of a valid one
mk valid
head -c $(( $(wc -c <"$T/valid.zip") / 2 )) "$T/valid.zip" >"$T/truncated.zip"
(cd "$T/run" && "$MOO" inspect --extract "$T/run/work" "$T/truncated.zip" >"$T/.out" 2>"$T/.err")
rc=$? err=$(cat "$T/.err")
if [ $rc = 3 ]; then ok "truncated: exit 3"; else not_ok "truncated: exit 3" "exit $rc: $err"; fi
contains "truncated: says why" "$err" "not a readable ZIP file"
nothing_written truncated

# the entry cap, and raising it
mk many
expect_exit "more entries than --max-entries: exit 3" 3 "$MOO" inspect --max-entries 100 "$T/many.zip"
contains "naming the cap" "$err" "refused: more than 100 entries"
expect_exit "a raised --max-entries lets it through" 0 "$MOO" inspect --max-entries 1000 "$T/many.zip"
expect_exit "a valid bundle extracts" 0 "$MOO" inspect --extract "$T/run/work" "$T/valid.zip"
if [ -f "$T/run/work/lib/util.py" ] && [ "$(ls -A "$T/run")" = work ]; then ok "into dest alone"; else not_ok "into dest alone" "$(ls -AR "$T/run")"; fi
expect_exit "--max-bytes below its size refuses it" 3 "$MOO" inspect --max-bytes 1000 "$T/valid.zip"
expect_exit "a negative cap is a usage error" 2 "$MOO" inspect --max-bytes -1 "$T/valid.zip"
expect_exit "a cap of 0 is a usage error too, not the default" 2 "$MOO" inspect --max-ratio 0 "$T/valid.zip"
done_testing
