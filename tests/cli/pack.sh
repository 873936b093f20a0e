#!/bin/sh
# moo pack: a deterministic ZIP that honours .mooignore; moo inspect of folders and ZIPs.
. "$MOO_SRC/tests/cli/lib.sh"
plan 50

# zipinfo.py ZIP: one line per entry: name, method, date_time, mode, size
cat >"$T/zipinfo.py" <<'PYEOF'
import sys, zipfile
for i in zipfile.ZipFile(sys.argv[1]).infolist():
    print(i.filename, i.compress_type, "%04d-%02d-%02d %02d:%02d:%02d" % i.date_time,
          oct(i.external_attr >> 16), i.file_size, len(i.extra), i.create_system)
PYEOF
zipinfo() { $PY "$T/zipinfo.py" "$1"; }

p=$T/proj
mkdir -p "$p/lib" "$p/data" "$p/.git/objects" "$p/__pycache__" "$p/lib/__pycache__" \
	"$p/training_result" "$p/logs" "$p/empty"
cp "$MOO_SRC/templates/sklearn/metadata.yaml" "$MOO_SRC/templates/sklearn/train.py" \
	"$MOO_SRC/templates/sklearn/predict.py" "$p/"
printf 'x = 1\n' >"$p/lib/util.py"
printf '#!/bin/sh\necho run\n' >"$p/run.sh"
chmod 755 "$p/run.sh"
$PY -c 'import os,sys; sys.stdout.buffer.write(os.urandom(6 << 20))' >"$p/data/random.bin"
seq 1 300000 >"$p/data/numbers.csv"
printf 'PK fake' >"$p/data/archive.zip"
echo ref >"$p/.git/HEAD"
echo pyc >"$p/__pycache__/a.pyc"
echo pyc >"$p/lib/__pycache__/b.pyc"
echo result >"$p/training_result/model.pkl"
echo log >"$p/logs/run.log"
echo secret >"$p/data/secret.key"
echo keep >"$p/data/keep.log"
printf '# comments and blank lines are ignored\n\nlogs/\n*.log\n!data/keep.log\n/data/*.key\n' \
	>"$p/.mooignore"

cd "$T" || exit 1
expect_exit "moo pack DIR -o FILE exits 0" 0 "$MOO" pack "$p" -o "$T/a.zip"
sha=$(sha256sum "$T/a.zip" | cut -d' ' -f1)
contains "and prints the ZIP's sha256" "$out" "$sha  $T/a.zip"
check "the ZIP passes unzip -t" unzip -tq "$T/a.zip"
names=$(zipinfo "$T/a.zip" | cut -d' ' -f1 | tr '\n' ' ')
want=".mooignore data/ data/archive.zip data/keep.log data/numbers.csv data/random.bin empty/ lib/ lib/util.py metadata.yaml predict.py run.sh train.py "
if [ "$names" = "$want" ]; then ok "entries are sorted and .mooignore, .git, __pycache__ and output_folder are skipped"; else not_ok "entries are sorted and .mooignore, .git, __pycache__ and output_folder are skipped" "got: $names"; fi
bad=$(zipinfo "$T/a.zip" | awk '$3 != "1980-01-01" || $4 != "00:00:00" || $7 != 0 || $8 != 3')
if [ -z "$bad" ]; then ok "every entry has the fixed time, no extra field, unix attributes"; else not_ok "every entry has the fixed time, no extra field, unix attributes" "$bad"; fi
modes=$(zipinfo "$T/a.zip" | awk '{print $1, $5}' | grep -E '^(run.sh|train.py|lib/) ' | tr '\n' ' ')
if [ "$modes" = "lib/ 0o40755 run.sh 0o100755 train.py 0o100644 " ]; then ok "modes are 0644, 0755 by the exec bit, 0755 for folders"; else not_ok "modes are 0644, 0755 by the exec bit, 0755 for folders" "$modes"; fi
methods=$(zipinfo "$T/a.zip" | awk '{print $1, $2}' | grep '^data/' | tr '\n' ' ')
if [ "$methods" = "data/ 0 data/archive.zip 0 data/keep.log 0 data/numbers.csv 8 data/random.bin 0 " ]; then ok "text is deflated, random and compressed data stored"; else not_ok "text is deflated, random and compressed data stored" "$methods"; fi

