# Shared by the serve tests (after lib.sh): moo serve in the background, and curl against it.
#   start_serve NAME SOURCE ARGS...  moo serve --port 0 in the background; $URL once printed
#   wait_ready                       until /v2/health/ready answers 200
#   req METHOD PATH [curl args]      status in $code, body in $body, headers in $T/h
#   stop_serve                       ends it
export MOO_PYTHON=/usr/bin/python3
FX="$MOO_SRC/tests/fixtures/serve"
CLIENT="$MOO_SRC/tests/cli/serve_client.py"
SPID=
stop_serve() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	SPID=
}
start_serve() {
	_name=$1; shift
	rm -f "$T/$_name.out" # a second start under one name must not read the first's URL
	"$MOO" serve "$@" --port 0 >"$T/$_name.out" 2>"$T/$_name.err" &
	SPID=$!
	i=0
	until [ -s "$T/$_name.out" ] || [ $i -gt 600 ]; do sleep 0.1; i=$((i + 1)); done
	URL=$(head -n1 "$T/$_name.out")
}
wait_ready() {
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/health/ready")" = 200 ] ||
		[ $i -gt 600 ]; do sleep 0.1; i=$((i + 1)); done
}
req() {
	_m=$1 _p=$2; shift 2
	code=$(curl -s -X "$_m" -o "$T/body" -D "$T/h" -w '%{http_code}' --max-time 60 "$@" "$URL$_p")
	body=$(cat "$T/body")
}
