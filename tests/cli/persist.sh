#!/bin/sh
# Kept SSH connections (libmoo/transport_mux.c; MOO_SSH_PERSIST in moo(1)) against a real
# sshd on loopback: a command's connection outlives it in a master process, the next
# commands log in no more, and what they do through it is what they did directly; the
# master's folder, its end after the idle time, a master killed, a link cut under it, a
# host key changed under it, a long command beside a short one, 'hosts rm'.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3 MOO_SSH_PERSIST=60
TOOL=$(dirname "$MOO")/../tests/cli/ssh-tool

if ! sshd_setup || ! sshd_start; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
R=$T/remote
mkdir -p "$R"
"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
RUN=$MOO_HOME/run

# masters: the pids of this test's masters (their MOO_HOME is this test's)
masters() {
	for _p in $(pgrep -x moo-ssh-keep); do
		tr '\0' '\n' <"/proc/$_p/environ" 2>/dev/null | grep -qx "MOO_HOME=$MOO_HOME" && echo "$_p"
	done
}
trap 'for p in $(masters); do kill -KILL "$p"; done; kill_jobs "$R"/jobs/*/state; sshd_stop; cleanup_dirs' EXIT
logins() { grep -c "Accepted publickey" "$SSHD_DIR/sshd.log"; }
# wait_gone PID: up to 10 s
wait_gone() {
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 200 ]; do sleep 0.05; _i=$((_i + 1)); done
	! kill -0 "$1" 2>/dev/null
}
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework: {name: python, version: "3", runtime: python3}\nmodel: {name: t}\nentry_point: train.py\noutput_folder: training_result\n' >"$1/metadata.yaml"
}
project "$T/p" <<'EOF'
import os, sys
out = os.environ["MOO_OUTPUT_DIR"]
open(os.path.join(out, "model.txt"), "w").write("weights of %s\n" % sys.argv[0])
print("trained once")
EOF

plan 53

# ---- the first command leaves a master; the next ones log in no more ----------------------
n0=$(logins)
expect_exit "run --on h1: the job runs (exit 0)" 0 "$MOO" run --on h1 "$T/p"
id1=$(ls "$R/jobs")
m1=$(masters)
[ -n "$m1" ] && [ "$(echo "$m1" | wc -l)" = 1 ] && ok "... and one master (moo-ssh-keep) holds its connection" ||
	not_ok "... one master holds its connection" "masters: $m1; $(ps -eo pid,comm,args | grep moo)"
[ "$(stat -c '%a %U' "$RUN")" = "700 $(id -un)" ] && ok "... its folder $RUN is 0700 and this user's" ||
	not_ok "... its folder is 0700 and this user's" "$(stat -c '%a %U' "$RUN")"
args=$(ps -o args= -p "$m1" 2>/dev/null)
[ "$args" = "moo-ssh-keep h1" ] && ok "... shown by ps as moo-ssh-keep h1, not as the command that made it" ||
	not_ok "... shown by ps as moo-ssh-keep h1" "$args"
sock=$(ls "$RUN")
[ -S "$RUN/$sock" ] && ok "... where its socket is" || not_ok "... where its socket is" "$(ls -la "$RUN")"
n1=$(logins)
expect_exit "run --on h1 again (exit 0)" 0 "$MOO" run --on h1 --json "$T/p"
id2=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq 'd["id"]')
[ "$(logins)" = "$n1" ] && [ "$n1" = $((n0 + 1)) ] && ok "... through the master: no new login on the host" ||
	not_ok "... no new login" "logins before $n0, after the first run $n1, now $(logins)"
[ "$(cat "$T/home/results/$id2/training_result/model.txt" 2>/dev/null)" = "weights of train.py" ] &&
	ok "... its result arrives (collect through the master)" || not_ok "... its result arrives" "$(ls -R "$T/home/results" | head -20)"
