# Shared by the job tests (TAP): a private MOO_HOME/MOO_ROOT/XDG tree per script, helpers
# to make small projects and wait for jobs, and cleanup of every job the script started.
set -u
: "${MOO:?set MOO to the moo binary}"
SRCDIR=${SRCDIR:-${MOO_SRC:?set MOO_SRC to the source tree}}
T=$(mktemp -d "${TMPDIR:-/tmp}/moo-test.XXXXXX")
export HOME="$T/home" MOO_HOME="$T/moohome" MOO_ROOT="$T/root"
export XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" NO_COLOR=1
export XDG_CACHE_HOME="$T/cache" # the scans of bundles (bundle.c) stay in the test
export MOO_PYTHON="${MOO_PYTHON:-/usr/bin/python3}"
mkdir -p "$HOME"
n=0
failed=0

. "$SRCDIR/tests/lib/jobs.sh"
cleanup() {
	kill_jobs "$MOO_ROOT"/jobs/*/state
	rm -rf "$T"
}
trap cleanup EXIT

ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}
# check DESCRIPTION COMMAND...: one TAP line for whether COMMAND succeeds.
check() { # NAME COMMAND...: what the command prints goes to stderr, the TAP stream stays TAP
	d=$1
	shift
	if "$@" >&2; then ok "$d"; else not_ok "$d"; fi
}
done_testing() {
	echo "1..$n"
	[ "$failed" -eq 0 ]
}

# project DIR RUNTIME: a project whose train.py is read from stdin.
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	cat >"$1/metadata.yaml" <<EOT
framework:
  name: python
  version: "3"
  runtime: ${2:-python3}
model:
  name: $(basename "$1")
entry_point: train.py
output_folder: training_result
EOT
}

status_of() {
	"$MOO" status --json "$1" | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}

# wait_status JOB STATUS [SECONDS]: until the job has that status.
wait_status() {
	i=0
	while [ "$(status_of "$1")" != "$2" ]; do
		i=$((i + 1))
		[ "$i" -gt $((${3:-30} * 20)) ] && return 1
		sleep 0.05
	done
}

state_of() { # state_of JOB KEY
	sed -n "s/^$2=//p" "$MOO_ROOT/jobs/$1/state"
}

# wait_file PATH [SECONDS]
wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ "$i" -gt $((${2:-30} * 20)) ] && return 1
		sleep 0.05
	done
}

# alive PID: the process exists and is not a zombie (an unreaped zombie answers kill -0).
alive() {
	[ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat"
}
