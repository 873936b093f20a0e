#!/bin/sh
# One bad job never hides the rest (issue 12 item 6, issue 13 item 3): a host removed while
# its job runs, a job folder that cannot be read; 'hosts rm' guards live jobs; 'rm' of a
# remote job removes the result pulled here too. A real sshd on loopback.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3
if ! sshd_setup || ! sshd_start; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
R=$T/remote
mkdir -p "$R"
trap 'kill_jobs "$R"/jobs/*/state "$MOO_ROOT"/jobs/*/state; sshd_stop; cleanup_dirs' EXIT
"$MOO" hosts add lo --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
cd "$T" || exit 1
mk() { # mk DIR CODE: a project
	mkdir -p "$1" && printf '%s\n' "$2" >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: %s\nentry_point: train.py\noutput_folder: out\n' "$1" >"$1/metadata.yaml"
}
mk quick 'import os; open(os.environ["MOO_OUTPUT_DIR"] + "/r.txt", "w").write("x")'
mk sleeper 'import time; print("up", flush=True); time.sleep(300)'
status() { "$MOO" status --json "$1" 2>/dev/null | jq 'd["status"]'; }
wait_running() {
	_i=0
	until [ "$(status "$1")" = running ] || [ $_i -gt 200 ]; do sleep 0.05; _i=$((_i + 1)); done
}

# rm of a remote job: its result pulled here goes too
q=$("$MOO" run -d --on lo quick)
"$MOO" logs -f "$q" >/dev/null 2>&1
"$MOO" fetch "$q" -o "$T/fetched" >/dev/null 2>&1
check "the remote result is pulled into MOO_HOME/results" test -f "$MOO_HOME/results/$q/out/r.txt"
expect_exit "rm of the finished remote job" 0 "$MOO" rm "$q"
check "removes the result pulled here" eval "! test -e '$MOO_HOME/results/$q'"
check "and its folder on the host" eval "! test -e '$R/jobs/$q'"

loc=$("$MOO" run -d sleeper)
rem=$("$MOO" run -d --on lo sleeper)
bad=$("$MOO" run -d sleeper)
wait_running "$loc"
wait_running "$rem"
wait_running "$bad"

# hosts rm guards the live job
expect_exit "hosts rm of a host with a running job is refused" 2 "$MOO" hosts rm lo
contains "naming the job" "$err" "$rem"
contains "with the way on" "$err" "--force"
check "the host is still there" sh -c "'$MOO' hosts ls | grep -q '^lo'"
expect_exit "hosts rm --force removes it" 0 "$MOO" hosts rm --force lo
contains "with a warning naming the job" "$err" "warning: job $rem"

# a job whose state cannot be read (a folder in its place)
rm -f "$MOO_ROOT/jobs/$bad/state" && mkdir "$MOO_ROOT/jobs/$bad/state"

expect_exit "ps with a job of a removed host and an unreadable one" 0 "$MOO" ps
contains "lists the local job" "$out" "$loc"
contains "lists the removed host's job" "$out" "$rem"
contains "and the unreadable one" "$out" "$bad"
contains "flagged with the reason" "$(echo "$out" | grep "$rem")" "unknown host 'lo'"
contains "its status is unknown" "$(echo "$out" | grep "$rem")" " unknown "
contains "the local job runs" "$(echo "$out" | grep "$loc")" " running "
contains "the unreadable job says why" "$(echo "$out" | grep "$bad")" " unknown "
contains "a warning per bad job" "$err" "warning: $rem: unknown host 'lo'"
expect_exit "ps -a too" 0 "$MOO" ps -a
contains "ps -a lists the local job" "$out" "$loc"
expect_exit "ps --json" 0 "$MOO" ps --json
check "one JSON document: the local job running, the others flagged" sh -c "echo '$out' | $PY -c '
import json, sys
d = {j[\"id\"]: j for j in json.load(sys.stdin)}
assert d[\"$loc\"][\"status\"] == \"running\" and d[\"$loc\"][\"problem\"] is None
assert \"unknown host\" in d[\"$rem\"][\"problem\"], d[\"$rem\"]
assert d[\"$bad\"][\"problem\"], d[\"$bad\"]
'"
expect_exit "rm of the removed host's job forgets it" 0 "$MOO" rm "$rem"
contains "saying its folder there stays" "$err" "unknown host 'lo'"
check "it is gone from ps -a" sh -c "! '$MOO' ps -a | grep -q '$rem'"
# rm -f of the unreadable job, one that does not exist and the local one: the bad ones are
# named with their reason, the good one is removed
"$MOO" rm -f "$bad" moo-job-nosuch "$loc" >"$T/.out" 2>"$T/.err"
rc=$? out=$(cat "$T/.out") err=$(cat "$T/.err")
check "rm -f of several jobs, two bad: fails" [ "$rc" != 0 ]
contains "removes the good one after the bad ones" "$out" "$loc removed"
contains "names the unreadable one with its reason" "$err" "jobs/$bad/state"
contains "names the unknown one" "$err" "moo-job-nosuch"
check "ps -a lists the bad one still, not the removed one" \
	sh -c "'$MOO' ps -a 2>/dev/null | grep -q '$bad' && ! '$MOO' ps -a | grep -q '$loc'"
# authentication with no agent and no key file at all says so (issue 12 item 7)
mkdir -p "$T/nohome" && : >"$T/ssh_config_none"
"$MOO" hosts add nokey --address 127.0.0.1 --port "$SSHD_PORT" --user root >/dev/null
expect_exit "a login with no agent and no key: exit 4" 4 \
	env HOME="$T/nohome" MOO_SSH_CONFIG="$T/ssh_config_none" "$MOO" hosts check nokey
contains "says that: no agent and no key file" "$err" "failed: no ssh-agent (SSH_AUTH_SOCK is not set) and no key file"
done_testing
