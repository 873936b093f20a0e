# moo supervisor: runs one job and records how it went. POSIX sh, coreutils and setsid.
# On this machine supervise.c does the same in C (keep the two alike: this header is the
# contract both keep).
#
#   set -- OUTPUT_FOLDER COMMAND_TEXT CMD [ARG...]      (put in front of this script)
#
# run by sh in JOBDIR in a session of its own (setsid), stdout and stderr appending to
# JOBDIR/process.log, with killtree.sh's function put in front. It runs CMD in work/
# in a session (and process group) of its own, so 'moo cancel' can signal the job's
# whole group while the supervisor lives on to record the end. Where the host has a
# cgroup v2 the supervisor may make folders in (its own cgroup's), the job runs in a
# cgroup of its own named by the job id, so that children that left its session are reached too
# (MOO_CGROUP=0 in the supervisor's environment turns that off). When the entry point
# ends, whatever it left running gets SIGTERM, then SIGKILL after $MOO_KILL_GRACE seconds
# (default 5), before the result is hashed and exit written. Files, in JOBDIR:
#   state            pid, pid_start, pgid, pgid_start, started, cgroup (empty without
#                    one), command (last, to the end);
#                    one printf, no rename: readers take it as written once command= is there
#   MANIFEST.sha256  sha256sum of every file in work/OUTPUT_FOLDER, paths relative to it
#   exit             code= or signal=, ended=, disk=, run=; written last (temp + rename)
# run= (in state and exit) is $MOO_RUN, or 0: which run of a requeued Slurm job wrote them;
# btime= is $MOO_BTIME (a Slurm compute node's boot), or empty.
# Times are "up:SECONDS" since the host booted (moo adds btime= where given, else the host's
# btime from /proc/stat), or epoch seconds.
# pid_start and pgid_start are field 22 of /proc/PID/stat (start time in clock ticks since
# boot): a pid reused after the job died has another, so it is never mistaken for the job.
out=$1
text=$2
shift 2
# The run this is: on Slurm the job's restart count (a requeued job runs again in the same
# folder), so that moo takes only this run's exit; 0 elsewhere.
run=${MOO_RUN:-0}
# On Slurm the compute node's boot (epoch seconds), which "up:" times count from: moo cannot
# read it from the login node. Empty elsewhere (moo reads the host's).
btime=${MOO_BTIME:-}
unset MOO_RUN MOO_BTIME
trap '' HUP INT

# Only builtins below where it can be: on a busy host every fork and exec costs.
# now: NOW is "up:<seconds since boot>" from /proc/uptime (moo adds the host's btime),
# or the epoch from date where there is no /proc.
now() {
	if read -r NOW _ </proc/uptime 2>/dev/null; then
		NOW="up:$NOW"
	else
		NOW=$(date +%s)
	fi
}

# starttime PID: START is field 22 of /proc/PID/stat, or 0.
starttime() {
	START=0
	read -r st <"/proc/$1/stat" 2>/dev/null || return 0
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	START=${20}
}

# The host runtime's command is 'env NAME=VALUE… INTERPRETER …': the child exports those
# itself rather than exec'ing env (one program less to start before the entry point), with
# env's meaning kept: any leading word with '=' is an assignment; a name sh cannot export
# leaves the whole command to env. The supervisor's own environment stays as it was.
nvars=0
if [ "$1" = env ]; then
	for w in "$@"; do
		[ "$w" = env ] && [ "$nvars" -eq 0 ] && continue
		case $w in
		*=*) ;;
		*) break ;;
		esac
		case ${w%%=*} in
		'' | [0-9]* | *[!A-Za-z0-9_]*)
			nvars=-1
			break
			;;
		esac
		nvars=$((nvars + 1))
	done
fi

