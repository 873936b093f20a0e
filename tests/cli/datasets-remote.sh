#!/bin/sh
# Datasets on an SSH host (a real sshd on loopback): placed once in the host's
# datasets/<sha256>/, a second job sends 0 bytes, a cut upload resumes with the files it
# lacks (a cut left by hand, and one made by stopping sshd mid-upload), HOST:PATH already
# on the host is copied there (nothing sent), and 'moo datasets ls|rm --on HOST'.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3
if [ -z "${SSHD_DIR:-}" ] && ! sshd_setup || ! sshd_start; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
R=$T/remote
mkdir -p "$R"
"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
trap 'kill_jobs "$R"/jobs/*/state; sshd_stop; chmod -R u+w "$T" 2>/dev/null; cleanup_dirs' EXIT

project() {
	mkdir -p "$1"
	printf 'import os\nd = os.environ["MOO_DATASET_DIR"]\nfor f in sorted(os.listdir(d)):\n    print("FILE", f, os.path.getsize(os.path.join(d, f)))\n' >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\ndataset:\n  name: %s\n  source: %s\nentry_point: train.py\noutput_folder: training_result\n' "$2" "$3" >"$1/metadata.yaml"
}
manifest() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' '\0' | xargs -0r sha256sum -- | sha256sum | cut -c1-64); }
run_on() { echo "# run $2" >&2; expect_exit "$1" "${3:-0}" "$MOO" run --on h1 --json "$2"; rec=$(printf '%s' "$out" | sed -n '/^{/,$p'); }
field() { printf '%s' "$rec" | jq "d['$1']"; }
log_of() { cat "$R/jobs/$1/process.log"; }

mkdir -p "$T/d1"
head -c 3000000 /dev/urandom >"$T/d1/big.bin" # over 1 MiB: the pipelined upload
echo small >"$T/d1/small.txt"
sha=$(manifest "$T/d1")
project "$T/p1" d1 "$T/d1"
run_on "a folder dataset to h1" "$T/p1"
id1=$(field id)
contains "... the job on h1 sees it" "$(log_of "$id1")" "FILE big.bin 3000000"
contains "... the log says what was sent" "$(log_of "$id1")" "dataset 'd1' (sha256 $(echo "$sha" | cut -c1-12)) placed on h1: 3000006 bytes sent"
if [ "$(field bytes_sent)" -gt 3000006 ]; then ok "... the job's bytes_sent counts the dataset and the bundle"; else not_ok "... bytes_sent" "$rec"; fi
if cmp -s "$T/d1/big.bin" "$R/datasets/$sha/big.bin" && [ -z "$(ls "$R/staging/datasets")" ]; then ok "... placed whole in the host's datasets/<sha256>, no staging left"; else not_ok "... placed" "$(ls -R "$R/datasets" "$R/staging")"; fi

run_on "a second job with the same dataset and project" "$T/p1"
if [ "$(field bytes_sent)" = 0 ]; then ok "... transfers 0 bytes"; else not_ok "... 0 bytes" "$rec"; fi
contains "... its log says so" "$(log_of "$(field id)")" "already on h1: 0 bytes sent"

# ---- a cut upload resumed --------------------------------------------------------------
mkdir -p "$T/d2"
head -c 200000 /dev/urandom >"$T/d2/a.bin"
head -c 300000 /dev/urandom >"$T/d2/b.bin"
head -c 400000 /dev/urandom >"$T/d2/c.bin"
sha2=$(manifest "$T/d2")
# what a cut transfer leaves: a.bin whole (renamed into place), b.bin cut short under
# another size (an earlier version), c.bin not begun
mkdir -p "$R/staging/datasets/$sha2.part"
cp "$T/d2/a.bin" "$R/staging/datasets/$sha2.part/a.bin"
head -c 1000 "$T/d2/b.bin" >"$R/staging/datasets/$sha2.part/b.bin"
project "$T/p2" d2 "$T/d2"
run_on "a dataset whose upload was cut" "$T/p2"
contains "... only the missing files are sent (b.bin and c.bin)" "$(log_of "$(field id)")" "placed on h1: 700000 bytes sent"
if cmp -s "$T/d2/b.bin" "$R/datasets/$sha2/b.bin" && [ "$(manifest "$R/datasets/$sha2")" = "$sha2" ]; then ok "... the placed dataset is the source, byte for byte"; else not_ok "... whole"; fi

