#!/bin/sh
# moo serve --on HOST against a real sshd on loopback: a job trained on the host is served
# with its workers on the host (exec channels of one SSH session, in the interpreter of its
# moo.lock), the endpoint here, no port opened on the host; a connection killed mid-request
# answers 503 with Retry-After, and serving goes on once moo has reconnected; so it does
# after sshd was down a while. A folder served --on the host is staged there first.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
. "$MOO_SRC/tests/cli/serve-lib.sh"

if ! sshd_setup || ! sshd_start; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
R=$T/remote # MOO_ROOT on the host
mkdir -p "$R"
"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
trap 'stop_serve; sshd_stop; cleanup_dirs' EXIT

# listeners PID...: the TCP ports those processes listen on, one a line
listeners() {
	_re=$(echo "$@" | tr ' ' '|')
	ss -Hltnp | grep -E "pid=($_re)," | awk '{print $4}' | sed 's/.*://' | sort -u
}
J='-H Content-Type:application/json'

# A model: train.py writes k; predict multiplies by it and says where it runs.
P=$T/proj
mkdir -p "$P"
cat >"$P/train.py" <<'EOF'
import os
os.makedirs("training_result", exist_ok=True)
open("training_result/k", "w").write("3")
EOF
cat >"$P/predict.py" <<'EOF'
import os, sys, time
def load(model_dir):
    return {"k": int(open(os.path.join(model_dir, "k")).read()), "dir": model_dir}
def predict(model, request):
    if "sleep" in request:
        time.sleep(request["sleep"])
    return {"y": [model["k"] * x for x in request.get("instances") or []], "pid": os.getpid(),
            "ssh": os.environ.get("SSH_CONNECTION", ""), "exe": sys.executable,
            "model_dir": model["dir"], "cwd": os.getcwd()}
EOF
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: times\nentry_point: train.py\noutput_folder: training_result\ninference:\n  entry_point: predict.py\n' >"$P/metadata.yaml"

plan 24

expect_exit "a job trained on the host" 0 "$MOO" run --on h1 --json "$P"
job=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['id']")
lock_python=$("$MOO" show --json "$job" | jq "json.loads(d['lock'])['interpreter']['path'] if isinstance(d['lock'], str) else d['lock']['interpreter']['path']" 2>/dev/null)

logins0=$(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log")
start_serve job "$job" --workers 2
wait_ready
req GET /v2/health/ready
contains "serve JOB: its workers load on the host; ready" "$code $body" '200 {"ready":true}'
port=${URL##*:}
i=0 # the second worker may still be loading
until wpids=$(pgrep -f "predict.py $R/jobs/$job/work/training_result" | tr '\n' ' ') &&
	[ "$(echo $wpids | wc -w)" = 2 ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
new=$(listeners $SPID $wpids)
[ "$(echo $wpids | wc -w)" = 2 ] && [ "$new" = "$port" ] &&
	ok "... 2 workers on the host listen on no port; moo listens on its HTTP port ($port) only" ||
	not_ok "... no port opened on the host" "listeners of moo ($SPID) and its workers ($wpids): $new"
req POST /invocations $J -d '{"instances": [1, 2]}'
contains "predict gives the model's answer" "$code $body" '200 {"y": [3, 6]'
p1=$(printf '%s' "$body" | jq "d['pid']")
printf '%s' "$body" | jq "d['ssh']" | grep -q " $SSHD_PORT\$" &&
	ok "... from a worker started by the host's sshd (SSH_CONNECTION names its port)" ||
	not_ok "... from a worker started by sshd" "$body"
[ "$(ps -o comm= -p "$(ps -o ppid= -p "$p1" | tr -d ' ')")" = sshd ] &&
	ok "... whose parent process is sshd" || not_ok "... whose parent is sshd" "$(ps -o pid,ppid,comm -p "$p1")"
exe=$(printf '%s' "$body" | jq "d['exe']")
[ -n "$lock_python" ] && [ "$exe" = "$lock_python" ] &&
	ok "... in the interpreter of the job's moo.lock ($exe)" ||
	not_ok "... in the lock's interpreter" "worker: $exe; lock: $lock_python"
case $(printf '%s' "$body" | jq "d['model_dir'], d['cwd']") in
"$R/jobs/$job/work/training_result
$R/jobs/$job/work") ok "... loading the result folder on the host, in the job's work folder" ;;
*) not_ok "... the host's result folder" "$body" ;;
esac
expect_exit "moo predict JOB-URL gives the same answer" 0 "$MOO" predict "$URL" -d '{"instances": [5]}'
contains "... [15]" "$out" '"y": [15]'

# ---- the connection killed mid-request: 503 with Retry-After, then served again -----------
curl -s -o "$T/cut.body" -D "$T/cut.h" -w '%{http_code}' --max-time 30 $J \
	-d '{"instances": [1], "sleep": 2}' "$URL/invocations" >"$T/cut.code" &
cpid=$!
sleep 0.8
t0=$(date +%s)
sshd_cut
wait $cpid
t1=$(date +%s)
contains "a request in flight when the connection is killed gets 503" "$(cat "$T/cut.code") $(cat "$T/cut.body")" \
	"503 {\"error\":\"the connection to host 'h1' was lost"
grep -qi '^Retry-After: ' "$T/cut.h" && ok "... with Retry-After" || not_ok "... with Retry-After" "$(cat "$T/cut.h")"
[ $((t1 - t0)) -le 5 ] && ok "... at once, not a hang ($((t1 - t0)) s)" || not_ok "... at once" "$((t1 - t0)) s"
i=0
code=
while [ "$code" != 200 ] && [ $i -lt 100 ]; do
	req POST /invocations $J -d '{"instances": [4]}'
	case $code in 200 | 503) ;; *) break ;; esac
	[ "$code" = 200 ] || sleep 0.2
	i=$((i + 1))
