#!/bin/sh
# Container runtimes for real: the sklearn example trained by podman and by Docker on this
# machine, in an image built here (a Debian minbase root with python3-sklearn: no Docker
# Hub here, tests/lib/image.sh); the derived environment built once and then found; the
# preflight refusing what this host cannot run. podman runs with private storage and the
# settings this host needs (runc, cgroupfs, ulimits: RECIPES.md); Docker is a private dockerd
# on a unix socket of this test. One podman run is local; the others go through a private
# sshd on loopback (moo run --on), whose sessions get the engine settings by SetEnv.
. "$(dirname "$0")/job-lib.sh"
. "$SRCDIR/tests/lib/image.sh"
. "$SRCDIR/tests/lib/sshd.sh"
cleanup_dirs() { cleanup; }
cd "$T" || exit 1

skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# expect_exit NAME CODE COMMAND...: stdout in $out, stderr in $err.
expect_exit() {
	_name=$1 _want=$2
	shift 2
	"$@" >"$T/.out" 2>"$T/.err"
	_got=$?
	out=$(cat "$T/.out") err=$(cat "$T/.err")
	if [ "$_got" = "$_want" ]; then ok "$_name"; else
		not_ok "$_name"
		echo "# exit $_got, wanted $_want; stderr: $err"
	fi
}
contains() {
	case $2 in
	*"$3"*) ok "$1" ;;
	*) not_ok "$1"; echo "# '$3' not found in: $2" ;;
	esac
}

