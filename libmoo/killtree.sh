# killtree SIG PGID START [CGROUP]: signals a job's processes. POSIX sh, cat and awk. Put in
# front of the supervisor (its end) and of moo cancel's command line.
#
# The job's processes are those of CGROUP (a cgroup v2 folder the supervisor made for the
# job, where the host let it), of the process group PGID, of the session PGID, and every
# descendant of these by parent pid: children that called setsid are reached as long as
# their parent is one of them (a setsid child orphaned before this runs is reached only
# through the cgroup). START is field 22 of /proc/PGID/stat (the start time) that the group
# leader must still have, or - when the caller reaped the leader itself (the supervisor:
# a pgid is not reused while its group has members). SIG 0 signals nothing.
# Returns 0 when it found (and signalled) a process, 1 when none is left, 3 when PGID is
# not the job's group: then nothing is signalled.
killtree() {
	_kt_sig=$1 _kt_g=$2 _kt_want=$3 _kt_cg=${4:-}
	case $_kt_g in
	'' | *[!0-9]* | 0 | 1) return 3 ;;
	esac
	if [ "$_kt_want" != - ]; then
		read -r _kt_l 2>/dev/null <"/proc/$_kt_g/stat" || return 1
		_kt_l=${_kt_l##*) }
		# shellcheck disable=SC2086
		set -- $_kt_l
		# the group's leader, started when the state says, leading its own session
		[ "${20}" = "$_kt_want" ] || return 3
		[ "$3" = "$_kt_g" ] && [ "$4" = "$_kt_g" ] || return 3
	fi
	_kt_set=' '
	if [ -n "$_kt_cg" ] && [ -r "$_kt_cg/cgroup.procs" ]; then
		# every process the job started is in it: no need to look further (unless it is
		# empty: the job could not be moved into it)
		while read -r _kt_p; do
			_kt_set="$_kt_set$_kt_p "
		done <"$_kt_cg/cgroup.procs"
		if [ "$_kt_set" != ' ' ]; then
			_kt_signal
			return
		fi
	fi
	# Nothing left in the group and no leader to start from: nothing to look for (a process
	# of the session in another group is not looked for then).
	if [ "$_kt_want" = - ] && ! kill -s 0 -- "-$_kt_g" 2>/dev/null; then
		return 1
	fi
	# One pass over /proc (one cat and one awk: sh's read takes a byte per system call):
	# members of the group or session, then their descendants, until nothing is added.
	_kt_set=" $(cat /proc/[0-9]*/stat 2>/dev/null | awk -v g="$_kt_g" -v self="$$" '
		{ p = $1; sub(/^.*\) /, ""); if ($1 != "Z") { pp[p] = $2; if ($3 == g || $4 == g) s[p] = 1 } }
		END {
			do {
				more = 0
				for (p in pp) if (!(p in s) && (pp[p] in s)) { s[p] = 1; more = 1 }
			} while (more)
			for (p in s) if (p != 1 && p != self) printf "%s ", p
		}') "
	_kt_signal
}

# _kt_signal: signals the processes in $_kt_set and the group $_kt_g (killtree's end).
_kt_signal() {
	# shellcheck disable=SC2086
	set -- $_kt_set
	[ $# -gt 0 ] || return 1
	[ "$_kt_sig" = 0 ] && return 0
	if [ "$_kt_sig" = KILL ] && [ -n "$_kt_cg" ] && [ -w "$_kt_cg/cgroup.kill" ]; then
		echo 1 >"$_kt_cg/cgroup.kill"
	fi 2>/dev/null
	kill -s "$_kt_sig" -- "-$_kt_g" 2>/dev/null
	kill -s "$_kt_sig" -- "$@" 2>/dev/null
	return 0
}