# the same tree gives the same bytes: new times, another path, another umask, another order on disk
cp -R "$p" "$T/copy"
touch -d '2001-02-03 04:05:06' "$T/copy/train.py" "$T/copy/lib"
chmod 600 "$T/copy/predict.py"
expect_exit "packing a copy with other times and modes exits 0" 0 sh -c "umask 077; exec \"\$0\" pack \"\$1\" -o \"\$2\"" "$MOO" "$T/copy" "$T/b.zip"
if cmp -s "$T/a.zip" "$T/b.zip"; then ok "and gives the same bytes"; else not_ok "and gives the same bytes" "$(cmp "$T/a.zip" "$T/b.zip")"; fi
expect_exit "packing again in place exits 0" 0 "$MOO" pack "$p" -o "$T/a.zip"
contains "and gives the same sha256" "$out" "$sha  "
(cd "$p" && "$MOO" pack >"$T/.out" 2>"$T/.err")
if [ $? = 0 ] && [ -f "$p/../proj.zip" ] && [ ! -e "$p/proj.zip" ]; then ok "moo pack with no argument inside the project writes DIRNAME.zip beside it, not into it"; else not_ok "moo pack with no argument inside the project writes DIRNAME.zip beside it, not into it" "$(cat "$T/.err")"; fi
(cd "$p" && "$MOO" pack >"$T/.out" 2>"$T/.err")
contains "and packs the same again" "$(cat "$T/.out")" "$sha  "
rm -f "$p/../proj.zip"
expect_exit "moo pack --json exits 0" 0 "$MOO" pack --json "$p" -o "$T/c.zip"
check "with path, sha256, size and counts" $PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["sha256"] == sys.argv[2] and d["path"].endswith("c.zip") and d["files"] == 10, d
assert d["dirs"] == 3 and d["size"] > 6 << 20, d' "$out" "$sha"

# moo inspect: the folder, its ZIP, and a ZIP of the folder made by zip -r (a top folder)
expect_exit "moo inspect DIR exits 0" 0 "$MOO" inspect "$p"
contains "and the folder's sha256 is its pack's" "$out" "sha256      $sha"
contains "it shows the spec" "$out" "entry point train.py"
contains "and the files with their sizes" "$out" "6291456  data/random.bin"
expect_exit "moo inspect --json ZIP exits 0" 0 "$MOO" inspect --json "$T/a.zip"
check "with the spec, files and sha256" $PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] and d["sha256"] == sys.argv[2] and d["prefix"] == "", d
assert d["spec"]["entry_point"] == "train.py", d["spec"]
f = {x["path"]: x for x in d["files"]}
assert f["data/random.bin"]["size"] == 6 << 20 and f["run.sh"]["exec"] and f["lib/"]["dir"], f' "$out" "$sha"
(cd "$T" && zip -qr -X top.zip proj -x 'proj/.git/*' 'proj/training_result/*')
expect_exit "a ZIP whose files sit under one top folder opens" 0 "$MOO" inspect "$T/top.zip"
contains "and names the folder" "$out" "top folder  proj/"
expect_exit "and extracts without it" 0 "$MOO" inspect --extract "$T/x/work" "$T/top.zip"
if [ -f "$T/x/work/metadata.yaml" ] && [ -x "$T/x/work/run.sh" ] && cmp -s "$T/x/work/data/random.bin" "$p/data/random.bin"; then ok "every file lands in place, exec bit kept"; else not_ok "every file lands in place, exec bit kept" "$(ls -lR "$T/x")"; fi
if [ -z "$(ls -A "$T/x" | grep -v '^work$')" ]; then ok "and no staging folder is left beside it"; else not_ok "and no staging folder is left beside it" "$(ls -A "$T/x")"; fi
expect_exit "extracting into an existing folder is refused" 6 "$MOO" inspect --extract "$T/x/work" "$T/top.zip"

# refusals: an invalid spec, a missing entry point, a symbolic link; nothing is written
cp -R "$p" "$T/bad"
printf 'framework:\n  name: sklearn\n  verison: 1\n' >"$T/bad/metadata.yaml"
expect_exit "an invalid metadata.yaml is refused with exit 3" 3 "$MOO" pack "$T/bad" -o "$T/bad.zip"
contains "naming file, line and column" "$err" "$T/bad/metadata.yaml:3:3: error: unknown key 'verison'"
if [ ! -e "$T/bad.zip" ] && [ -z "$(ls "$T" | grep 'bad.zip')" ]; then ok "and writes nothing"; else not_ok "and writes nothing" "$(ls "$T")"; fi
rm -rf "$T/bad" && cp -R "$p" "$T/bad" && rm "$T/bad/train.py"
expect_exit "a missing entry point is refused with exit 3" 3 "$MOO" pack "$T/bad" -o "$T/bad.zip"
rm -rf "$T/bad" && cp -R "$p" "$T/bad" && ln -s /etc/passwd "$T/bad/lib/passwd"
expect_exit "a symbolic link in the tree is refused with exit 3" 3 "$MOO" pack "$T/bad" -o "$T/bad.zip"
contains "naming it" "$err" "'lib/passwd' is a symbolic link"