# ---- a real cut: sshd stopped and its sessions killed mid-upload, then the run again ------
mkdir -p "$T/d5"
i=0
while [ $i -lt 40 ]; do head -c 2000000 /dev/urandom >"$T/d5/f$i.bin"; i=$((i + 1)); done
sha5=$(manifest "$T/d5")
project "$T/p5" d5 "$T/d5"
"$MOO" run --on h1 "$T/p5" >"$T/cut.out" 2>&1 &
mp=$!
i=0
# files of the full size in the tree being sent (.part, or its temporary name)
whole() { find "$R/staging/datasets" -path "*$sha5.part*" -name 'f*.bin' -size 2000000c 2>/dev/null | wc -l; }
while [ "$(whole)" -lt 1 ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
sp=$(cat "$SSHD_DIR/sshd.pid")
# the listener and its sessions at once: the connection is cut, and no new one is taken
kill -KILL "$sp" $(ps -o pid= --ppid "$sp") 2>/dev/null
sshd_stop
wait $mp
rc=$?
had=$(whole)
[ -d "$R/staging/datasets/$sha5.part" ] || ls -d "$R/staging/datasets/$sha5".part.moo-tmp-* >/dev/null 2>&1 && ok "... what was sent stays on the host" || not_ok "... left on the host" "$(ls "$R/staging/datasets")"
if [ "$rc" = 4 ] && [ "$had" -ge 1 ]; then ok "a cut upload: moo fails (exit 4), $had of 40 files of full size on the host"; else not_ok "a cut upload" "exit $rc, $had files: $(tail -5 "$T/cut.out")"; fi
sshd_start
run_on "... the same run again" "$T/p5"
sent=$(log_of "$(field id)" | sed -n "s/^moo: dataset 'd5' .* on h1: \([0-9]*\) bytes sent$/\1/p")
# (a file of full size may still have holes from the pipelined writes: then it is sent again)
if [ -n "$sent" ] && [ "$sent" -lt 80000000 ] && [ "$sent" -ge $(( (40 - had) * 2000000 )) ]; then ok "... resumes: $sent of 80000000 bytes sent ($had whole files were there)"; else not_ok "... resumes" "sent '$sent', $had files were there"; fi
if [ "$(manifest "$R/datasets/$sha5")" = "$sha5" ]; then ok "... and the placed dataset is whole"; else not_ok "... whole"; fi

# ---- HOST:PATH ------------------------------------------------------------------------------
mkdir -p "$T/ondisk"
echo "already there" >"$T/ondisk/x.txt"
project "$T/p3" d3 "h1:$T/ondisk"
run_on "a dataset already on the host (h1:PATH)" "$T/p3"
contains "... placed from the host's own copy: 0 bytes sent" "$(log_of "$(field id)")" "placed on h1: 0 bytes sent"
if [ "$(cat "$R/datasets/$(manifest "$T/ondisk")/x.txt")" = "already there" ]; then ok "... in datasets/<sha256 of its manifest, computed on the host>"; else not_ok "... placed" "$(ls "$R/datasets")"; fi
project "$T/p4" d4 "elsewhere:/data"
expect_exit "a dataset on another host is refused (exit 2)" 2 "$MOO" run --on h1 "$T/p4"
contains "... saying where it is" "$err" "dataset 'd4' is on 'elsewhere', but the job runs on 'h1'"

# ---- moo datasets --on ----------------------------------------------------------------------
expect_exit "datasets ls --on h1 --json" 0 "$MOO" datasets ls --on h1 --json
if printf '%s' "$out" | jq "sorted(x['name'] for x in d) == ['d1', 'd2', 'd3', 'd5'] and [x for x in d if x['name'] == 'd1'][0]['bytes'] == 3000006 and len([x for x in d if x['name'] == 'd1'][0]['jobs']) == 2" | grep -qx True; then
	ok "... the four datasets, their sizes and jobs"
else not_ok "... ls" "$out"; fi
expect_exit "datasets rm --on h1 d2" 0 "$MOO" datasets rm --on h1 d2
if [ ! -e "$R/datasets/$sha2" ] && [ ! -e "$R/datasets/$sha2.info" ]; then ok "... removed from the host"; else not_ok "... removed"; fi
done_testing
