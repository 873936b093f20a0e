#!/bin/sh
# moo resolve against real OCI registries on loopback (Debian's docker-registry): digests
# pinned as skopeo sees them, a multi-arch index narrowed to this machine's platform, a
# mirror, the bearer-token challenge of a token-protected registry, no Authorization header
# across a redirect to another host (127.0.0.2), and a lying Docker-Content-Digest refused.
. "$MOO_SRC/tests/cli/lib.sh"

for tool in docker-registry skopeo openssl; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "1..0 # SKIP no $tool (apt-get install docker-registry skopeo openssl)"
		exit 0
	fi
done
if ! $PY -c 'import jwt, cryptography' 2>/dev/null; then
	echo "1..0 # SKIP no python3-jwt"
	exit 0
fi

OCI="$PY $MOO_SRC/tests/cli/oci.py"
PIDS=""
stop_all() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap stop_all EXIT
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_port HOST PORT: until it accepts (5 s at most)
wait_port() {
	$PY - "$1" "$2" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}
start() { # start LOG CMD...: in the background, remembered for the trap
	_log=$1; shift
	"$@" >"$_log" 2>&1 &
	PIDS="$PIDS $!"
}

plan 27

# --- fixtures: an open registry, images pushed to it by skopeo -------------------------
P=$(free_port)
cat >"$T/open.yml" <<EOF
version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: $T/store}
http:
  addr: 127.0.0.1:$P
EOF
start "$T/open.log" docker-registry serve "$T/open.yml"
wait_port 127.0.0.1 "$P" || { not_ok "registry starts" "$(cat "$T/open.log")"; exit 1; }
R=127.0.0.1:$P

$OCI layout "$T/lay" single amd64
$OCI layout "$T/lay" multi amd64 arm64/v8
$OCI layout "$T/lay" armonly arm64/v8
for img in single:moo/single:1 armonly:moo/armonly:1 single:dockerhub/library/python:3.11-slim; do
	skopeo copy -q --dest-tls-verify=false "oci:$T/lay:${img%%:*}" "docker://$R/${img#*:}"
done
skopeo copy -q --all --dest-tls-verify=false "oci:$T/lay:multi" "docker://$R/moo/multi:1"
digest_of() { skopeo inspect --tls-verify=false "docker://$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["Digest"])'; }
SINGLE=$(digest_of "$R/moo/single:1")
MULTI=$(digest_of "$R/moo/multi:1")
AMD64=$(skopeo inspect --raw --tls-verify=false "docker://$R/moo/multi:1" |
	$PY -c 'import json,sys; print([m["digest"] for m in json.load(sys.stdin)["manifests"] if m["platform"]["architecture"] == "amd64"][0])')
case $SINGLE$MULTI$AMD64 in
*sha256:*sha256:*sha256:*) ok "skopeo pushed a single-arch image and a two-arch index" ;;
*) not_ok "skopeo pushed a single-arch image and a two-arch index" "$SINGLE $MULTI $AMD64" ;;
esac

mkdir -p "$T/proj" "$XDG_CONFIG_HOME/moo"
cat >"$T/proj/metadata.yaml" <<EOF
framework: {name: sklearn, version: 1.2.1, runtime: python3.11}
model: {name: m}
entry_point: train.py
EOF
echo 'print(1)' >"$T/proj/train.py"
# config.yaml IMAGE: framework sklearn, versions VERSION→image, tried before the table
config() {
	{
		echo "images:"
		for kv in "$@"; do
			echo "  - {framework: sklearn, versions: [\"${kv%%=*}\"], python: [\"3.11\"], accelerator: cpu, image: \"${kv#*=}\"}"
		done
		echo "registries:"
		echo "  docker.io: {mirror: \"$R/dockerhub\"}"
	} >"$XDG_CONFIG_HOME/moo/config.yaml"
}
version() { sed -i "s/version: [0-9.]*,/version: $1,/" "$T/proj/metadata.yaml"; }
lockfield() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); exec("print(" + sys.argv[2] + ")")' "$1" "$2"; }

# --- a single-arch image --------------------------------------------------------------
config "1.2.1=$R/moo/single:1" "1.2.2=$R/moo/multi:1" "1.2.3=$R/moo/armonly:1" "1.2.4=$R/moo/none:1"
expect_exit "resolve pins a single-arch image" 0 "$MOO" resolve "$T/proj"
contains "the digest is skopeo's" "$out" "digest       $SINGLE"
check "moo.lock is written in the project" test -s "$T/proj/moo.lock"
got=$(lockfield "$T/proj/moo.lock" 'd["image"]["digest"], d["image"]["reference"], d["bundle"]["sha256"] != None, d["host"]["facts"]["arch"]')
contains "moo.lock holds the digest, reference, bundle and host facts" "$got" "$SINGLE $R/moo/single:1 True $(uname -m)"
expect_exit "moo.lock does not change the bundle's sha256" 0 "$MOO" resolve --json -o - "$T/proj"
contains "same bundle sha256 with moo.lock beside it" "$out" "$(lockfield "$T/proj/moo.lock" 'd["bundle"]["sha256"]')"

