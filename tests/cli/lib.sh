# TAP helpers for moo's shell tests. Source it; set $MOO (the built moo) in the env.
# Each test gets its own temporary home so no run touches another's state.
set -u
: "${MOO:?set MOO to the moo binary}"
: "${MOO_SRC:?set MOO_SRC to the source tree}"
T=$(mktemp -d "${TMPDIR:-/tmp}/moo-test.XXXXXX")
export MOO_HOME="$T/home" XDG_DATA_HOME="$T/data" XDG_CONFIG_HOME="$T/config" MOO_ROOT="$T/root"
export XDG_CACHE_HOME="$T/cache" # the scans of bundles (bundle.c) stay in the test
export NO_COLOR=1
# No SSH connection kept between commands (transport_mux.c) unless a test asks for it:
# tests that cut links or change host keys check what one command does on its own;
# persist.sh and remote-kept (remote.sh again, with it on) check the kept connections.
export MOO_SSH_PERSIST="${MOO_SSH_PERSIST:-0}"
_n=0
_failed=0
PY=/usr/bin/python3

cleanup_dirs() { rm -rf "$T"; }
trap cleanup_dirs EXIT

plan() { echo "1..$1"; }
ok() { _n=$((_n + 1)); echo "ok $_n - $1"; }
not_ok() {
	_n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'
	return 0
}
skip() { _n=$((_n + 1)); echo "ok $_n - $1 # SKIP $2"; }

# check NAME COMMAND...: ok when the command succeeds.
check() {
	_name=$1; shift
	if _out=$("$@" 2>&1); then ok "$_name"; else not_ok "$_name" "$_out"; fi
}

# expect_exit NAME CODE COMMAND...: runs it, keeps stdout in $out and stderr in $err.
expect_exit() {
	_name=$1 _want=$2; shift 2
	"$@" >"$T/.out" 2>"$T/.err"
	_got=$?
	out=$(cat "$T/.out") err=$(cat "$T/.err")
	if [ "$_got" = "$_want" ]; then
		ok "$_name"
	else
		not_ok "$_name" "exit $_got, wanted $_want; stdout: $out; stderr: $err"
	fi
}

# contains NAME HAYSTACK NEEDLE
contains() {
	case $2 in
	*"$3"*) ok "$1" ;;
	*) not_ok "$1" "'$3' not found in: $2" ;;
	esac
}

done_testing() { [ "$_failed" = 0 ]; }

. "$MOO_SRC/tests/lib/jobs.sh"

# jq EXPR: a Python expression over the JSON on stdin (d); a tuple prints one value a line
jq() { $PY -c "import json,sys; d=json.load(sys.stdin); r=($1); print('\\n'.join(map(str, r)) if isinstance(r, tuple) else r)"; }
