#!/bin/sh
# Storage errors, bounded downloads, interruptions and hostile text (issue 13: 4, 5, 6, 8, 9):
# a full and a read-only MOO_HOME on a 20 MiB tmpfs, a job's forged numbers and control
# characters, a 1 byte/s HTTP server and an over-cap body on loopback.
. "$MOO_SRC/tests/cli/lib.sh"
export MOO_PYTHON=/usr/bin/python3
EX=$MOO_SRC/examples/sklearn-diabetes
ESC=$(printf '\033')
BEL=$(printf '\007')

MNT=""
cleanup_storage() {
	for m in $MNT; do umount -l "$m" 2>/dev/null; done
	kill_jobs "$MOO_ROOT"/jobs/*/state "$T"/full/root/jobs/*/state "$T"/rmroot/jobs/*/state
	[ -n "${HTTPD_PID:-}" ] && kill "$HTTPD_PID" 2>/dev/null
	cleanup_dirs
}
trap cleanup_storage EXIT
# tmpfs DIR SIZE: a small disk of our own (root only: mount)
tmpfs() { mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1" && MNT="$1 $MNT"; }
# fill DIR: no byte left on its disk
fill() { dd if=/dev/zero of="$1/.fill" bs=64k 2>/dev/null; sync; }
# project DIR: a project whose train.py is read from stdin
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\n' >"$1/metadata.yaml"
}
# dfl COMMAND... &: runs it with SIGINT as by default (sh starts background jobs ignoring
# it); it execs: only in a background job
dfl() { exec $PY -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
# raw NAME TEXT: ok when TEXT holds no ESC or BEL byte
raw_free() {
	case $2 in
	*"$ESC"* | *"$BEL"*) not_ok "$1" "raw control characters in: $(printf '%s' "$2" | od -c | head -5)" ;;
	*) ok "$1" ;;
	esac
}

plan 67

# ---- 4: a full or read-only MOO_HOME ---------------------------------------------------
if [ "$(id -u)" = 0 ] && tmpfs "$T/full" 20m; then
	F="env MOO_HOME=$T/full/home MOO_ROOT=$T/full/root"
	# the store exists, with what it caches of this host and its Python (a job's lock
	# records both: tens of KiB), then the disk fills
	id=$($F "$MOO" run -d "$EX") && $F "$MOO" logs -f "$id" >/dev/null 2>&1 && $F "$MOO" rm "$id" >/dev/null
	fill "$T/full"
	expect_exit "run -d on a full MOO_HOME exits 6" 6 $F "$MOO" run -d "$EX"
	[ -z "$out" ] && ok "... and prints no job id" || not_ok "... no job id" "$out"
	contains "... saying why" "$err" "disk is full"
	# room for the record, not for the job's files
	rm -f "$T/full/.fill"
	avail=$(df --output=avail -k "$T/full" | tail -1)
	dd if=/dev/zero of="$T/full/.fill" bs=1k count=$((avail - 40)) 2>/dev/null
	expect_exit "run -d with no room for the job's files exits 6" 6 $F "$MOO" run -d "$EX"
	contains "... saying why" "$err" "No space left on device"
	rm -f "$T/full/.fill"
	n=$($F "$MOO" ps -a --json | jq "len(d)")
	[ "$n" = 0 ] && ok "... no job is left recorded" || not_ok "... no job left" "$($F "$MOO" ps -a)"
	n=$(ls "$T/full/root/jobs" "$T/full/root/staging" 2>/dev/null | grep -c moo-job)
	[ "$n" = 0 ] && ok "... nor a job folder" || not_ok "... nor a job folder" "$(ls -R "$T/full/root")"
	F2="env MOO_HOME=$T/full/home MOO_ROOT=$T/rmroot" # the job's folder on another disk
	id=$($F2 "$MOO" run -d "$EX")
	$F2 "$MOO" logs -f "$id" >/dev/null 2>&1
	mount -o remount,ro "$T/full"
	expect_exit "run on a read-only MOO_HOME exits 6" 6 $F "$MOO" run "$EX"
	contains "... saying why" "$err" "readonly database"
	expect_exit "rm on a read-only MOO_HOME exits 6" 6 $F2 "$MOO" rm "$id"
	[ -d "$T/rmroot/jobs/$id" ] && [ ! -e "$T/rmroot/jobs/$id.moo-rm" ] && ok "... the job's folder stays with its record" || not_ok "... the folder stays" "$(ls "$T/rmroot/jobs")"
	mount -o remount,rw "$T/full"
	expect_exit "rm once it is writable" 0 $F2 "$MOO" rm "$id"
	left=$(ls -A "$T/rmroot/jobs"; $F2 "$MOO" ps -a --json | jq "len(d) or ''")
	[ -z "$left" ] && ok "... record and folder both gone" || not_ok "... both gone" "$left"
	# a job that fills its host's disk
	project "$T/p-fill" <<'PY'
import os
with open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "fill.bin"), "wb") as f:
    while True:
        f.write(bytes(1 << 20))
        f.flush()
PY
	expect_exit "a job that fills its host's disk: exit 1" 1 env MOO_ROOT="$T/full/root" "$MOO" run "$T/p-fill"
	contains "... it shows failed" "$err" "failed (exit 1)"
	contains "... with the reason" "$err" "with the disk of '$T/full/root/jobs/"
	contains "... full" "$err" "full"
	st=$(env MOO_ROOT="$T/full/root" "$MOO" ps -a --json | jq "d[0]['status']")
	[ "$st" = failed ] && ok "... and stays failed, not lost" || not_ok "... stays failed" "$st"
else
	for t in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do skip "full MOO_HOME" "not root: cannot mount a tmpfs"; done
fi

# ---- 8, 9: what a job forged is data, shown escaped ----------------------------------
J=$MOO_ROOT/jobs/moo-job-f0rged
mkdir -p "$J/work/training_result"
printf '%s' '{"id":"moo-job-f0rged","name":"\u001b]0;pwned\u0007\u001b[2J","source":"\u001b[2Jsrc","output_folder":"training_result","command":"echo \u001b[31mred","created":1700000000,"spec":"{\"model\":{\"name\":\"\u001b]0;t\u0007\"}}"}' >"$J/job.json"
printf 'pid=999999999\npgid=999999999\nstarted=up:1e400\npid_start=1\ncommand=x\n' >"$J/state"
printf 'moo:metric loss=1 step=1e30\nmoo:metric \033[2Jm=2 step=3\n' >"$J/process.log"
printf 'code=0\nended=1e400\n' >"$J/exit"
expect_exit "show: a job's forged record is read" 0 "$MOO" show moo-job-f0rged --on local
contains "... started=up:1e400 refused with a warning" "$err" "warning: ignoring started='up:1e400'"
contains "... ended=1e400 refused with a warning" "$err" "ended='1e400'"
contains "... step=1e30 refused with a warning" "$err" "step='1e30' is not a whole number"
contains "... the control characters shown escaped" "$out" '(\e]0;pwned\a\e[2J)'
raw_free "... nothing raw reaches the terminal (name, source, command, metric names)" "$out$err"
contains "... the metric line with a good step is kept, its name escaped" "$out" '\e[2Jm'
expect_exit "ps -a lists it" 0 "$MOO" ps -a
raw_free "... escaped" "$out$err"

P=$T/hostile
cp -R "$EX" "$P"
sed -i 's/^  name: sklearn-diabetes/  name: "\\e]0;pwned\\a\\e[2Jx"/' "$P/metadata.yaml"
expect_exit "inspect: a model.name with control characters" 0 "$MOO" inspect "$P"
contains "... shown escaped" "$out" 'model       \e]0;pwned\a\e[2Jx'
raw_free "... nothing raw reaches the terminal" "$out$err"

# ---- 5, 4, 6: downloads by URL from a hostile server ----------------------------------
$PY "$MOO_SRC/tests/cli/hostile-httpd.py" "$T/port" "$T/http.log" &
HTTPD_PID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
U=http://127.0.0.1:$(cat "$T/port")
mkdir -p "$T/tmp"
TD="env TMPDIR=$T/tmp"
sent() { sed -n "s|^$1 ||p" "$T/http.log" | tail -1; }
no_tmp() { # NAME: nothing of moo's left in the test's TMPDIR
	_left=$(ls -A "$T/tmp")
	[ -z "$_left" ] && ok "$1" || not_ok "$1" "left: $_left"
}

s0=$(date +%s)
expect_exit "a 1 byte/s drip fails (exit 4)" 4 timeout 120 $TD "$MOO" inspect "$U/drip"
el=$(($(date +%s) - s0))
[ $el -le 60 ] && ok "... within 60 s ($el s)" || not_ok "... within 60 s" "took $el s"
contains "... saying the server is too slow" "$err" "bytes/s"
no_tmp "... its partial download removed"

expect_exit "a Content-Length over the cap is refused (exit 3)" 3 timeout 60 $TD "$MOO" inspect --max-bytes 1000000 "$U/huge"
contains "... from its headers, before its body is taken" "$err" "its Content-Length is over the cap of 1000000 bytes"
expect_exit "a chunked body over the cap stops as it crosses it (exit 3)" 3 timeout 60 $TD "$MOO" inspect --max-bytes 1000000 "$U/chunked"
sleep 0.2
n=$(sent /chunked)
[ "${n:-x}" -le 33554432 ] 2>/dev/null && ok "... at the cap (with what socket buffers hold) ($n bytes sent)" || not_ok "... at the cap" "${n:-?} bytes sent"
no_tmp "... nothing left in TMPDIR"

if [ "$(id -u)" = 0 ] && tmpfs "$T/tmpfull" 1m; then
	expect_exit "a full TMPDIR during a download is exit 6" 6 timeout 60 env TMPDIR="$T/tmpfull" "$MOO" inspect "$U/zeros/4000000"
	contains "... naming the file it could not write" "$err" "cannot write '$T/tmpfull/moo-bundle-"
	contains "... and why" "$err" "No space left on device"
	left=$(ls -A "$T/tmpfull")
	[ -z "$left" ] && ok "... and leaves nothing there" || not_ok "... leaves nothing" "$left"
else
	for t in 1 2 3 4; do skip "full TMPDIR" "not root: cannot mount a tmpfs"; done
fi

# (each in a TMPDIR of its own, which nothing earlier left a partial download in)
rm -rf "$T/tmp" && mkdir "$T/tmp"
dfl $TD "$MOO" inspect "$U/slow" >/dev/null 2>"$T/int.err" &
p=$!
i=0
while ! ls "$T"/tmp/moo-bundle-*/*.part >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $p
wait $p
rc=$?
[ $rc = 130 ] && ok "inspect URL interrupted (SIGINT): exit 130" || not_ok "inspect URL interrupted: exit 130" "exit $rc: $(cat "$T/int.err")"
no_tmp "... its partial download removed"
rm -rf "$T/tmp" && mkdir "$T/tmp"
$TD "$MOO" inspect "$U/slow" >/dev/null 2>&1 &
p=$!
i=0
while ! ls "$T"/tmp/moo-bundle-*/*.part >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
kill -KILL $p
wait $p
$TD "$MOO" inspect "$EX" >/dev/null 2>&1
no_tmp "inspect URL killed (SIGKILL): the next moo removes its partial download"

# ---- 6: pack and stage interrupted --------------------------------------------------
BIG=$T/big
cp -R "$EX" "$BIG"
head -c 150000000 /dev/urandom >"$BIG/blob.bin"
# interrupt SIG WHEN: moo run -d of the big project, signalled once WHEN (a file glob) exists
interrupt() {
	rm -rf "$T/tmp" && mkdir "$T/tmp"
	dfl $TD "$MOO" run -d "$BIG" >/dev/null 2>"$T/int.err" &
	_p=$!
	_i=0
	while ! ls $2 >/dev/null 2>&1 && [ $_i -lt 3000 ]; do sleep 0.02; _i=$((_i + 1)); done
	kill -"$1" $_p
	wait $_p
}
for sig in INT TERM; do
	interrupt $sig "$T/tmp/moo-bundle-*/pack-*"
	rc=$?
	[ $rc = 130 ] && ok "SIG$sig while packing: exit 130" || not_ok "SIG$sig while packing: exit 130" "exit $rc: $(cat "$T/int.err")"
	no_tmp "... no temporary zip left"
done
interrupt KILL "$T/tmp/moo-bundle-*/pack-*"
$TD "$MOO" ps >/dev/null
$TD "$MOO" inspect "$EX" >/dev/null 2>&1
no_tmp "SIGKILL while packing: the next moo removes the temporary zip"
# A moo in another PID namespace that shares TMPDIR (a container, 'unshare --pid') sees
# none of this one's processes: it must leave a live packer's folder alone, not take its
# pid for dead.
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	rm -rf "$T/tmp" && mkdir "$T/tmp"
	$TD "$MOO" run -d "$BIG" >"$T/ns.out" 2>"$T/ns.err" &
	_p=$!
	_i=0
	while ! ls $T/tmp/moo-bundle-*/pack-* >/dev/null 2>&1 && [ $_i -lt 3000 ]; do sleep 0.02; _i=$((_i + 1)); done
	$TD unshare --pid --fork --mount-proc "$MOO" inspect "$EX" >/dev/null 2>&1
	[ -n "$(ls $T/tmp/moo-bundle-* 2>/dev/null)" ] &&
		ok "a moo in another PID namespace leaves a live packer's folder alone" ||
		not_ok "a moo in another PID namespace leaves a live packer's folder alone" "$(ls -A "$T/tmp")"
	wait $_p
	rc=$?
	[ $rc = 0 ] && ok "... and that run succeeds" || not_ok "... and that run succeeds" "exit $rc: $(cat "$T/ns.err")"
else
	skip "a moo in another PID namespace leaves a live packer's folder alone" "unshare --pid --fork --mount-proc is not permitted here"
	skip "... and that run succeeds" "unshare --pid --fork --mount-proc is not permitted here"
fi
interrupt KILL "$MOO_ROOT/staging/*-moo-job-*.tmp-*"
expect_exit "SIGKILL while staging: ps" 0 $TD "$MOO" ps -a
case $out in
*"failed"*"never started"*) ok "... shows the job failed, never started" ;;
*) not_ok "... shows the job failed, never started" "$out" ;;
esac
left=$(ls -A "$MOO_ROOT/staging" | grep -v '^$')
[ -z "$left" ] && ok "... its staging folder removed" || not_ok "... staging removed" "$left"
id=$(printf '%s' "$out" | sed -n 's/^\(moo-job-[a-z0-9]*\) .*never started.*/\1/p' | head -1)
[ -n "$id" ] && [ ! -e "$MOO_ROOT/jobs/$id" ] && ok "... and its job folder" || not_ok "... and its job folder" "$(ls "$MOO_ROOT/jobs")"
expect_exit "... moo fetch of it: exit 2" 2 $TD "$MOO" fetch "$id" -o "$T/never"
contains "... its hint points at the log, not at waiting for it" "$err" "hint: it ended failed with no result: see why with moo logs $id"
no_tmp "... and its zip"

project "$T/p-esc" <<'PY'
print("moo:metric \033]0;pwned\007loss=1")
PY
expect_exit "run --name with control characters is refused (exit 2), shown escaped" 2 "$MOO" run --name "$(printf 'n\033[2J')" "$T/p-esc"
contains "... escaped" "$err" "'n\\e[2J' cannot be a job's name"
expect_exit "run: a job's metric name with control characters" 0 "$MOO" run --name esc "$T/p-esc"
contains "... shown escaped in the summary" "$err" 'moo:   \e]0;pwned\aloss = 1'
raw_free "... nothing raw in moo's own words (stderr)" "$err"
expect_exit "compare of it" 0 "$MOO" compare esc
raw_free "... escaped" "$out$err"