[ -d "work/$out" ] || mkdir -p "work/$out"
id=${PWD##*/}
# A cgroup v2 of the job's own, under the supervisor's cgroup, where it may make one.
cg=
if [ "${MOO_CGROUP:-1}" != 0 ] && [ -r /proc/self/cgroup ]; then
	rel='' mnt=''
	while IFS= read -r l; do
		case $l in 0::/*) rel=${l#0::} ;; esac
	done </proc/self/cgroup
	# Where cgroup v2 is mounted: the usual places first (a file only cgroup2 has), else
	# /proc/self/mounts read line by line (~10 ms of sh on a host with many mounts).
	for mp in /sys/fs/cgroup /sys/fs/cgroup/unified; do
		[ -f "$mp/cgroup.controllers" ] && mnt=$mp && break
	done
	[ -n "$mnt" ] || while read -r _ mp type _; do
		[ "$type" = cgroup2 ] && mnt=$mp
	done </proc/self/mounts
	# (test -w first: where the user may not make one, as usual over SSH, no mkdir is run)
	if [ -n "$rel" ] && [ -n "$mnt" ] && [ -w "$mnt${rel%/}" ] &&
		mkdir "$mnt${rel%/}/$id" 2>/dev/null; then
		cg=$mnt${rel%/}/$id
	fi
fi
(
	# MOO_JOB_ID marks the job's processes: moo cancel signals a group only when its
	# leader has it (a state the job rewrote cannot turn cancel on another process).
	export MOO_JOB_ID="$id"
	[ -n "$cg" ] && { echo 0 >"$cg/cgroup.procs"; } 2>/dev/null
	cd work || exit 1
	if [ "$nvars" -gt 0 ]; then
		shift
		while [ "$nvars" -gt 0 ]; do
			export "$1"
			shift
			nvars=$((nvars - 1))
		done
	fi
	exec setsid "$@"
) &
child=$!
now # after the job is on its way: reading /proc/uptime here costs it ~20 syscalls
started=$NOW
starttime $$
pid_start=$START
starttime "$child"
printf 'pid=%s\npid_start=%s\npgid=%s\npgid_start=%s\nstarted=%s\ncgroup=%s\nrun=%s\nbtime=%s\ncommand=%s\n' \
	"$$" "$pid_start" "$child" "$START" "$started" "$cg" "$run" "$btime" "$text" >state
# room kept for the exit file, should the job fill the disk (rewritten in place below)
printf '%4096s' '' >exit.tmp 2>/dev/null

wait "$child"
code=$?
# Whatever the entry point left running goes with it. What ends by itself within 2 s is let
# be (podman's removal of a --rm container, say); the rest gets SIGTERM, and SIGKILL after
# the grace.
i=0
while [ "$i" -lt 20 ] && killtree 0 "$child" - "$cg"; do
	sleep 0.1
	i=$((i + 1))
done
if killtree TERM "$child" - "$cg"; then
	grace=${MOO_KILL_GRACE:-5}
	case $grace in '' | *[!0-9]*) grace=5 ;; esac
	i=0
	while [ "$i" -lt $((grace * 10)) ] && killtree 0 "$child" - "$cg"; do
		sleep 0.1
		i=$((i + 1))
	done
	killtree KILL "$child" - "$cg"
fi
if [ -n "$cg" ]; then
	i=0
	while ! rmdir "$cg" 2>/dev/null && [ "$i" -lt 20 ]; do
		sleep 0.05
		i=$((i + 1))
	done
fi

# What the job put in place of the files written below (a FIFO would block the write for
# ever, a folder would take exit inside it) goes first; no fork unless there is one. A
# regular exit.tmp stays: it is the room kept above, rewritten in place on a full disk.
for f in MANIFEST.sha256 exit.tmp exit; do
	if [ -L "$f" ] || { [ -e "$f" ] && { [ "$f" != exit.tmp ] || [ ! -f "$f" ]; }; }; then
		rm -rf -- "$f"
	fi
done

# No temp + rename here: nobody reads MANIFEST.sha256 before exit exists, and exit is
# renamed into place after it is complete.
# A flat folder (the common case) is listed by the shell and hashed by one sha256sum; one
# with subfolders takes find. Either way the lines read "HASH  ./NAME", symlinks left out.
# The output folder is never reached through a symbolic link the job made (to /etc, to /):
# a link on its way (work/, or a part of OUTPUT_FOLDER) is removed, said in the log, and the
# job has no output folder (supervise.c's drop_links).
p=work rest=$out
while [ -d "$p" ] || [ -L "$p" ]; do
	if [ -L "$p" ]; then
		printf "moo: '%s' is a symbolic link, not a folder: removed, not followed (the job has no output folder)\n" "$p"
		rm -f -- "$p"
		break
	fi
	[ -n "$rest" ] || break
	p=$p/${rest%%/*}
	case $rest in */*) rest=${rest#*/} ;; *) rest= ;; esac
done

top=$PWD
if cd "work/$out" 2>/dev/null; then
	nested=
	set --
	for f in ./* ./.[!.]* ./..?*; do
		if [ -L "$f" ]; then
			continue
		elif [ -d "$f" ]; then
			nested=1
		elif [ -f "$f" ]; then
			set -- "$@" "$f"
		fi
	done
	if [ -n "$nested" ]; then
		find . -type f -exec sha256sum {} +
	elif [ $# -gt 0 ]; then
		sha256sum -- "$@"
	fi >"$top/MANIFEST.sha256"
	cd "$top" || exit 1
else
	: >MANIFEST.sha256
fi

now
disk= # "full" when the job's disk has no byte left: the reason it failed, said by moo
if [ "$code" != 0 ]; then # (a job that succeeded needs no reason: no df for it)
	df -Pk . 2>/dev/null | { read -r _ && read -r _ _ _ avail _ && [ "$avail" = 0 ]; } && disk=full
fi
if [ "$code" -gt 128 ] && [ "$code" -lt 193 ]; then
	printf 'signal=%s\nended=%s\ndisk=%s\n' "$((code - 128))" "$NOW" "$disk"
else
	printf 'code=%s\nended=%s\ndisk=%s\n' "$code" "$NOW" "$disk"
fi >exit.tmp && printf 'run=%s\nbtime=%s\n' "$run" "$btime" >>exit.tmp && exec mv -f exit.tmp exit # the last step: no fork for it