expect_exit "logs of the second job through the master" 0 "$MOO" logs "$id2"
[ "$out" = "$(cat "$R/jobs/$id2/process.log")" ] && [ -n "$out" ] && ok "... the host's process.log, byte for byte" ||
	not_ok "... the host's process.log" "$out"
expect_exit "status --json of the first job" 0 "$MOO" status --json "$id1"
[ "$(printf '%s' "$out" | jq 'd["status"]')" = succeeded ] && ok "... succeeded" || not_ok "... succeeded" "$out"

# a new bundle of 3 MiB: the upload goes through the master, and arrives whole
project "$T/big" <<'EOF'
import hashlib, os
h = hashlib.sha256(open("blob.bin", "rb").read()).hexdigest()
open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "sum.txt"), "w").write(h + "\n")
EOF
head -c 3145728 /dev/urandom >"$T/big/blob.bin"
expect_exit "run --on h1 a new 3 MiB bundle through the master" 0 "$MOO" run --on h1 --json "$T/big"
idb=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq 'd["id"]')
[ "$(cat "$T/home/results/$idb/training_result/sum.txt")" = "$(sha256sum <"$T/big/blob.bin" | cut -d' ' -f1)" ] &&
	ok "... the job read the bytes sent" || not_ok "... the job read the bytes sent" "$(cat "$T/home/results/$idb/training_result/sum.txt" 2>&1)"
[ "$(logins)" = "$n1" ] && ok "... still no new login" || not_ok "... still no new login" "$n1 -> $(logins)"

# ---- hosts check times a connection of its own, master or not ------------------------------
nc=$(logins)
expect_exit "hosts check h1 with a master up (exit 0)" 0 "$MOO" hosts check h1
[ "$(logins)" = $((nc + 1)) ] && ok "... logs in itself: what it times is a real connection" ||
	not_ok "... logs in itself" "$nc -> $(logins): $out"
n1=$(logins)

