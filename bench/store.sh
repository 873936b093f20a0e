#!/bin/sh
# The store at sweep scale: a store filled with JOBS finished jobs (3 metrics each), one of
# them a real job with a log, and a 1,000-point sweep; then the job verbs timed against
# 'moo --version' (the cost of starting moo at all), each the median of N runs.
#   bench/store.sh [MOO] [JOBS] [N]     (defaults: build/cli/moo, 100000, 15)
# Goals (issue #16): status, logs, show and ps within 20 ms of --version; ps -a shows the
# newest 50; compare of the 1,000-point sweep under 1 s.
set -eu
MOO=${1:-build/cli/moo}
JOBS=${2:-100000}
N=${3:-15}
PY=/usr/bin/python3
case $MOO in /*) ;; *) MOO=$PWD/$MOO ;; esac
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export MOO_HOME="$T/home" MOO_ROOT="$T/root" XDG_DATA_HOME="$T/data" MOO_PYTHON="$PY"
export XDG_CONFIG_HOME="$T/config" NO_COLOR=1

mkdir "$T/job"
printf 'print("moo:metric mae=1.5")\n' >"$T/job/train.py"
printf 'framework: {name: python, version: "3", runtime: python3}\nmodel: {name: bench}\nentry_point: train.py\noutput_folder: training_result\n' >"$T/job/metadata.yaml"
real=$("$MOO" run -d "$T/job")
sleep 1
"$MOO" status "$real" >/dev/null

t0=$(date +%s.%N)
"$PY" - "$MOO_HOME/moo.db" "$JOBS" <<'EOF'
import random, sqlite3, string, sys, time
db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
row = db.execute("SELECT * FROM jobs LIMIT 1").fetchone()
cols = [d[0] for d in db.execute("SELECT * FROM jobs LIMIT 1").description]
base = dict(zip(cols, row))
rnd = random.Random(1)
now = time.time() - 365 * 86400
alnum = string.ascii_lowercase + string.digits
seen = {base["id"]}
jobs, metrics = [], []
sweep = "moo-sweep-bench0"
for i in range(n):
    while True:
        jid = "moo-job-" + "".join(rnd.choice(alnum) for _ in range(6))
        if jid not in seen:
            break
    seen.add(jid)
    j = dict(base)
    j.update(id=jid, created=now + i * 300, started=now + i * 300 + 1, ended=now + i * 300 + 60,
             status="succeeded" if i % 10 else "failed", name=None, sweep=None, sweep_index=None,
             params='{"lr": %g}' % (i % 1000 / 1000))
    if i >= n - 1000:
        j.update(sweep=sweep, sweep_index=i - (n - 1000), name=f"{sweep}:{i - (n - 1000)}")
    jobs.append(tuple(j[c] for c in cols))
    for k, m in enumerate(("mae", "rmse", "r2")):
        metrics.append((jid, k, m, rnd.random(), None, 0))
ph = ",".join("?" * len(cols))
db.executemany(f"INSERT INTO jobs ({','.join(cols)}) VALUES ({ph})", jobs)
db.executemany("INSERT INTO metrics (job_id, seq, name, value, step, from_file) VALUES (?,?,?,?,?,?)", metrics)
db.execute("INSERT INTO sweeps (id, source, points, opts, status, created) VALUES (?, '', '[]', '{}', 'done', ?)", (sweep, now))
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
EOF
t1=$(date +%s.%N)
printf 'filled a store with %s jobs (+1 real, a 1,000-point sweep) in %.1f s: %s MB\n' "$JOBS" \
	"$(echo "$t1 - $t0" | bc)" "$(($(stat -c %s "$MOO_HOME/moo.db") / 1000000))"

# median NAME COMMAND...: the median wall time of N runs, in ms
median() {
	_name=$1
	shift
	"$@" >/dev/null 2>&1 || { echo "$_name: failed: $*" >&2; exit 1; }
	_i=0
	: >"$T/times"
	while [ $_i -lt "$N" ]; do
		_a=$(date +%s%N)
		"$@" >/dev/null 2>&1
		_b=$(date +%s%N)
		echo $(((_b - _a) / 1000)) >>"$T/times"
		_i=$((_i + 1))
	done
	sort -n "$T/times" | awk -v n="$N" 'NR == int((n + 1) / 2) { printf "%.1f", $1 / 1000 }'
}

base=$(median version "$MOO" --version)
printf '%-28s %9s %9s\n' "command" "ms" "over --version"
printf '%-28s %9s %9s\n' "moo --version" "$base" "-"
for c in "status $real" "logs $real" "show $real" "ps" "ps -a" "ps -a --json" \
	"compare moo-sweep-bench0 --by mae" "compare moo-sweep-bench0 --csv" "ps --sweep moo-sweep-bench0"; do
	# shellcheck disable=SC2086
	ms=$(median "$c" "$MOO" $c)
	printf '%-28s %9s %9s\n' "moo ${c%% moo-*}" "$ms" "$(echo "$ms - $base" | bc)"
done
printf 'ps -a lists %s jobs\n' "$("$MOO" ps -a --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')"
