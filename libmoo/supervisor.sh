# moo supervisor: runs one job and records how it went. POSIX sh, coreutils and setsid.
#
#   cd JOBDIR && setsid sh -c "$SUPERVISOR" moo-supervisor OUTPUT_FOLDER COMMAND_TEXT CMD [ARG...]
#
# started with stdout and stderr appending to JOBDIR/process.log. It runs CMD in work/
# in a session (and process group) of its own, so 'moo cancel' can signal the job's
# whole group while the supervisor lives on to record the end. Files, in JOBDIR:
#   state            pid, pid_start, pgid, pgid_start, started, command (last, to the end)
#   MANIFEST.sha256  sha256sum of every file in work/OUTPUT_FOLDER, paths relative to it
#   exit             code= or signal=/signal_name=, ended=; written last (temp + rename)
# pid_start and pgid_start are field 22 of /proc/PID/stat (start time in clock ticks since
# boot): a pid reused after the job died has another, so it is never mistaken for the job.
out=$1
text=$2
shift 2
trap '' HUP INT

now() {
	date +%s.%N 2>/dev/null || date +%s
}

starttime() {
	st=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	st=${st##*) }
	# shellcheck disable=SC2086
	set -- $st
	echo "${20}"
}

started=$(now)
mkdir -p "work/$out"
cd work || exit 1
setsid "$@" &
child=$!
cd .. || exit 1
{
	echo "pid=$$"
	echo "pid_start=$(starttime $$)"
	echo "pgid=$child"
	echo "pgid_start=$(starttime "$child")"
	echo "started=$started"
	printf 'command=%s\n' "$text"
} >state.tmp && mv -f state.tmp state

wait "$child"
code=$?
# Whatever the entry point left running in its group goes with it.
kill -s TERM -- "-$child" 2>/dev/null

if [ -d "work/$out" ]; then
	(cd "work/$out" && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2)
fi >MANIFEST.sha256.tmp
mv -f MANIFEST.sha256.tmp MANIFEST.sha256

{
	if [ "$code" -gt 128 ] && [ "$code" -lt 193 ]; then
		echo "signal=$((code - 128))"
		echo "signal_name=$(kill -l "$((code - 128))" 2>/dev/null)"
	else
		echo "code=$code"
	fi
	echo "ended=$(now)"
} >exit.tmp && mv -f exit.tmp exit
