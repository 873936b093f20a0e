#!/bin/sh
# A dataset sent with the job, 'moo run --on H' against the OpenSSH a user would script,
# side by side in one run, against a private sshd on loopback (tests/lib/sshd.sh).
#   bench/datasets.sh [MOO] [N] [MIB]    (build/cli/moo, 3 runs, a 64 MiB folder of 16 files)
# 1. first job with the data: moo places it in datasets/<sha256>/ and runs a job that
#    reads it, against scp -r of the folder then ssh running the same script
#                                                                   (goal: ratio <= 1.0)
# 2. the next job with the same data: moo sends 0 bytes of it, against the scp -r a
#    plain script repeats                                           (goal: ratio < 0.5)
# Runs are interleaved so drift in the machine's load hits both sides alike. As root.
set -eu
MOO=${1:-build/cli/moo}
N=${2:-3}
MIB=${3:-64}
case $MOO in /*) ;; *) MOO=$PWD/$MOO ;; esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
chmod 755 "$T"
cleanup_dirs() { chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"; }
export MOO_HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" MOO_PYTHON=/usr/bin/python3
unset MOO_ROOT
. "$SRC/tests/lib/sshd.sh"
sshd_setup && sshd_start || { echo "bench/datasets.sh: cannot start sshd" >&2; exit 1; }
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
RR=$T/hostroot
"$MOO" hosts add bh --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$RR" >/dev/null
SSHO="-o UserKnownHostsFile=$MOO_KNOWN_HOSTS -o BatchMode=yes -o IdentitiesOnly=yes -i $SSHD_KEY"
# shellcheck disable=SC2086
sshu() { ssh -p "$SSHD_PORT" $SSHO root@127.0.0.1 "$@"; }
# shellcheck disable=SC2086
scpu() { scp -q -P "$SSHD_PORT" $SSHO "$@"; }
trap 'sshd_stop; cleanup_dirs' EXIT

mkdir -p "$T/data" "$T/p"
i=0
while [ $i -lt 16 ]; do head -c $((MIB * 1048576 / 16)) /dev/urandom >"$T/data/part$i.bin"; i=$((i + 1)); done
cat >"$T/p/train.py" <<'EOT'
import os, sys
d = os.environ.get("MOO_DATASET_DIR") or sys.argv[1]
print("bytes", sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)))
EOT
printf 'framework: {name: python, version: "3", runtime: python3}\nmodel: {name: b}\ndataset: {name: bench, source: %s}\nentry_point: train.py\noutput_folder: training_result\n' "$T/data" >"$T/p/metadata.yaml"

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
first_moo=0 first_plain=0 next_moo=0 next_plain=0 sent=
r=0
while [ $r -lt "$N" ]; do
	sshu "chmod -R u+w '$RR' 2>/dev/null; rm -rf '$RR' bench-data" # a fresh host each round
	a=$(now)
	"$MOO" run --on bh "$T/p" >/dev/null 2>&1
	b=$(now)
	scpu -r "$T/data" root@127.0.0.1:bench-data
	sshu "cd bench-data && /usr/bin/python3 - . <'$T/p/train.py' >/dev/null"
	c=$(now)
	out=$("$MOO" run --on bh --json "$T/p" 2>/dev/null)
	d=$(now)
	sshu "rm -rf bench-data"
	scpu -r "$T/data" root@127.0.0.1:bench-data
	sshu "cd bench-data && /usr/bin/python3 - . <'$T/p/train.py' >/dev/null"
	e=$(now)
	sent=$(printf '%s' "$out" | sed -n 's/^ *"bytes_sent": \([0-9]*\).*/\1/p')
	first_moo=$((first_moo + $(ms "$a" "$b"))) first_plain=$((first_plain + $(ms "$b" "$c")))
	next_moo=$((next_moo + $(ms "$c" "$d"))) next_plain=$((next_plain + $(ms "$d" "$e")))
	r=$((r + 1))
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "dataset $MIB MiB in 16 files, $N runs of each (mean ms)"
echo "first job   moo $((first_moo / N))  scp -r + ssh $((first_plain / N))  ratio $(ratio "$first_moo" "$first_plain")  (goal <= 1.0)"
echo "next job    moo $((next_moo / N))  scp -r + ssh $((next_plain / N))  ratio $(ratio "$next_moo" "$next_plain")  (goal < 0.5; bytes sent by moo: $sent)"
