#!/bin/sh
# A host of ~/.ssh/config reached through a jump host (ProxyJump): two hosts in network
# namespaces, the target linked only to the jump host's namespace, so it can be reached
# only through it. moo run --on TARGET trains the sklearn example end to end; the target's
# own host key is still checked against moo's known_hosts (a changed one is refused), and
# a jump host whose key is not known stops the connection (exit 4, with a hint naming the
# jump: libssh throws the jump client's standard error away).
#
# libssh 0.10 runs ProxyJump as a ProxyCommand, 'ssh -W [HOST]:PORT JUMP': OpenSSH's own
# client makes the jump leg, with its own configuration and known_hosts (~/.ssh of the
# user, never moo's). OpenSSH reads ~/.ssh from the password database, not $HOME, so this
# test puts a small 'ssh' first on PATH that runs /usr/bin/ssh with -F and a config of the
# test's own (key, known_hosts), as a user's ~/.ssh/config would give them.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
. "$MOO_SRC/tests/lib/netns.sh"
export MOO_PYTHON=/usr/bin/python3
EX=$MOO_SRC/examples/sklearn-diabetes

if ! sshd_setup || ! command -v ssh >/dev/null 2>&1; then
	echo "1..0 # SKIP no sshd or ssh (apt-get install openssh-server openssh-client)"
	exit 0
fi
if ! netns_setup; then
	echo "1..0 # SKIP $NETNS_WHY"
	exit 0
fi
R=$T/remote
mkdir -p "$R" && chmod 777 "$R"
# The job root of both hosts (they share this machine's file system): the sessions' MOO_ROOT.
echo "SetEnv MOO_ROOT=$R" >>"$SSHD_DIR/sshd_config"
if ! netns_host J || ! netns_host_behind X J; then
	echo "1..0 # SKIP cannot set up a jump host and a host behind it"
	exit 0
fi
plan 16

cleanup_jobs() { kill_jobs "$R"/jobs/*/state; }
trap 'cleanup_jobs; netns_cleanup; sshd_stop; cleanup_dirs' EXIT

# The jump leg's OpenSSH client: the test's key and a known_hosts holding the jump host.
mkdir -p "$T/bin"
cat >"$T/jump_config" <<EOF
Host *
	IdentityFile $SSHD_KEY
	IdentitiesOnly yes
	UserKnownHostsFile $T/jump_known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	ConnectTimeout 5
EOF
printf '#!/bin/sh\nexec /usr/bin/ssh -F %s "$@"\n' "$T/jump_config" >"$T/bin/ssh"
chmod 755 "$T/bin/ssh"
export PATH="$T/bin:$PATH"
echo "$NETNS_KH_J" >"$T/jump_known_hosts"

# moo's side: ~/.ssh/config names the target and its jump host; moo's known_hosts has the
# target's key only.
printf 'Host target\n\tHostName %s\n\tUser root\n\tProxyJump root@%s\n' \
	"$NETNS_ADDR_X" "$NETNS_ADDR_J" >>"$MOO_SSH_CONFIG"
echo "$NETNS_KH_X" >"$MOO_KNOWN_HOSTS"

expect_exit "the target cannot be reached directly (exit 4)" 4 "$MOO" hosts check "root@$NETNS_ADDR_X"
expect_exit "hosts check target: reached through the jump host" 0 "$MOO" hosts check --json target
fp=$(printf '%s' "$out" | jq "d['host_key']['fingerprint']")
[ "$fp" = "$(ssh-keygen -lf "$SSHD_DIR/ns-X/host_key.pub" | cut -d' ' -f2)" ] &&
	ok "... the key checked is the target's own" || not_ok "... the key checked is the target's own" "$fp"
jump_side=${NETNS_ADDR_X%.2}.1
grep -q "Accepted publickey for root from $jump_side " "$SSHD_DIR/ns-X/sshd.log" &&
	ok "... the target's sshd saw the login come from the jump host ($jump_side)" ||
	not_ok "... the login came from the jump host" "$(cat "$SSHD_DIR/ns-X/sshd.log")"

expect_exit "run --on target: the sklearn example trains through the jump host" 0 "$MOO" run --on target --json "$EX"
contains "... its log came back (on stderr with --json)" "$err" "r2"
j=$(printf '%s' "$out" | sed -n '/^{/,$p')
[ "$(printf '%s' "$j" | jq "d['status'], d['host']")" = "succeeded
target" ] && ok "... status succeeded on host 'target'" || not_ok "... status succeeded" "$j"
res=$(printf '%s' "$j" | jq "d['result_path']")
[ -s "$res/model.pkl" ] && ok "... the result was pulled here and checked" || not_ok "... the result was pulled" "$res"
id=$(printf '%s' "$j" | jq "d['id']")
expect_exit "logs of that job, through the jump host again" 0 "$MOO" logs "$id"
[ "$out" = "$(cat "$R/jobs/$id/process.log")" ] && ok "... the whole log" || not_ok "... the whole log" "$out"

# ---- the target's key changed: refused, though the jump host is fine ----------------------
kh_before=$(sha256sum <"$MOO_KNOWN_HOSTS")
netns_new_host_key X
expect_exit "the target's key changed: run refused (exit 4)" 4 "$MOO" run --on target -d "$EX"
contains "... saying the key changed" "$err" "has changed"
expect_exit "... even with --accept-new-host-key" 4 "$MOO" hosts check --accept-new-host-key target
[ "$(sha256sum <"$MOO_KNOWN_HOSTS")" = "$kh_before" ] && ok "... moo's known_hosts unchanged" ||
	not_ok "... moo's known_hosts unchanged" "$(cat "$MOO_KNOWN_HOSTS")"

# ---- the jump host's key unknown to the jump leg: no connection ------------------------------
echo "$NETNS_KH_X" >"$MOO_KNOWN_HOSTS"
: >"$T/jump_known_hosts"
expect_exit "the jump host's key unknown: refused (exit 4)" 4 "$MOO" hosts check target
contains "... a hint names the jump command to run by hand" "$err" "hint: the host is reached through the proxy command \"exec ssh -l root -W '[$NETNS_ADDR_X]:22' $NETNS_ADDR_J\""
done_testing