# a FIFO nothing writes to, given as the bundle or as metadata.yaml: refused, no verb blocks on it
mkfifo "$T/fifo" && mkdir "$T/fdir" && mkfifo "$T/fdir/metadata.yaml"
for v in inspect run "serve --port 0"; do
	# shellcheck disable=SC2086
	expect_exit "moo $v FIFO: refused at once (exit 3)" 3 timeout 20 "$MOO" $v "$T/fifo"
done
expect_exit "moo validate of a FIFO as metadata.yaml: refused at once (exit 3)" 3 timeout 20 "$MOO" validate "$T/fdir"

# names that are not ASCII, in the "C" locale too (libarchive converts a ZIP's UTF-8 names to
# the locale's characters: moo takes C.UTF-8 where the user's locale is not UTF-8)
u=$T/uni && mkdir -p "$u" && cp "$MOO_SRC/templates/sklearn/metadata.yaml" "$MOO_SRC/templates/sklearn/predict.py" "$u/" &&
	printf 'import os\nos.makedirs("training_result", exist_ok=True)\nprint("ok")\n' >"$u/train.py" &&
	echo hi >"$u/données.txt"
expect_exit "LC_ALL=C: a file named données.txt packs" 0 env LC_ALL=C "$MOO" pack "$u" -o "$T/uni.zip"
expect_exit "... and its ZIP opens" 0 env LC_ALL=C "$MOO" inspect "$T/uni.zip"
contains "... listing the name as it is" "$out" "données.txt"
expect_exit "... and runs, here" 0 env LC_ALL=C MOO_PYTHON=/usr/bin/python3 "$MOO" run --name 'ünï→' "$T/uni.zip"
env LC_ALL=C MOO_PYTHON=/usr/bin/python3 "$MOO" run --name plain "$T/uni.zip" >/dev/null 2>&1
expect_exit "moo ps lists it" 0 env LC_ALL=C "$MOO" ps -a
if [ "$(printf '%s\n' "$out" | $PY -c '
import sys
rows = sys.stdin.buffer.read().decode().splitlines()[1:]
print(len(rows), len({l.index("succeeded") for l in rows}))')" = "2 1" ]; then
	ok "... its name padded by characters: every row's STATUS in one column"
else not_ok "... padded by characters" "$out"; fi

# .mooignore may not leave out metadata.yaml or a file the spec names: that bundle is refused
rm -rf "$T/bad" && cp -R "$p" "$T/bad" && printf '# keep it small\ntrain.py\nmetadata.yaml\n' >"$T/bad/.mooignore"
expect_exit ".mooignore leaving out metadata.yaml and the entry point is refused with exit 3" 3 "$MOO" pack "$T/bad" -o "$T/bad.zip"
contains "naming the line that left out the entry point" "$err" "$T/bad/.mooignore:2: error: 'train.py' (entry_point) is left out of the bundle by 'train.py'"
contains "and the one that left out metadata.yaml" "$err" "$T/bad/.mooignore:3: error: 'metadata.yaml' (the spec) is left out of the bundle by 'metadata.yaml'"
if [ ! -e "$T/bad.zip" ]; then ok "and writes nothing"; else not_ok "and writes nothing" "$(ls "$T")"; fi
printf '*.py\n!train.py\n' >"$T/bad/.mooignore"
expect_exit "a pattern leaving out inference.entry_point is refused" 3 "$MOO" pack "$T/bad" -o "$T/bad.zip"
rm -rf "$T/bad" && cp -R "$p" "$T/bad" && mkdir "$T/bad/src" && mv "$T/bad/train.py" "$T/bad/src/" &&
	sed -i 's|^entry_point: train.py|entry_point: src/train.py|' "$T/bad/metadata.yaml" && printf 'src/\n' >"$T/bad/.mooignore"
expect_exit "a folder holding the entry point left out is refused" 3 "$MOO" pack "$T/bad" -o "$T/bad.zip"
contains "naming the file it holds" "$err" "'src/' is left out of the bundle by 'src/', but it holds 'src/train.py' (entry_point)"
done_testing
