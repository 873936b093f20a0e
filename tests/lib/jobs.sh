# Sourced by the TAP harnesses (tests/cli/lib.sh, tests/cli/job-lib.sh).

# kill_jobs STATE...: kills the supervisor and the process group each job's state file
# names (a test's leftovers; the hosts of the ssh tests share this machine's files).
kill_jobs() {
	for _s in "$@"; do
		[ -f "$_s" ] || continue
		_g=$(sed -n 's/^pgid=//p' "$_s")
		_p=$(sed -n 's/^pid=//p' "$_s")
		[ -n "$_g" ] && kill -KILL -- "-$_g" 2>/dev/null
		[ -n "$_p" ] && kill -KILL "$_p" 2>/dev/null
	done
	return 0
}
