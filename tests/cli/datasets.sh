#!/bin/sh
# Datasets on this machine: dataset.source as a folder, a file, archives and an http(s) URL
# (tests/cli/httpd.py on loopback, a cut download resumed), placed once in
# $MOO_ROOT/datasets/<sha256>/, read-only, handed to the job as MOO_DATASET_DIR; a wrong
# sha256 refused before the job exists; the lock records it and 'moo reproduce' refuses
# changed bytes; 'moo datasets ls|rm|gc' and a running job's dataset kept.
. "$MOO_SRC/tests/cli/lib.sh"
export MOO_PYTHON=/usr/bin/python3
# datasets are made read-only: let the cleanup remove them
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state; kill ${srv:-} 2>/dev/null; chmod -R u+w "$T" 2>/dev/null; cleanup_dirs' EXIT

# project DIR SOURCE [SHA256]: a project whose job lists MOO_DATASET_DIR and tries to write it
project() {
	mkdir -p "$1"
	cat >"$1/train.py" <<'EOF'
import os, sys, time
d = os.environ["MOO_DATASET_DIR"]
for root, dirs, files in sorted(os.walk(d)):
    for f in sorted(files):
        p = os.path.join(root, f)
        print("FILE", os.path.relpath(p, d), open(p, "rb").read().decode(errors="replace").strip())
time.sleep(float(os.environ.get("SLEEP", "0")))
EOF
	{
		printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\n'
		printf 'dataset:\n  name: toy\n  source: %s\n' "$2"
		[ -n "${3:-}" ] && printf '  sha256: %s\n' "$3"
		printf 'entry_point: train.py\noutput_folder: training_result\n'
	} >"$1/metadata.yaml"
}
# manifest DIR: the sha256 moo gives a folder, made with coreutils as moo-datasets(1) says
manifest() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' '\0' | xargs -0r sha256sum -- | sha256sum | cut -c1-64); }
# run_json PROJECT: moo run --json, the record in $rec
run_json() { expect_exit "$1" "${3:-0}" "$MOO" run --json "$2"; rec=$(printf '%s' "$out" | sed -n '/^{/,$p'); }
log_of() { cat "$MOO_ROOT/jobs/$1/process.log"; }
id_of() { printf '%s' "$rec" | jq "d['id']"; }

mkdir -p "$T/data/sub"
echo alpha >"$T/data/a.txt"
echo beta >"$T/data/sub/b.txt"
sha=$(manifest "$T/data")

# ---- a folder ---------------------------------------------------------------------------
project "$T/p1" ../data
run_json "a folder dataset: the job runs" "$T/p1"
id1=$(id_of)
log=$(log_of "$id1")
contains "... MOO_DATASET_DIR holds the folder's files" "$log" "FILE sub/b.txt beta"
contains "... the log says it was placed" "$log" "dataset 'toy' (sha256 $(echo "$sha" | cut -c1-12)) placed on local"
# (root writes anywhere: the check is on the modes, what keeps a job of another user out)
if [ -z "$(find "$MOO_ROOT/datasets/$sha" -perm /222)" ]; then ok "... read-only: no write bit on any of it"; else not_ok "... read-only" "$(ls -lR "$MOO_ROOT/datasets/$sha")"; fi
if [ -d "$MOO_ROOT/datasets/$sha" ] && [ "$(cat "$MOO_ROOT/datasets/$sha/a.txt")" = alpha ]; then
	ok "... placed in MOO_ROOT/datasets/<sha256 of the manifest>"
