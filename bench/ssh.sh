#!/bin/sh
# moo over SSH against the plain OpenSSH a user would script, side by side in one run,
# against a private sshd on loopback that this script starts (tests/lib/sshd.sh).
#   bench/ssh.sh [MOO] [N] [MIB]   (build/cli/moo, 5 runs of each job, a 1024 MiB upload)
# 1. a trivial job and the sklearn example: 'moo run --on H' against
#    scp the bundle; ssh H 'unzip and run'; scp -r the results back
#    (goals, issue 11: trivial <= 0.15, sklearn <= 0.6). Each also gives the job's own time
#    (its supervisor's record), what moo adds around it, and the ratio a moo adding nothing
#    would have: the job is the same program either way, so that is the floor.
# 2. a MIB upload: the transport's put (connect, put, rename; build/tests/cli/ssh-tool)
#    against scp of the same file                                      (goal: >= 1.0x scp)
# 3. a re-run of the same bundle: the bytes of the bundle sent         (goal: 0)
# Runs are interleaved so drift in the machine's load hits both sides alike. Logins are
# as moouser (created when missing; a plain /bin/sh login), else root: BENCH_USER=root
# measures through root's login shell instead.
set -eu
MOO=${1:-build/cli/moo}
N=${2:-5}
MIB=${3:-1024}
case $MOO in /*) ;; *) MOO=$PWD/$MOO ;; esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
TOOL=$(dirname "$MOO")/../tests/cli/ssh-tool
T=$(mktemp -d)
chmod 755 "$T"
cleanup_dirs() { rm -rf "$T"; }
export MOO_HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config"
unset MOO_ROOT
. "$SRC/tests/lib/sshd.sh"
sshd_setup && sshd_start || { echo "bench/ssh.sh: cannot start sshd" >&2; exit 1; }
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
U=${BENCH_USER:-moouser}
if [ "$U" = moouser ] && ! sshd_test_user; then U=root; fi
H=$U@127.0.0.1:$SSHD_PORT
HOMEU=$(getent passwd "$U" | cut -d: -f6)
RR=$HOMEU/moo-bench # MOO_ROOT on the host
"$MOO" hosts add bh --address 127.0.0.1 --port "$SSHD_PORT" --user "$U" --root "$RR" >/dev/null
SSHO="-o UserKnownHostsFile=$MOO_KNOWN_HOSTS -o BatchMode=yes -o IdentitiesOnly=yes -i $SSHD_KEY"
# shellcheck disable=SC2086
sshu() { ssh -p "$SSHD_PORT" $SSHO "$U@127.0.0.1" "$@"; }
# shellcheck disable=SC2086
scpu() { scp -q -P "$SSHD_PORT" $SSHO "$@"; }
trap 'sshu "rm -rf moo-bench bench-plain bench-plain-*.zip bench-up" 2>/dev/null; sshd_stop; cleanup_dirs' EXIT

mkdir "$T/trivial"
cat >"$T/trivial/train.py" <<'EOT'
import os
os.makedirs("training_result", exist_ok=True)
open("training_result/model.txt", "w").write("ok\n")
print("trained")
EOT
printf 'framework: {name: python, version: "3", runtime: python3}\nmodel: {name: trivial}\nentry_point: train.py\noutput_folder: training_result\n' >"$T/trivial/metadata.yaml"

now() { date +%s%N; }
# plain DIR ZIP I: what a user would script with OpenSSH
plain() {
	scpu "$2" "$U@127.0.0.1:bench-plain-$3.zip"
	sshu "rm -rf bench-plain/$3 && mkdir -p bench-plain/$3 && cd bench-plain/$3 && unzip -q ../../bench-plain-$3.zip && python3 train.py >process.log 2>&1"
	rm -rf "$T/res-$3"
	scpu -r "$U@127.0.0.1:bench-plain/$3/training_result" "$T/res-$3"
}

job_bench() { # NAME DIR GOAL
	"$MOO" pack "$2" -o "$T/$1.zip" >/dev/null 2>&1
	"$MOO" run --on bh "$2" >/dev/null 2>&1 # warm-up: the bundle is sent once
	plain "$2" "$T/$1.zip" w >/dev/null
	p=0 m=0 i=0
	: >"$T/jobs-$1"
	while [ "$i" -lt "$N" ]; do
		t0=$(now)
		plain "$2" "$T/$1.zip" "$i"
		t1=$(now)
		"$MOO" run --on bh "$2" >/dev/null 2>"$T/moo.err" || { echo "bench/ssh.sh: moo run failed:" >&2; cat "$T/moo.err" >&2; exit 1; }
		t2=$(now)
		[ -s "$T/res-$i/model.txt" ] || [ -s "$T/res-$i/model.pkl" ] || { echo "bench/ssh.sh: the plain script made no model" >&2; exit 1; }
		p=$((p + t1 - t0))
		m=$((m + t2 - t1))
		# the job's own run, as its supervisor recorded it (up: seconds, 10 ms steps)
		j=$(ls -td "$RR"/jobs/*/ | head -1)
		echo "$(sed -n 's/^started=up://p' "$j/state") $(sed -n 's/^ended=up://p' "$j/exit")" >>"$T/jobs-$1"
		i=$((i + 1))
	done
	awk -v p="$p" -v m="$m" -v n="$N" -v name="$1" -v goal="$3" '
	{ job += $2 - $1 }
	END {
		printf "%-8s scp + ssh unzip/run + scp -r : %7.1f ms (mean of %d)\n", name, p / n / 1e6, n
		printf "%-8s moo run --on                 : %7.1f ms (mean of %d)\n", name, m / n / 1e6, n
		printf "%-8s ratio                        : %7.2f (goal <= %s)\n", name, m / p, goal
		# what moo adds around the job, and the ratio moo would have if it added nothing
		printf "%-8s   the job itself (supervisor) : %7.1f ms; moo around it %.1f ms; ratio if moo added nothing: %.2f\n",
			name, job / n * 1e3, m / n / 1e6 - job / n * 1e3, job * 1e9 / p
	}' "$T/jobs-$1"
}

