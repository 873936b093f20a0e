#!/bin/sh
# A job is code from elsewhere: what it does to its own folder and processes must not turn
# moo against the user. Locally and over a real sshd on loopback: a FIFO or a folder in
# place of its files (reported as a bad job, nothing hangs, no blocked sftp server left),
# an exit file it writes itself, a forged pgid (inside 'unshare --pid --fork', so that a
# kill of the wrong group cannot reach anything outside the test), a lost job that can
# still be stopped, leftovers of a job and setsid children stopped, a log truncated while
# it is followed.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3 MOO_KILL_GRACE=1

remote=
if sshd_setup; then
	echo "SetEnv MOO_KILL_GRACE=1" >>"$SSHD_DIR/sshd_config"
	sshd_start && remote=1
fi
R=$T/remote # the job root on the host h1 (the same machine, as root over sshd)
mkdir -p "$R"
if [ -n "$remote" ]; then
	cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
	"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
fi
cleanup_jobs() { kill_jobs "$MOO_ROOT"/jobs/*/state "$R"/jobs/*/state; }
trap 'cleanup_jobs; [ -n "$remote" ] && sshd_stop; cleanup_dirs' EXIT

# project DIR: a project whose train.py is read from stdin
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\n' >"$1/metadata.yaml"
}
# alive PID: a process that runs (a zombie waiting for its reaper does not)
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }
# until SECONDS COMMAND...: true once the command succeeds within SECONDS
until_ok() {
	_s=$1
	shift
	_i=0
	while ! "$@" 2>/dev/null; do
		_i=$((_i + 1))
		[ $_i -gt $((_s * 20)) ] && return 1
		sleep 0.05
	done
}
status_of() { "$MOO" status --json "$1" 2>/dev/null | jq "d['status']"; }
is_status() { [ "$(status_of "$1")" = "$2" ]; }
# dir_of ID: the job's folder on its host (both hosts are this machine)
dir_of() { if [ -d "$MOO_ROOT/jobs/$1" ]; then echo "$MOO_ROOT/jobs/$1"; else echo "$R/jobs/$1"; fi; }
st() { sed -n "s/^$2=//p" "$(dir_of "$1")/state"; }
# sessions: the sshd sessions open now (a blocked internal-sftp stays one)
sessions() { [ -n "$remote" ] && ps -o pid= --ppid "$(cat "$SSHD_DIR/sshd.pid")" | wc -l || echo 0; }
start() { # start HOSTOPT PROJECT: a detached job running, its id in $id
	id=$("$MOO" run -d $1 "$2") && until_ok 20 is_status "$id" running
}

project "$T/sleeper" <<'EOF'
import time
print("started", flush=True)
time.sleep(300)
EOF

project "$T/leaver" <<'EOF'
import os, subprocess, sys, time
# Leaves two children that ignore SIGTERM: one in its group, one that called setsid.
out = os.environ["MOO_OUTPUT_DIR"]
code = "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); open(sys.argv[1], 'w'); time.sleep(300)"
c = subprocess.Popen([sys.executable, "-c", code, out + "/c.ready"])
s = subprocess.Popen(["setsid", sys.executable, "-c", code, out + "/s.ready"])
while not (os.path.exists(out + "/c.ready") and os.path.exists(out + "/s.ready")):
    time.sleep(0.02)