else not_ok "... placed in MOO_ROOT/datasets/$sha" "$(ls -R "$MOO_ROOT/datasets")"; fi
lock=$(cat "$MOO_ROOT/jobs/$id1/moo.lock")
if [ "$(printf '%s' "$lock" | jq "d['dataset']['sha256'], d['dataset']['source'], d['dataset']['name']")" = "$sha
$T/data
toy" ]; then ok "... the lock records the dataset's sha256 and source"; else not_ok "... the lock records the dataset" "$lock"; fi

run_json "the same dataset again" "$T/p1"
id2=$(id_of)
contains "... is not placed again: 0 bytes" "$(log_of "$id2")" "already on local: 0 bytes sent"

# ---- wrong sha256 -----------------------------------------------------------------------
project "$T/p2" ../data 0000000000000000000000000000000000000000000000000000000000000000
n_before=$("$MOO" ps --all --json | jq "len(d)")
expect_exit "a wrong sha256 is refused (exit 3)" 3 "$MOO" run "$T/p2"
contains "... naming the dataset and both sha256s" "$err" "dataset 'toy': sha256 mismatch: expected 0000"
contains "... and what it has" "$err" "$sha"
if [ "$("$MOO" ps --all --json | jq "len(d)")" = "$n_before" ]; then ok "... before the job starts: no job recorded"; else not_ok "... no job recorded" "$("$MOO" ps --all)"; fi
project "$T/p2" ../data "$sha"
run_json "the right sha256 is accepted" "$T/p2"

# ---- a file and archives ----------------------------------------------------------------
echo "one,two" >"$T/plain.csv"
project "$T/p3" "$T/plain.csv"
run_json "a plain file is placed as <basename>" "$T/p3"
contains "... the job reads it" "$(log_of "$(id_of)")" "FILE plain.csv one,two"
(cd "$T" && tar -czf data.tar.gz data && tar --zstd -cf data.tar.zst data && $PY -c "
import zipfile; z = zipfile.ZipFile('data.zip', 'w'); z.write('data/a.txt'); z.write('data/sub/b.txt'); z.close()")
for a in data.tar.gz data.tar.zst data.zip; do
	project "$T/p-$a" "$T/$a"
	run_json "$a is extracted (its top folder stripped)" "$T/p-$a"
	contains "... the job sees its files" "$(log_of "$(id_of)")" "FILE sub/b.txt beta"
done
# hostile archive: an entry that climbs out
$PY - "$T/evil.zip" <<'EOF'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w"); z.writestr("ok.txt", "x"); z.writestr("../escape.txt", "x"); z.close()
EOF
project "$T/p4" "$T/evil.zip"
expect_exit "an archive with a '..' entry is refused (exit 3)" 3 "$MOO" run "$T/p4"
contains "... by the bundle rules" "$err" "'..' component"
if [ ! -e "$T/escape.txt" ] && [ ! -e "$MOO_ROOT/escape.txt" ] && [ -z "$(ls "$MOO_ROOT/staging/datasets" 2>/dev/null)" ]; then ok "... nothing written outside, nothing left"; else not_ok "... nothing left" "$(ls -R "$MOO_ROOT/staging")"; fi

# ---- a URL, the download cut and resumed --------------------------------------------------
mkdir -p "$T/www"
head -c 300000 /dev/urandom >"$T/www/blob.bin"
usha=$(sha256sum "$T/www/blob.bin" | cut -c1-64)
$PY "$MOO_SRC/tests/cli/httpd.py" "$T/www" "$T/port" "$T/http.log" 100000 &
srv=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
U=http://127.0.0.1:$(cat "$T/port")
project "$T/p5" "$U/cut/blob.bin" "$usha"
run_json "a URL whose transfer is cut" "$T/p5"
if grep -q "GET /cut/blob.bin bytes=100000-" "$T/http.log"; then ok "... the download resumed from where it was cut"; else not_ok "... resumed" "$(cat "$T/http.log")"; fi
if cmp -s "$T/www/blob.bin" "$MOO_ROOT/datasets/$usha/blob.bin"; then ok "... the placed file is whole"; else not_ok "... whole"; fi
: >"$T/http.log"
run_json "the same URL again" "$T/p5"
if [ ! -s "$T/http.log" ]; then ok "... is not downloaded again"; else not_ok "... not downloaded" "$(cat "$T/http.log")"; fi
project "$T/p6" "$U/blob.bin" 1111111111111111111111111111111111111111111111111111111111111111
expect_exit "a URL whose bytes are not the sha256 is refused (exit 3)" 3 "$MOO" run "$T/p6"
contains "... naming the dataset" "$err" "dataset 'toy': sha256 mismatch"

"$MOO" pack "$T/p1" -o "$T/www/p1.zip" >/dev/null
expect_exit "a bundle from a URL whose dataset is relative to its folder is refused (exit 2)" 2 "$MOO" run "$U/p1.zip"
contains "... saying why" "$err" "dataset 'toy': '../data' is relative to the project's folder"

# ---- reproduce ----------------------------------------------------------------------------
echo gamma >"$T/data/a.txt"
expect_exit "reproduce refuses a dataset whose bytes changed (exit 5)" 5 "$MOO" reproduce "$id1"
contains "... naming it and the locked sha256" "$err" "dataset 'toy' changed: the lock records sha256 $sha"
echo alpha >"$T/data/a.txt"
expect_exit "reproduce with the bytes restored" 0 "$MOO" reproduce "$id1"

# ---- moo datasets ---------------------------------------------------------------------------
expect_exit "datasets ls --json" 0 "$MOO" datasets ls --json
row=$(printf '%s' "$out" | jq "[x for x in d if x['sha256'] == '$sha'][0]")
if printf '%s' "$out" | jq "[x for x in d if x['sha256'] == '$sha'][0]['jobs'][:2] == ['$id1', '$id2'] and [x for x in d if x['sha256'] == '$sha'][0]['bytes'] == 11" | grep -qx True; then
	ok "... lists size and the jobs that used it"
else not_ok "... size and jobs" "$out"; fi
if printf '%s' "$out" | jq "all(__import__('re').fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z', x[k]) for x in d for k in ('placed', 'last_used'))" | grep -qx True; then
	ok "... placed and last_used are RFC 3339 times, as moo(1) says"
else not_ok "... RFC 3339 times" "$out"; fi
expect_exit "datasets ls" 0 "$MOO" datasets ls
contains "... a table row" "$out" "$(echo "$sha" | cut -c1-12)  toy"
project "$T/p7" "$T/plain.csv"
SLEEP=30 "$MOO" run -d "$T/p7" >"$T/p7.id"
psha=$(sha256sum "$T/plain.csv" | cut -c1-64)
expect_exit "rm refuses a dataset a running job uses (exit 2)" 2 "$MOO" datasets rm "$psha"
contains "... naming the job" "$err" "used by running job $(cat "$T/p7.id")"
expect_exit "gc" 0 "$MOO" datasets gc --json
if [ -d "$MOO_ROOT/datasets/$psha" ] && [ ! -e "$MOO_ROOT/datasets/$sha" ] && printf '%s' "$out" | jq "'$sha' in d['removed']" | grep -qx True; then
	ok "... removes the idle datasets and keeps the running job's"
else not_ok "... gc" "$out $(ls "$MOO_ROOT/datasets")"; fi
"$MOO" cancel "$(cat "$T/p7.id")" >/dev/null 2>&1
expect_exit "rm once the job ended" 0 "$MOO" datasets rm "$psha"
if [ ! -e "$MOO_ROOT/datasets/$psha" ]; then ok "... it is gone"; else not_ok "... gone"; fi
expect_exit "rm of an unknown dataset (exit 2)" 2 "$MOO" datasets rm deadbeefdeadbeef
expect_exit "rm --json of an unknown dataset: one JSON document" 2 "$MOO" datasets rm --json deadbeefdeadbeef
if printf '%s' "$out" | jq "list(d) == ['error', 'errors'] and d['errors'] == [d['error']] and 'no dataset' in d['error']['message']" | grep -qx True; then ok "... saying what is wrong"; else not_ok "... json" "$out"; fi
expect_exit "an unknown subcommand (exit 2)" 2 "$MOO" datasets frob

# ---- a description is left alone --------------------------------------------------------------
project "$T/p8" sklearn.datasets.load_diabetes
sed -i 's/^d = .*/d = os.environ.get("MOO_DATASET_DIR", "")\nprint("DIR[" + d + "]")\nsys.exit(0)/' "$T/p8/train.py"
run_json "a source that is a description: nothing placed" "$T/p8"
contains "... and no MOO_DATASET_DIR" "$(log_of "$(id_of)")" "DIR[]"
done_testing