# --- a multi-arch index ---------------------------------------------------------------
version 1.2.2
expect_exit "resolve pins a multi-arch index" 0 "$MOO" resolve --json -o "$T/multi.lock" "$T/proj"
got=$(lockfield "$T/multi.lock" 'd["image"]["digest"], d["image"]["platform_digest"], ",".join(d["image"]["platforms"])')
if [ "$(uname -m)" = x86_64 ]; then
	contains "the index's digest, and its amd64 manifest's" "$got" "$MULTI $AMD64 linux/amd64,linux/arm64/v8"
else
	skip "the index's digest, and its amd64 manifest's" "not an x86_64 machine"
fi
version 1.2.3
expect_exit "an image without this platform does not resolve (exit 5)" 5 "$MOO" resolve -o - "$T/proj"
contains "it names the platforms it has" "$err" "linux/arm64/v8"
version 1.2.4
expect_exit "an image the registry lacks does not resolve (exit 5)" 5 "$MOO" resolve -o - "$T/proj"

# --- a mirror: the built-in docker.io/library/python:3.11-slim from $R/dockerhub --------
version 1.2.1
config
PY311=$(digest_of "$R/dockerhub/library/python:3.11-slim")
expect_exit "the table's docker.io image resolves through the mirror" 0 "$MOO" resolve -o - "$T/proj"
contains "pulled from the mirror, pinned to its digest" "$out" "pulled from  $R/dockerhub/library/python:3.11-slim
digest       $PY311"
contains "the requirements layer adds scikit-learn" "$out" "requirements scikit-learn==1.2.1"

# --- a token-protected registry (same storage) behind a real token server ---------------
TP=$(free_port) AP=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
	-subj /CN=moo-token >/dev/null 2>&1
cat >"$T/auth.yml" <<EOF
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $T/store}
http:
  addr: 127.0.0.1:$AP
auth:
  token:
    realm: http://127.0.0.1:$TP/token
    service: moo-test
    issuer: moo-issuer
    rootcertbundle: $T/cert.pem
EOF
start "$T/token.log" $OCI token "$TP" "$T/key.pem" "$T/cert.pem" moo-issuer moo-test
start "$T/auth.log" docker-registry serve "$T/auth.yml"
wait_port 127.0.0.1 "$TP" && wait_port 127.0.0.1 "$AP"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/v2/moo/single/manifests/1")
contains "the registry refuses an anonymous request" "$code" 401
config "1.2.1=127.0.0.1:$AP/moo/single:1"
expect_exit "resolve answers the bearer challenge" 0 "$MOO" resolve -o - "$T/proj"
contains "and pins the same digest" "$out" "digest       $SINGLE"

# --- a redirect to another host must not carry the token --------------------------------
RP=$(free_port) OP=$(free_port)
start "$T/origin.out" $OCI origin 127.0.0.2 "$OP" "http://$R" "$T/origin.log"
start "$T/redirect.out" $OCI redirect "$RP" "http://127.0.0.2:$OP" s3cret-token
wait_port 127.0.0.2 "$OP" && wait_port 127.0.0.1 "$RP"
curl -s -o /dev/null -H 'Authorization: Bearer probe' "http://127.0.0.2:$OP/v2/"
contains "the other host logs an Authorization header it gets" "$(cat "$T/origin.log")" "Bearer probe"
config "1.2.1=127.0.0.1:$RP/moo/single:1"
expect_exit "resolve follows the redirect to 127.0.0.2" 0 "$MOO" resolve -o - "$T/proj"
contains "and pins the digest it got there" "$out" "digest       $SINGLE"
log=$(grep -v '^/v2/ ' "$T/origin.log")
case $log in
*/v2/moo/single/manifests/1\ none*) case $log in
	*s3cret*) not_ok "127.0.0.2 got no Authorization header" "$log" ;;
	*) ok "127.0.0.2 got no Authorization header" ;;
	esac ;;
*) not_ok "127.0.0.2 got no Authorization header" "$log" ;;
esac

# --- a proxy that lies in Docker-Content-Digest -------------------------------------------
LP=$(free_port)
start "$T/lie.out" $OCI lie "$LP" "http://$R"
wait_port 127.0.0.1 "$LP"
config "1.2.1=127.0.0.1:$LP/moo/single:1"
rm -f "$T/proj/moo.lock"
expect_exit "a wrong Docker-Content-Digest is refused (exit 4)" 4 "$MOO" resolve "$T/proj"
contains "the error names both digests" "$err" "is sha256:0000000000000000000000000000000000000000000000000000000000000000, but its bytes are $SINGLE; refused"
check "and no moo.lock is written" test ! -e "$T/proj/moo.lock"

# --- --on HOST: the facts come from probing the host over SSH ------------------------------
. "$MOO_SRC/tests/lib/sshd.sh"
if sshd_setup && sshd_start; then
	trap 'sshd_stop; stop_all' EXIT
	config
	expect_exit "resolve --on a host over SSH" 0 "$MOO" resolve --offline --accept-new-host-key \
		--on "root@127.0.0.1:$SSHD_PORT" -o "$T/remote.lock" "$T/proj"
	got=$(lockfield "$T/remote.lock" 'd["host"]["name"], d["host"]["facts"]["arch"], d["host"]["facts"]["host_key"]["fingerprint"][:7]')
	contains "the lock holds that host's probed facts" "$got" "root@127.0.0.1:$SSHD_PORT $(uname -m) SHA256:"
else
	skip "resolve --on a host over SSH" "no sshd (apt-get install openssh-server)"
	skip "the lock holds that host's probed facts" "no sshd"
fi

done_testing