done
contains "after moo reconnects, requests succeed again" "$code $body" '200 {"y": [12]'
p2=$(printf '%s' "$body" | jq "d['pid']")
[ "$p2" != "$p1" ] && ok "... from a new worker on the host" || not_ok "... a new worker" "$p1 $p2"
n=$(($(grep -c 'Accepted publickey' "$SSHD_DIR/sshd.log") - logins0))
[ "$n" = 2 ] && ok "... over one new connection: both workers are channels of one session (2 logins in all)" ||
	not_ok "... one session" "$n logins"

# ---- the host's sshd down for a while: 503 naming why, at once; served again once it is back --
sess=$(ps -o pid= --ppid "$(cat "$SSHD_DIR/sshd.pid")")
sshd_stop
for c in $sess; do kill -KILL "$c" 2>/dev/null; done
sleep 1
t0=$(date +%s)
req POST /invocations $J -d '{"instances": [4]}'
t1=$(date +%s)
[ $((t1 - t0)) -le 2 ] || body="took $((t1 - t0)) s: $body"
contains "sshd down: a request gets 503 saying moo is reconnecting, at once" \
	"$code $body" "503 {\"error\":\"reconnecting to host 'h1': "
req GET /v2/health/ready
contains "... ready says so too" "$code $body" "503 {\"ready\":false,\"error\":\"reconnecting to host 'h1'"
sshd_start
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v2/health/ready")" = 200 ] || [ $i -gt 400 ]; do
	sleep 0.1; i=$((i + 1))
done
req POST /invocations $J -d '{"instances": [5]}'
contains "... once sshd is back, moo has reconnected and predicts again" "$code $body" '200 {"y": [15]'
p3=$(printf '%s' "$body" | jq "d['pid']")
stop_serve
i=0
while kill -0 "$p3" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if ! kill -0 "$p3" 2>/dev/null; then ok "stopping moo serve ends the workers on the host"; else
	not_ok "workers ended" "$(ps -o pid,comm -p "$p3")"
fi

# ---- a folder served --on the host: staged there, workers in the interpreter moo picks there --
mkdir -p "$P/training_result" && echo 7 >"$P/training_result/k"
start_serve dir "$P" --on h1
wait_ready
req POST /invocations $J -d '{"instances": [1]}'
contains "serve DIR --on HOST: predict answers" "$code $body" '200 {"y": [7]'
case $(printf '%s' "$body" | jq "d['cwd']") in
"$R"/serve/*) ok "... from the copy staged under the host's MOO_ROOT/serve" ;;
*) not_ok "... staged on the host" "$body" ;;
esac
stop_serve

# ---- more workers than sshd's MaxSessions (default 10) lets one session open: said, not silent --
start_serve many "$P" --on h1 --workers 10
wait_ready
i=0
until grep -q "MaxSessions" "$T/many.err" || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
contains "workers the host refuses (sshd's MaxSessions) are reported" "$(cat "$T/many.err")" "refused a channel for a worker"
stop_serve

# ---- a worker still in load() when moo serve stops: ended too, not left to finish on the host --
S=$T/slowload
mkdir -p "$S/training_result"
cp "$P/metadata.yaml" "$P/train.py" "$S/"
cat >"$S/predict.py" <<EOF
import os, time
def load(model_dir):
    open("$T/slowload.pid", "w").write(str(os.getpid()))
    time.sleep(120)
def predict(model, request):
    return {}
EOF
start_serve slow "$S" --on h1
i=0
until [ -s "$T/slowload.pid" ] || [ $i -gt 300 ]; do sleep 0.1; i=$((i + 1)); done
p4=$(cat "$T/slowload.pid" 2>/dev/null)
stop_serve
i=0
while [ -n "$p4" ] && kill -0 "$p4" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -n "$p4" ] && ! kill -0 "$p4" 2>/dev/null; then ok "stopping moo serve ends a worker on the host still in load()"; else
	not_ok "stopping moo serve ends a worker on the host still in load()" "pid '$p4': $(ps -o pid,args -p "${p4:-0}" | cut -c1-80)"
	[ -n "$p4" ] && kill "$p4" 2>/dev/null
fi
done_testing