open(out + "/pids", "w").write("%d %d" % (c.pid, s.pid))
print("leaving them", flush=True)
EOF
project "$T/setsider" <<'EOF'
import os, subprocess, time
s = subprocess.Popen(["setsid", "sleep", "300"])
open(os.environ["MOO_OUTPUT_DIR"] + "/setsid.pid", "w").write(str(s.pid))
print("started", flush=True)
time.sleep(300)
EOF
project "$T/shrinker" <<'EOF'
import os, time
go = os.environ["MOO_OUTPUT_DIR"] + "/go"
for i in range(3):
    print("before", i, flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
for i in range(3):
    print("after", i, flush=True)
EOF

project "$T/squatter" <<'EOF'
import os
# FIFOs and a folder where the supervisor writes its last files (exit.tmp is there
# already: the room the supervisor keeps for a full disk)
if os.path.lexists("../exit.tmp"):
    os.remove("../exit.tmp")
os.mkfifo("../exit.tmp")
os.mkfifo("../MANIFEST.sha256")
os.mkdir("../exit")
print("squatted", flush=True)
EOF
mkdir -p "$T/secret" && echo s3cret >"$T/secret/key"
project "$T/linker" <<EOF
import os, shutil
# Its output folder made a symbolic link to a folder outside (to /etc, to / would do)
d = os.environ["MOO_OUTPUT_DIR"]
shutil.rmtree(d)
os.symlink("$T/secret", d)
print("linked", flush=True)
EOF

hosts=local
[ -n "$remote" ] && hosts="local h1"
for h in $hosts; do
	on=
	[ "$h" = h1 ] && on="--on h1"

	# ---- 13.2: a FIFO in place of state, a folder in place of exit -----------------------
	start "$on" "$T/sleeper"
	good=$id
	start "$on" "$T/sleeper"
	d=$(dir_of "$id")
	cp "$d/state" "$T/state.keep"
	rm "$d/state" && mkfifo "$d/state"
	for verb in status logs cancel rm; do
		expect_exit "$h: a FIFO as state: 'moo $verb' says the job is bad (exit 6), no hang" 6 \
			timeout 20 "$MOO" "$verb" "$id"
		contains "... naming the FIFO" "$err" "job '$id' is bad: '$d/state'"
		contains "... as such" "$err" "is a FIFO, not a regular file"
	done
	expect_exit "$h: ... and another job is fine" 0 timeout 20 "$MOO" status "$good"
	sleep 0.3
	[ "$(sessions)" = 0 ] && ok "$h: ... and no sshd session (no sftp server blocked on it) is left" ||
		not_ok "$h: no sshd session left" "$(ps -f --ppid "$(cat "$SSHD_DIR/sshd.pid")")"
	rm "$d/state" && cp "$T/state.keep" "$d/state"
	mkdir "$d/exit"
	expect_exit "$h: a folder as exit: the job is bad (exit 6)" 6 timeout 20 "$MOO" status "$id"
	contains "... saying so" "$err" "is a folder, not a regular file"
	expect_exit "$h: ... and another job is fine" 0 timeout 20 "$MOO" status "$good"
	rmdir "$d/exit"
	ln -s /etc/hostname "$d/exit"
	expect_exit "$h: a symbolic link as exit is not followed" 6 timeout 20 "$MOO" status "$id"
	contains "... saying so" "$err" "is a symbolic link, not a regular file"
	rm "$d/exit"

	expect_exit "$h: a job that put FIFOs and a folder where exit and MANIFEST.sha256 go ends (exit 0)" 0 \
		timeout 60 "$MOO" run $on "$T/squatter"
	contains "... succeeded" "$err" "succeeded"

	# ---- its output folder a symbolic link: removed, never followed ----------------------
	lid=$("$MOO" run -d $on "$T/linker" 2>"$T/linker.err") ||
		echo "# $h: moo run -d of the linker failed: $(cat "$T/linker.err")" >&2
	ld=$(dir_of "${lid:-no-job}")
	until_ok 30 test -e "$ld/exit"
	"$MOO" status "$lid" >/dev/null 2>&1 # collects it
	contains "$h: an output folder the job made a symbolic link to a folder outside is not followed" \
		"$(cat "$ld/process.log")" "moo: 'work/training_result' is a symbolic link, not a folder: removed, not followed"
	check "... nothing of the folder it named is hashed or copied" \
		sh -c "[ -e '$ld/MANIFEST.sha256' ] && [ ! -s '$ld/MANIFEST.sha256' ] && ! grep -rqs s3cret '$MOO_HOME/results' '$ld'"
	check "... and that folder is left as it was" grep -qx s3cret "$T/secret/key"

	# ---- 13.1: an exit file the job writes is not its end --------------------------------
	printf 'code=0\nended=%s\n' "$(date +%s)" >"$d/exit"
	expect_exit "$h: an exit the job wrote itself: status says running" 0 "$MOO" status --json "$id"
	[ "$(printf '%s' "$out" | jq "d['status']")" = running ] && ok "... running" ||
		not_ok "... running" "$out"
	alive "$(st "$id" pgid)" && ok "... and it runs" || not_ok "... and it runs"
	expect_exit "$h: cancel then stops it" 0 "$MOO" cancel --grace 1 "$id" "$good"
	[ "$(status_of "$id")" = cancelled ] && ok "... cancelled" || not_ok "... cancelled" "$(status_of "$id")"

	# ---- 12.5: a lost job (its supervisor killed) can be stopped ---------------------------
	start "$on" "$T/sleeper"
	g=$(st "$id" pgid)
	kill -KILL "$(st "$id" pid)"
	until_ok 10 is_status "$id" lost && ok "$h: a job whose supervisor was killed is lost" ||
		not_ok "$h: lost" "$(status_of "$id")"
	alive "$g" && ok "... while its entry point runs on" || not_ok "... while its entry point runs on"
	expect_exit "$h: moo rm refuses it while its processes run (exit 2)" 2 "$MOO" rm "$id"
	contains "... saying why" "$err" "is lost, but its processes run on"
	[ -d "$(dir_of "$id")" ] && ok "... and its folder stays" || not_ok "... its folder stays"
	expect_exit "$h: moo cancel stops a lost job" 0 "$MOO" cancel --grace 1 "$id"
	contains "... saying it cancelled it" "$out" "$id cancelled"
	until_ok 5 eval "! alive $g" && ok "... its entry point is gone" || not_ok "... its entry point is gone"
	[ "$(status_of "$id")" = cancelled ] && ok "... and it shows cancelled" || not_ok "... cancelled" "$(status_of "$id")"
	lcg=$(st "$id" cgroup)
	if [ -n "$lcg" ]; then
		[ ! -e "$lcg" ] && ok "... and its cgroup is removed (its supervisor could not)" ||
			not_ok "... its cgroup is removed" "$lcg: $(cat "$lcg/cgroup.procs" 2>&1)"
	else
		skip "... and its cgroup is removed" "no cgroup v2 the supervisor may write here"
	fi
	expect_exit "$h: then moo rm removes it" 0 "$MOO" rm "$id"
	start "$on" "$T/sleeper"
	g=$(st "$id" pgid)
	kill -KILL "$(st "$id" pid)"
	until_ok 10 is_status "$id" lost
	expect_exit "$h: moo rm -f of a lost job that runs: cancels it first, then removes it" 0 "$MOO" rm -f "$id"
	until_ok 5 eval "! alive $g" && ok "... its entry point is gone" || not_ok "... its entry point is gone"
	[ ! -e "$(dir_of "$id")" ] && ok "... and its folder" || not_ok "... and its folder"
	start "$on" "$T/sleeper"
	g=$(st "$id" pgid)
	lcg=$(st "$id" cgroup)
	kill -KILL "$(st "$id" pid)"
	kill -KILL -- "-$g"
	until_ok 10 is_status "$id" lost
	expect_exit "$h: moo cancel of a lost job of which nothing runs (exit 0)" 0 "$MOO" cancel "$id"
	if [ -n "$lcg" ]; then
		until_ok 5 test ! -e "$lcg" && ok "... removes the cgroup its dead supervisor left" ||
			not_ok "... removes the cgroup left" "$lcg: $(cat "$lcg/cgroup.procs" 2>&1)"
	else
		skip "... removes the cgroup left" "no cgroup v2 the supervisor may write here"
	fi

	# ---- 13.1 over SFTP: a pgid forged to another session leader, its start time too --------
	# (pgid=1 is tried only inside a pid namespace, below: here a kill could reach the user)
	if [ "$h" = h1 ]; then
		setsid sleep 300 &
		victim=$!
		start "$on" "$T/sleeper"
		d=$(dir_of "$id")
		cp "$d/state" "$T/state.keep"
		vstart=$(sed 's/.*) //' "/proc/$victim/stat" | cut -d' ' -f20)
		{ printf 'pgid=%s\npgid_start=%s\n' "$victim" "$vstart"; grep -v '^pgid' "$T/state.keep"; } >"$d/state"
		expect_exit "$h: a pgid forged to another process, with its start time: cancel refuses (exit 6)" 6 \
			"$MOO" cancel --grace 1 "$id"
		contains "... the job is bad" "$err" "is not the job's"
		alive "$victim" && ok "... the other process lives" || not_ok "... the other process lives"
		[ "$(status_of "$id")" = running ] && ok "... the job runs on, not marked cancelled" ||
			not_ok "... the job runs on" "$(status_of "$id")"
		cp "$T/state.keep" "$d/state"
		expect_exit "... with its state as written, cancel stops it" 0 "$MOO" cancel --grace 1 "$id"
		kill "$victim"
	fi

	# ---- 13.7: what a job leaves running ends with it; cancel reaches setsid children ------
	expect_exit "$h: a job that leaves children ignoring SIGTERM succeeds" 0 "$MOO" run $on "$T/leaver"
	d=$(dir_of "$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) .*/\1/p' "$T/.err" | head -n 1)")
	set -- $(cat "$d/work/training_result/pids")
	until_ok 5 eval "! alive $1" && ok "... the child left in its group is killed after the grace" ||
		not_ok "... the child left in its group is killed" "$(head -3 "/proc/$1/status" 2>&1)"
	if grep -q '^cgroup=/' "$d/state"; then
		until_ok 5 eval "! alive $2" && ok "... and the one that called setsid (the job's cgroup)" ||
			not_ok "... and the one that called setsid" "$(cat "$d/state")"
	else
		skip "... and the one that called setsid" "no cgroup v2 the supervisor may write here"
	fi
	kill -KILL "$1" "$2" 2>/dev/null
	cgs="on"
	[ "$h" = local ] && cgs="on off"
	for cg in $cgs; do
		[ "$cg" = off ] && export MOO_CGROUP=0
		start "$on" "$T/setsider"
		d=$(dir_of "$id")
		until_ok 10 test -s "$d/work/training_result/setsid.pid"
		sp=$(cat "$d/work/training_result/setsid.pid")
		alive "$sp" && ok "$h (cgroup $cg): a child that called setsid runs" ||
			not_ok "$h (cgroup $cg): a child that called setsid runs"
		expect_exit "... moo cancel" 0 "$MOO" cancel --grace 1 "$id"
		until_ok 5 eval "! alive $sp" && ok "... reaches it" || { not_ok "... reaches it"; kill -KILL "$sp"; }
		unset MOO_CGROUP
	done

	# ---- 13.10: a log truncated while it is followed ------------------------------------
	id=$("$MOO" run -d $on "$T/shrinker")
	d=$(dir_of "$id")
	"$MOO" logs -f "$id" >"$T/f.out" 2>"$T/f.err" &
	fpid=$!
	until_ok 20 grep -q "before 2" "$T/f.out"
	: >"$d/process.log"
	# moo looks at the log's size once a second, and says so when it sees the cut: the job
	# writes on once moo has seen it
	until_ok 30 grep -q "was cut from" "$T/f.err" && ok "$h: the cut is said while moo follows" ||
		not_ok "$h: the cut is said while moo follows" "$(cat "$T/f.err")"
	touch "$d/work/training_result/go"
	until_ok 20 eval "! kill -0 $fpid"
	wait "$fpid"
	fst=$?
	[ "$fst" = 0 ] && ok "$h: logs -f of a log truncated mid-run ends with the job (exit 0)" ||
		not_ok "$h: logs -f ends with the job" "exit $fst; $(cat "$T/f.err")"
	[ "$(grep -c '^after [012]$' "$T/f.out")" = 3 ] && ok "... every line written after the cut arrives" ||
		not_ok "... every line written after the cut arrives" "$(cat "$T/f.out")"
	contains "... with a warning" "$(cat "$T/f.err")" "was cut from 27 to 0 bytes while it was followed"
done

# ---- 13.1: a forged pgid, inside a pid namespace of its own --------------------------------
# Nothing outside the namespace can be reached by a kill there, whatever moo does.
cat >"$T/inner.sh" <<'EOF'
say() { echo "$1:$2"; }
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" | grep -q '^Z'; }
status_of() { "$MOO" status --json "$1" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
setsid sleep 300 &
victim=$!
id=$("$MOO" run -d "$1") || { say not "the job starts"; exit 0; }
i=0
while [ "$(status_of "$id")" != running ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
d=$MOO_ROOT/jobs/$id
cp "$d/state" "$d/../state.keep"
g=$(sed -n 's/^pgid=//p' "$d/state")
vstart=$(sed 's/.*) //' "/proc/$victim/stat" | cut -d' ' -f20)
for forged in "pgid=1" "pgid=0" "pgid=-1" "pgid=$victim" "pgid=$victim
pgid_start=$vstart"; do
	what=$(echo "$forged" | tr '\n' ' ')
	case $forged in
	*pgid_start*) grep -v '^pgid' "$d/../state.keep" ;;
	*) grep -v '^pgid=' "$d/../state.keep" ;;
	esac >"$d/../state.rest"
	{ printf '%s\n' "$forged"; cat "$d/../state.rest"; } >"$d/state"
	"$MOO" cancel --grace 1 "$id" >"$d/../c.out" 2>"$d/../c.err"
	c=$?
	[ $c = 6 ] && say ok "a state of '$what': moo cancel refuses (exit 6)" ||
		say not "a state of '$what': moo cancel refuses (exit 6):exit $c $(cat "$d/../c.err")"
	grep -q "job '$id' is bad" "$d/../c.err" && say ok "... the job is bad" ||
		say not "... the job is bad:$(cat "$d/../c.err")"
	alive "$victim" && say ok "... the other process lives" || say not "... the other process lives"
	alive "$g" && say ok "... the job runs on" || say not "... the job runs on"
	[ "$(status_of "$id")" = running ] && say ok "... and is not marked cancelled" ||
		say not "... and is not marked cancelled:$(status_of "$id")"
	[ ! -e "$d/cancelled" ] && say ok "... nothing changed" || say not "... nothing changed"
done
cp "$d/../state.keep" "$d/state"
"$MOO" cancel --grace 1 "$id" >/dev/null 2>&1 && say ok "with its state as written, moo cancel stops it" ||
	say not "with its state as written, moo cancel stops it"
i=0
while alive "$g" && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
! alive "$g" && say ok "... it is gone" || say not "... it is gone"
alive "$victim" && say ok "... the other process still lives" || say not "... the other process still lives"
kill "$victim"
EOF
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	# the TMPDIR of the tests running beside this one: a moo in another PID namespace sees
	# none of their processes, and must not sweep their folders for dead (moo__owner_gone)
	unshare --pid --fork --mount-proc sh "$T/inner.sh" "$T/sleeper" \
		>"$T/inner.out" 2>&1
	while IFS= read -r l; do
		case $l in
		ok:*) ok "unshare --pid: ${l#ok:}" ;;
		not:*) l=${l#not:} && not_ok "unshare --pid: ${l%%:*}" "${l#*:}" ;;
		esac
	done <"$T/inner.out"
	[ "$(grep -c '^ok:' "$T/inner.out")" = 33 ] && ok "unshare --pid: every check ran" ||
		not_ok "unshare --pid: every check ran" "$(cat "$T/inner.out")"
else
	skip "a forged pgid inside unshare --pid" "unshare --pid --fork --mount-proc is not permitted here"
fi
echo "1..$_n"
done_testing