echo "host: $H ($(nproc) cpus here, load $(cut -d' ' -f1 /proc/loadavg))"
job_bench trivial "$T/trivial" 0.15
job_bench sklearn "$SRC/examples/sklearn-diabetes" 0.6

# ---- the upload -------------------------------------------------------------------------------
head -c $((MIB * 1048576)) /dev/urandom >"$T/big.bin"
sshu "rm -rf bench-up && mkdir -p bench-up"
ps=0 ss=0 i=0
while [ "$i" -lt 3 ]; do
	t0=$(now)
	scpu "$T/big.bin" "$U@127.0.0.1:bench-up/scp.bin"
	t1=$(now)
	"$TOOL" bh put "$T/big.bin" "$HOMEU/bench-up/moo.bin" >/dev/null
	t2=$(now)
	sshu "cmp -s bench-up/scp.bin bench-up/moo.bin && rm -f bench-up/*.bin" || { echo "bench/ssh.sh: uploads differ" >&2; exit 1; }
	ss=$((ss + t1 - t0))
	ps=$((ps + t2 - t1))
	i=$((i + 1))
done
awk -v s="$ss" -v p="$ps" -v b="$((MIB * 1048576))" 'BEGIN {
	printf "upload   scp                          : %7.1f MB/s (%d MiB, mean of 3)\n", b * 3 / s * 1e3, b / 1048576
	printf "upload   moo put                      : %7.1f MB/s\n", b * 3 / p * 1e3
	printf "upload   ratio                        : %7.2f x scp (goal >= 1.0)\n", s / p
}'

# ---- a re-run of the same bundle ------------------------------------------------------------
sent=$("$MOO" run --on bh --json "$SRC/examples/sklearn-diabetes" 2>/dev/null | sed -n '/^{/,$p' |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_sent"])')
echo "re-run   bytes of the bundle sent     : $sent (goal 0)"