# ---- what needs no engine: usage, preflight -------------------------------------------------
expect_exit "an unknown runtime is a usage error" 2 "$MOO" run --runtime lxc "$SRCDIR/examples/sklearn-diabetes"
contains "it names the runtimes" "$err" "choose docker, podman, apptainer or host"
mkdir gpu && cp "$SRCDIR"/examples/sklearn-diabetes/* gpu/ &&
	sed -i 's/accelerator: cpu/accelerator: gpu/' gpu/metadata.yaml
expect_exit "a GPU job on this host without GPUs is refused with exit 5" 5 "$MOO" run gpu
contains "it says why" "$err" "the job asks for 1 GPU; the host has none"
check "nothing was created for it" sh -c "[ -z \"\$(ls '$MOO_ROOT/jobs' 2>/dev/null)\" ] && [ \"\$('$MOO' ps -a --json)\" = '[]' ]"
expect_exit "apptainer, not installed here, is refused with exit 5" 5 "$MOO" run --runtime apptainer --image x "$SRCDIR/examples/sklearn-diabetes"
contains "it says so" "$err" "runtime 'apptainer' is not installed on the host"

# ---- the host runtime: requirements no interpreter has make a venv, named by their hash -------
whl=$("$MOO_PYTHON" "$SRCDIR/tests/cli/mkwheel.py" "$T" mooextra 1.0)
mkdir venvp && cp "$SRCDIR"/examples/sklearn-diabetes/* venvp/ &&
	sed -i "s|^  runtime: python3\$|  runtime:\n    name: python\n    version: \"3\"\n    requirement: [\"mooextra @ file://$whl\"]|" venvp/metadata.yaml
"$MOO" run venvp >out 2>err
code=$?
vid=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "a requirement no Python here has: the job runs in a new venv" sh -c "[ $code = 0 ] && grep -q '^MAE: ' out &&
	grep -q '^moo: made the environment $MOO_ROOT/envs/[0-9a-f]\{64\} on local from $MOO_PYTHON' '$MOO_ROOT/jobs/$vid/process.log'"
venv=$(sed -n 's|^moo: made the environment \([^ ]*\) .*|\1|p' "$MOO_ROOT/jobs/$vid/process.log")
check "the venv has the requirement, and the job ran its python" sh -c "'$venv/bin/python' -c 'import mooextra' &&
	grep -q \"^command=.*'$venv/bin/python' '-u' 'train.py'\" '$MOO_ROOT/jobs/$vid/state'"
"$MOO" run venvp >out 2>err
vid2=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "the same requirements again: the venv is found, not made again" sh -c "grep -q '^MAE: ' out &&
	grep -q '^moo: environment $venv found on local, not rebuilt' '$MOO_ROOT/jobs/$vid2/process.log'"

# ---- the image --------------------------------------------------------------------------------
if ! command -v podman >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1 ||
	! command -v debootstrap >/dev/null 2>&1; then
	skip "container runs" "podman, dockerd or debootstrap is not installed (.ci/packages)"
	done_testing
	exit
fi
rootfs=$(image_rootfs)
check "the test image's root builds (debootstrap, cached in the build tree)" test -s "$rootfs"

# ---- podman -------------------------------------------------------------------------------------
cat >"$T/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$T/containers.conf"
export MOO_PODMAN_OPTS="--root $T/st --runroot $T/rr"
# shellcheck disable=SC2086
pm() { podman $MOO_PODMAN_OPTS "$@"; }
pm import -q "$rootfs" localhost/moo-sklearn:1 >/dev/null 2>"$T/import.err"
check "podman imports it" pm image exists localhost/moo-sklearn:1

"$MOO" run --runtime podman --image localhost/moo-sklearn:1 "$SRCDIR/examples/sklearn-diabetes" >out 2>err
check "sklearn-diabetes trains in podman and exits 0" sh -c "grep -q '^MAE: [0-9.]*\$' out" 
id=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "its model is in the job's result folder" test -s "$MOO_ROOT/jobs/$id/work/training_result/model.pkl"
check "the recorded command is podman's, with private storage and the job folder mounted" \
	sh -c "'$MOO' show '$id' | grep -q \"^command: *'podman' '--root' '$T/st' '--runroot' '$T/rr' run --rm --init --name '$id' --network host -v '$MOO_ROOT/jobs/$id:$MOO_ROOT/jobs/$id'\""
iid=$(pm image inspect --format '{{.Id}}' localhost/moo-sklearn:1)
check "it ran Debian's Python in the image, pinned by its id (no registry has it)" \
	sh -c "grep -q \"'$iid' 'python3' '-u' 'train.py'\" '$MOO_ROOT/jobs/$id/state'"
check "no container is left behind" sh -c "[ -z \"\$(podman $MOO_PODMAN_OPTS ps -aq)\" ]"
lockf() { "$MOO_PYTHON" -c 'import json,sys; l=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
L1=$MOO_ROOT/jobs/$id/moo.lock
check "the lock records podman and the id of the image that ran" \
	[ "$(lockf "$L1" 'l["runtime"] + " " + l["image"]["id"]')" = "podman $iid" ]
"$MOO" reproduce "$id" >out 2>err
code=$?
rid=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
check "moo reproduce of the podman job runs under podman again and exits 0" sh -c "[ $code = 0 ] &&
	grep -q \"^command=.*'podman' .* run --rm\" '$MOO_ROOT/jobs/$rid/state'"
check "with the same image id" [ "$(lockf "$MOO_ROOT/jobs/$rid/moo.lock" 'l["image"]["id"]')" = "$iid" ]

# Cancelling signals podman's client, which passes it to the container's init: it goes.
project slow <<'PY'
import time
print("sleeping", flush=True)
time.sleep(300)
PY
sid=$("$MOO" run -d --runtime podman --image localhost/moo-sklearn:1 slow)
i=0
while [ $i -lt 200 ] && [ -z "$(pm ps -q --filter "name=$sid")" ]; do sleep 0.1; i=$((i + 1)); done
check "a long job runs in its container" [ -n "$(pm ps -q --filter "name=$sid")" ]
"$MOO" cancel "$sid" >/dev/null 2>&1
# (podman run --rm removes the container once its client has seen it end: a moment after)
i=0
while [ $i -lt 100 ] && [ -n "$(pm ps -aq)" ]; do sleep 0.2; i=$((i + 1)); done
check "moo cancel stops it: cancelled, and its container is gone" sh -c "
	'$MOO' status '$sid' >&2; podman $MOO_PODMAN_OPTS ps -a >&2
	[ \"\$('$MOO' status --json '$sid' | '$MOO_PYTHON' -c 'import json,sys; print(json.load(sys.stdin)[\"status\"])')\" = cancelled ] &&
	[ -z \"\$(podman $MOO_PODMAN_OPTS ps -aq)\" ]"

# No --image: resolve's plan (config.yaml's images entry), pinned by digest from an OCI
# registry on loopback (Debian's docker-registry), pulled by podman by that digest.
if command -v docker-registry >/dev/null 2>&1; then
	P=$(sshd_free_port)
	printf 'version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$T/regstore" "$P" >"$T/reg.yml"
	docker-registry serve "$T/reg.yml" >"$T/reg.log" 2>&1 &
	rpid=$!
	trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; cleanup' EXIT
	i=0
	until "$MOO_PYTHON" -c "import socket; socket.create_connection(('127.0.0.1', $P), 1)" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.05
	done
	pm push -q --tls-verify=false localhost/moo-sklearn:1 "docker://127.0.0.1:$P/moo/sklearn:1.2" >"$T/push.log" 2>&1
	mkdir -p "$XDG_CONFIG_HOME/moo"
	cat >"$XDG_CONFIG_HOME/moo/config.yaml" <<CONF
images:
  - framework: sklearn
    versions: ["1.2"]
    python: ["3.11"]
    accelerator: cpu
    image: 127.0.0.1:$P/moo/sklearn:{version}
registries:
  127.0.0.1:$P:
    insecure: true
CONF
	printf '[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$P" >"$T/registries.conf"
	CONTAINERS_REGISTRIES_CONF=$T/registries.conf "$MOO" run --runtime podman "$SRCDIR/examples/sklearn-diabetes" >out 2>err
	code=$?
	pid_=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
	check "without --image, podman runs resolve's plan and the job succeeds" sh -c "[ $code = 0 ] && grep -q '^MAE: ' out"
	check "the image it ran is the registry's, pinned by digest" \
		grep -q "'127.0.0.1:$P/moo/sklearn:1.2@sha256:[0-9a-f]\{64\}' 'python3'" "$MOO_ROOT/jobs/$pid_/state"
	# The tag moves (another image pushed to it): reproduce still runs the first digest.
	d1=$(lockf "$MOO_ROOT/jobs/$pid_/moo.lock" 'l["image"]["digest"]')
	pm import -q --message moved "$rootfs" localhost/moo-sklearn:moved >/dev/null 2>&1
	pm push -q --tls-verify=false localhost/moo-sklearn:moved "docker://127.0.0.1:$P/moo/sklearn:1.2" >>"$T/push.log" 2>&1
	d2=$("$MOO" resolve --runtime podman --json -o - "$SRCDIR/examples/sklearn-diabetes" | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["image"]["digest"])')
	check "the tag now names another digest" sh -c "[ -n '$d1' ] && [ -n '$d2' ] && [ '$d1' != '$d2' ]"
	CONTAINERS_REGISTRIES_CONF=$T/registries.conf "$MOO" reproduce "$pid_" >out 2>err
	code=$?
	rid=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
	check "moo reproduce after the tag moved still runs the first digest" sh -c "[ $code = 0 ] &&
		grep -q \"'127.0.0.1:$P/moo/sklearn:1.2@$d1' 'python3'\" '$MOO_ROOT/jobs/$rid/state'"
	rm -f "$XDG_CONFIG_HOME/moo/config.yaml"
else
	skip "resolve's plan with a registry" "no docker-registry (apt-get install docker-registry)"
fi

# ---- the same engines through a loopback sshd (moo run --on) --------------------------------------
mkdir -p "$T/d"
dockerd --data-root "$T/d/data" --exec-root "$T/d/exec" -H "unix://$T/d/docker.sock" \
	--pidfile "$T/d/dockerd.pid" --bridge none --iptables=false --ip6tables=false \
	>"$T/d/dockerd.log" 2>&1 &
dpid=$!
# dockerd leaves its network namespace mounted under the exec root: unmounted here.
stop_all() {
	kill ${rpid:-} $dpid 2>/dev/null
	wait $dpid 2>/dev/null
	umount "$T/d/exec/netns/default" 2>/dev/null
	sshd_stop
	cleanup
}
trap 'stop_all' EXIT
if ! sshd_setup || ! sshd_start; then
	not_ok "a loopback sshd starts"
	done_testing
	exit
fi
trap 'stop_all' EXIT
RROOT=$T/remote-root
cat >>"$SSHD_DIR/sshd_config" <<CONF
SetEnv CONTAINERS_CONF=$T/containers.conf MOO_ROOT=$RROOT "MOO_PODMAN_OPTS=$MOO_PODMAN_OPTS" "MOO_DOCKER_OPTS=-H unix://$T/d/docker.sock"
CONF
sshd_restart
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
ON=root@127.0.0.1:$SSHD_PORT
unset CONTAINERS_CONF MOO_PODMAN_OPTS # from here on only the sshd's sessions have them
PMOPTS="--root $T/st --runroot $T/rr"
# shellcheck disable=SC2086
pm() { CONTAINERS_CONF=$T/containers.conf podman $PMOPTS "$@"; }

# A requirement makes a derived image, built once and then found by its hash.
mkdir req && cp "$SRCDIR"/examples/sklearn-diabetes/* req/ &&
	sed -i 's/^  runtime: python3$/  runtime:\n    name: python\n    version: "3"\n    requirement: ["numpy>=1.20"]/' req/metadata.yaml
"$MOO" run --on "$ON" --runtime podman --image localhost/moo-sklearn:1 req >out 2>err
code=$?
check "over ssh, a job with requirements trains in a derived image" sh -c "[ $code = 0 ] && grep -q '^MAE: ' out"
did=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "its log says the environment was built" grep -q "^moo: built the environment moo-env:[0-9a-f]\{64\} on $ON" "$RROOT/jobs/$did/process.log"
key=$(sed -n 's/^moo: built the environment moo-env:\([0-9a-f]*\) .*/\1/p' "$RROOT/jobs/$did/process.log")
created=$(pm image inspect --format '{{.Id}} {{.Created}}' "moo-env:$key" 2>&1)
"$MOO" run --on "$ON" --runtime podman --image localhost/moo-sklearn:1 req >out 2>err
check "the same environment again trains" grep -q '^MAE: ' out
did2=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "and is not rebuilt" sh -c "grep -q '^moo: environment moo-env:$key found on $ON, not rebuilt' '$RROOT/jobs/$did2/process.log' &&
	[ \"\$(CONTAINERS_CONF=$T/containers.conf podman $PMOPTS image inspect --format '{{.Id}} {{.Created}}' moo-env:$key)\" = '$created' ]"
check "the Containerfile is kept under envs/KEY, from the image's id" grep -q "^FROM $iid\$" "$RROOT/envs/$key/Containerfile"

# ---- Docker: a private dockerd --------------------------------------------------------------------
# shellcheck disable=SC2086
dk() { docker -H "unix://$T/d/docker.sock" "$@"; }
i=0
while [ $i -lt 200 ] && ! dk version >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done
dk import "$rootfs" localhost/moo-sklearn:1 >/dev/null 2>"$T/dimport.err"
check "the private dockerd loads the image" dk image inspect localhost/moo-sklearn:1
"$MOO" run --on "$ON" --runtime docker --image localhost/moo-sklearn:1 "$SRCDIR/examples/sklearn-diabetes" >out 2>err
check "over ssh, sklearn-diabetes trains in Docker and exits 0" sh -c "grep -q '^MAE: [0-9.]*\$' out" 
xid=$("$MOO" ps -a --json | "$MOO_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
check "its model is in the job's result folder" test -s "$RROOT/jobs/$xid/work/training_result/model.pkl"
check "the recorded command is docker's, with the private daemon" \
	sh -c "'$MOO' show '$xid' | grep -q \"^command: *'docker' '-H' 'unix://$T/d/docker.sock' run --rm --init --name '$xid'\""
check "no container is left behind" sh -c "[ -z \"\$(docker -H unix://$T/d/docker.sock ps -aq)\" ]"
done_testing