# ---- interrupted mid-upload through the master: the upload stops there too ----------------------
mkdir -p "$T/huge"
cp "$T/big/metadata.yaml" "$T/big/train.py" "$T/huge/"
head -c 402653184 /dev/urandom >"$T/huge/blob.bin"
"$MOO" run --on h1 "$T/huge" >"$T/huge.out" 2>&1 &
hp=$!
_i=0
while ! ls -a "$R"/bundles/ 2>/dev/null | grep -q 'moo-tmp-' && [ $_i -lt 3000 ]; do sleep 0.02; _i=$((_i + 1)); done
kill -TERM "$hp" # as Ctrl-C: moo takes both alike (sh starts a background job with SIGINT ignored)
wait "$hp"
rc=$?
[ "$rc" = 130 ] && ok "interrupted (SIGTERM) mid-upload through the master: exit 130" || not_ok "Ctrl-C mid-upload: exit 130" "exit $rc: $(cat "$T/huge.out")"
# what is on the host now, and half a second later: the master writes no more after moo left
tmpsize() { du -sb "$R"/bundles/*moo-tmp-* 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
s1=$(tmpsize)
sleep 0.5
s2=$(tmpsize)
[ "$s2" -le "$s1" ] && ok "... the master writes no more of it once moo is gone" ||
	not_ok "... the master writes no more of it" "$s1 then $s2 bytes"
_i=0
while ls -a "$R"/bundles/ | grep -q 'moo-tmp-' && [ $_i -lt 100 ]; do sleep 0.1; _i=$((_i + 1)); done
if ! ls -a "$R"/bundles/ | grep -q 'moo-tmp-' && [ "$(ls "$R"/bundles/ | wc -l)" = 2 ]; then
	ok "... and removes what it had sent (no bundle, no temporary file)"
else not_ok "... and removes what it had sent" "$(ls -la "$R"/bundles/)"; fi
rm -rf "$T/huge"
expect_exit "... and serves the next command (exit 0)" 0 "$MOO" run --on h1 "$T/p"
[ "$(logins)" = "$n1" ] && ok "... still with no new login" || not_ok "... still no new login" "$n1 -> $(logins)"

# ---- a long command does not hold up another: a second session is made for it --------------
MOO_TOOL_KEPT=1 "$TOOL" h1 exec "sleep 4; echo slept" >"$T/long.out" 2>&1 &
lp=$!
_i=0
while ! pgrep -f "sleep 4; echo slept" >/dev/null && [ $_i -lt 100 ]; do sleep 0.05; _i=$((_i + 1)); done
expect_exit "status while another command's 4 s command runs through the master" 0 "$MOO" status "$id1"
kill -0 "$lp" 2>/dev/null && ok "... answered before that command ended" || not_ok "... answered before it ended" "$(cat "$T/long.out")"
wait "$lp"
grep -qx slept "$T/long.out" && ok "... which ends with its own output" || not_ok "... which ends with its output" "$(cat "$T/long.out")"

# ---- a link cut under the master: the next command gets a new one ------------------------------
sshd_cut
n2=$(logins)
expect_exit "the host's sessions killed: one command through the master works (exit 0)" 0 env MOO_TOOL_KEPT=1 "$TOOL" h1 exec "echo still here"
contains "... with its output (no 'lost the connection')" "$out" "still here"
expect_exit "... status through the master (exit 0)" 0 "$MOO" status "$id1"
expect_exit "... and run --on h1 (exit 0)" 0 "$MOO" run --on h1 "$T/p"
[ "$(logins)" -gt "$n2" ] && ok "... the master connected again" || not_ok "... the master connected again" "$n2 -> $(logins)"
[ "$(masters)" = "$m1" ] && ok "... the same master" || not_ok "... the same master" "$m1 -> $(masters)"

# ---- the host gone while a job is followed through the master: exit 4, as without one --------
# The master answers a reconnect without the host, so MOO_RECONNECT_S counts from the loss,
# not from each reconnect (it began again at each one, and logs -f followed for ever).
project "$T/slow" <<'EOF'
import time
for i in range(120):
    print("line %d" % i, flush=True)
    time.sleep(0.25)
EOF
expect_exit "run -d a job printing a line every 0.25 s for 30 s" 0 "$MOO" run --on h1 -d "$T/slow"
ids=$out
MOO_RECONNECT_S=2 timeout 20 "$MOO" logs -f "$ids" >"$T/s1" 2>"$T/s1.err" &
fp=$!
_i=0
while [ ! -s "$T/s1" ] && [ $_i -lt 400 ]; do sleep 0.05; _i=$((_i + 1)); done
sshd_stop # the listener first: else the master, quick to connect again, gets a session past the cut
sshd_cut
t0=$(date +%s)
wait "$fp"
rc=$?
el=$(($(date +%s) - t0))
[ "$rc" = 4 ] && [ "$el" -lt 15 ] && ok "sshd gone while logs -f follows through the master (MOO_RECONNECT_S=2): exit 4 after ${el} s" ||
	not_ok "sshd gone while logs -f follows through the master: exit 4" "exit $rc after $el s (124: still following at 20 s): $(cat "$T/s1.err")"
contains "... 'host unreachable', as without a master" "$(cat "$T/s1.err")" "host unreachable: "
sshd_start
"$MOO" cancel "$ids" >/dev/null 2>&1 # 'hosts rm h1' below wants no job running

# ---- a host key changed under the master is refused as on any connection ----------------------
sshd_cut
sshd_stop
# the host down: the master tries it again for seconds; Ctrl-C then is an interrupt (130)
"$MOO" run --on h1 "$T/p" >"$T/down.out" 2>&1 &
dp=$!
sleep 1
kill -TERM "$dp"
wait "$dp"
rc=$?
[ "$rc" = 130 ] && grep -q "interrupted while waiting on 'h1'" "$T/down.out" &&
	ok "host down, interrupted while the master tries it: exit 130, 'interrupted while waiting on'" ||
	not_ok "host down, interrupted: exit 130" "exit $rc: $(cat "$T/down.out")"
sshd_new_host_key
sshd_start
expect_exit "host key changed, link cut: run --on h1 through the master refuses (exit 4)" 4 "$MOO" run --on h1 "$T/p"
contains "... naming the changed key" "$err" "host key"
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS" # the user accepts the new key

# ---- a master killed: its socket is left; the next command connects and makes another ------
kill -KILL "$m1"
wait_gone "$m1"
[ -S "$RUN/$sock" ] && ok "master killed: its socket is left" || not_ok "master killed: its socket is left" "$(ls -la "$RUN")"
expect_exit "run --on h1 with a dead master's socket (exit 0)" 0 "$MOO" run --on h1 "$T/p"
m2=$(masters)
[ -n "$m2" ] && [ "$m2" != "$m1" ] && ok "... and a new master replaces it" || not_ok "... a new master" "$m1 -> $m2"

# ---- its folder opened to others: no master is used or made ----------------------------------
chmod 755 "$RUN"
n3=$(logins)
expect_exit "run folder 0755: run --on h1 connects itself (exit 0)" 0 "$MOO" run --on h1 "$T/p"
[ "$(logins)" = $((n3 + 1)) ] && ok "... with a login of its own (the master is not trusted)" || not_ok "... a login of its own" "$n3 -> $(logins)"
contains "... and says why, once, with what to do" "$err" "not kept: '$RUN' is a folder others can reach (mode 755"
[ "$(grep -c "not kept" "$T/.err")" = 1 ] && ok "... once" || not_ok "... once" "$(cat "$T/err")"
chmod 700 "$RUN"

# ---- a MOO_HOME too deep for a socket's path: said, and the job runs all the same -------------
deep=$T/$(printf 'd%.0s' $(seq 1 90))
mkdir -p "$deep"
cp -r "$MOO_HOME/." "$deep/"
rm -rf "$deep/run"
expect_exit "MOO_HOME of ${#deep} bytes: run --on h1 (exit 0)" 0 env MOO_HOME="$deep" "$MOO" run --on h1 "$T/p"
contains "... saying connections are not kept, and why" "$err" "longer than the 107 bytes"

# ---- a master ended by SIGTERM removes its socket; the next command makes another ------------
m2b=$(masters)
kill -TERM "$m2b"
wait_gone "$m2b" && [ ! -e "$RUN/$sock" ] && ok "master ended by SIGTERM: its socket is removed" ||
	not_ok "master ended by SIGTERM: its socket is removed" "$(masters); $(ls -la "$RUN")"
"$MOO" run --on h1 "$T/p" >/dev/null 2>&1
m2=$(masters)
[ -n "$m2" ] && ok "... and the next command leaves a new master" || not_ok "... a new master" "none"

# ---- hosts rm ends the host's master; an idle master ends by itself ------------------------
expect_exit "hosts rm h1" 0 "$MOO" hosts rm h1
wait_gone "$m2" && [ ! -e "$RUN/$sock" ] && ok "... ends its master and removes its socket" ||
	not_ok "... ends its master" "$(masters); $(ls -la "$RUN")"
"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
MOO_SSH_PERSIST=1 "$MOO" run --on h1 "$T/p" >/dev/null 2>&1
m3=$(masters)
[ -n "$m3" ] && ok "MOO_SSH_PERSIST=1: a master" || not_ok "MOO_SSH_PERSIST=1: a master" "none"
wait_gone "$m3" && [ -z "$(ls "$RUN")" ] && ok "... that ends after a second alone, its socket removed" ||
	not_ok "... ends after a second" "$(masters); $(ls -la "$RUN")"
MOO_SSH_PERSIST=0 "$MOO" run --on h1 "$T/p" >/dev/null 2>&1
[ -z "$(masters)" ] && ok "MOO_SSH_PERSIST=0: no master is left" || not_ok "MOO_SSH_PERSIST=0: no master" "$(masters)"
done_testing
