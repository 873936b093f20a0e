# Hosts in network namespaces for tests (RECIPES.md "Several hosts"). Source it after
# tests/cli/lib.sh and tests/lib/sshd.sh:
#
#   netns_setup || { echo "1..0 # SKIP $NETNS_WHY"; exit 0; }
#   netns_host A            # a namespace with its own address and its own sshd
#   netns_host_behind B A   # host B, linked to host A only: reachable only through A
#   netns_cut A / netns_restore A / netns_rate A RATE / netns_new_host_key A
#
# Each host X gets a namespace, a veth pair (this side up, with an address), an sshd on
# port 22 of the namespace's address with a host key of its own, and these variables:
# NETNS_ADDR_X (its address), NETNS_KH_X (a known_hosts line for its current key).
# The client key, ssh config and MOO_KNOWN_HOSTS are sshd.sh's (sshd_setup). Namespaces,
# links and daemons are this test's alone (random names and a random 10.x.y.0/24 each) and
# are removed in the EXIT trap, whatever happened.

NETNS_ID=
NETNS_HOSTS=
NETNS_ROUTES=

# netns_setup: 0 when this process may create namespaces; else NETNS_WHY says why not.
netns_setup() {
	if [ "$(id -u)" != 0 ]; then
		NETNS_WHY="network namespaces need root (CAP_NET_ADMIN)"
		return 1
	fi
	if ! command -v ip >/dev/null 2>&1; then
		NETNS_WHY="no 'ip' command (apt-get install iproute2)"
		return 1
	fi
	NETNS_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	if ! ip netns add "moo$NETNS_ID-probe" 2>/dev/null; then
		NETNS_WHY="cannot create a network namespace here (no CAP_NET_ADMIN?)"
		return 1
	fi
	ip netns del "moo$NETNS_ID-probe"
	trap 'netns_cleanup; sshd_stop; cleanup_dirs' EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	return 0
}

# A free 10.x.y.0/24 that no interface here uses.
netns_subnet() {
	_i=0
	while [ $_i -lt 50 ]; do
		_s="10.$(($(od -An -N1 -tu1 /dev/urandom) % 50 + 150)).$(($(od -An -N1 -tu1 /dev/urandom) % 250 + 1))"
		ip -4 addr | grep -q " $_s\." || { echo "$_s"; return 0; }
		_i=$((_i + 1))
	done
	return 1
}

# netns_host X: creates host X and starts its sshd.
netns_host() {
	_ns="moo$NETNS_ID$1"
	_dev="mn$NETNS_ID$1"
	_net=$(netns_subnet) || return 1
	ip netns add "$_ns" || return 1
	NETNS_HOSTS="$NETNS_HOSTS $1"
	ip link add "${_dev}0" type veth peer name "${_dev}1" || return 1
	ip link set "${_dev}1" netns "$_ns" || return 1
	ip addr add "$_net.1/24" dev "${_dev}0" && ip link set "${_dev}0" up || return 1
	ip -n "$_ns" addr add "$_net.2/24" dev "${_dev}1" || return 1
	ip -n "$_ns" link set "${_dev}1" up && ip -n "$_ns" link set lo up || return 1
	netns_sshd_setup "$1" "$_net.2"
}

# netns_host_behind X Y: creates host X whose one link goes to host Y's namespace (Y's side
# gets .1, X's .2), and starts its sshd. From here X can be reached only through Y, and a
# route marks X's subnet unreachable so that a direct try fails at once (no time-out).
netns_host_behind() {
	_ns="moo$NETNS_ID$1"
	_via="moo$NETNS_ID$2"
	_dev="mn$NETNS_ID$1"
	_net=$(netns_subnet) || return 1
	ip netns add "$_ns" || return 1
	NETNS_HOSTS="$NETNS_HOSTS $1"
	ip -n "$_via" link add "${_dev}0" type veth peer name "${_dev}1" || return 1
	ip -n "$_via" link set "${_dev}1" netns "$_ns" || return 1
	ip -n "$_via" addr add "$_net.1/24" dev "${_dev}0" && ip -n "$_via" link set "${_dev}0" up || return 1
	ip -n "$_ns" addr add "$_net.2/24" dev "${_dev}1" || return 1
	ip -n "$_ns" link set "${_dev}1" up && ip -n "$_ns" link set lo up || return 1
	ip route add unreachable "$_net.0/24" || return 1
	NETNS_ROUTES="$NETNS_ROUTES $_net.0/24"
	netns_sshd_setup "$1" "$_net.2"
}

# netns_sshd_setup X ADDRESS: host X's address, host key, sshd_config and known_hosts line;
# then starts its sshd.
netns_sshd_setup() {
	eval "NETNS_ADDR_$1=$2"
	_d=$SSHD_DIR/ns-$1
	mkdir -p "$_d"
	ssh-keygen -q -t ed25519 -N '' -f "$_d/host_key" || return 1
	sed -e "s|^ListenAddress .*|ListenAddress $2|" -e "s|^Port .*|Port 22|" \
		-e "s|^HostKey .*|HostKey $_d/host_key|" -e "s|^PidFile .*|PidFile $_d/sshd.pid|" \
		"$SSHD_DIR/sshd_config" >"$_d/sshd_config"
	netns_write_kh "$1"
	netns_sshd_start "$1"
}

netns_write_kh() {
	eval "_a=\$NETNS_ADDR_$1"
	eval "NETNS_KH_$1=\"$_a \$(cut -d' ' -f1,2 '$SSHD_DIR/ns-$1/host_key.pub')\""
}

netns_sshd_start() {
	_d=$SSHD_DIR/ns-$1
	eval "_a=\$NETNS_ADDR_$1"
	mkdir -p /run/sshd
	ip netns exec "moo$NETNS_ID$1" "$SSHD" -f "$_d/sshd_config" -E "$_d/sshd.log" || return 1
	_i=0
	while [ $_i -lt 100 ]; do
		ip netns exec "moo$NETNS_ID$1" /usr/bin/python3 -c \
			"import socket; socket.create_connection(('$_a', 22), 1)" 2>/dev/null && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

netns_sshd_stop() {
	_f=$SSHD_DIR/ns-$1/sshd.pid
	[ -f "$_f" ] || return 0
	_p=$(cat "$_f")
	kill "$_p" 2>/dev/null
	_i=0
	while [ $_i -lt 100 ] && kill -0 "$_p" 2>/dev/null; do sleep 0.02; _i=$((_i + 1)); done
	rm -f "$_f"
}

# netns_new_host_key X: the host was reinstalled: a new key, sshd restarted with it.
netns_new_host_key() {
	netns_sshd_stop "$1"
	rm -f "$SSHD_DIR/ns-$1/host_key" "$SSHD_DIR/ns-$1/host_key.pub"
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/ns-$1/host_key" && netns_write_kh "$1" &&
		netns_sshd_start "$1"
}

# netns_cut X / netns_restore X: the link to X goes down (packets dropped, no reset) / up.
netns_cut() { ip link set "mn$NETNS_ID${1}0" down; }
netns_restore() { ip link set "mn$NETNS_ID${1}0" up; }

# netns_rate X RATE: what X sends is limited to RATE (tc's units: 80mbit); "" lifts it.
netns_rate() {
	ip netns exec "moo$NETNS_ID$1" tc qdisc del dev "mn$NETNS_ID${1}1" root 2>/dev/null
	[ -z "$2" ] || ip netns exec "moo$NETNS_ID$1" tc qdisc add dev "mn$NETNS_ID${1}1" root \
		tbf rate "$2" burst 64kb latency 400ms
}

# netns_sessions_kill X: ends the sshd sessions of X (a connection reset, not a cut).
netns_sessions_kill() {
	_f=$SSHD_DIR/ns-$1/sshd.pid
	[ -f "$_f" ] || return 0
	for _c in $(ps -o pid= --ppid "$(cat "$_f")"); do kill -KILL "$_c" 2>/dev/null; done
}

netns_cleanup() {
	for _h in $NETNS_HOSTS; do
		netns_sessions_kill "$_h"
		netns_sshd_stop "$_h"
		ip link del "mn$NETNS_ID${_h}0" 2>/dev/null
		ip netns del "moo$NETNS_ID$_h" 2>/dev/null
	done
	for _r in $NETNS_ROUTES; do
		ip route del unreachable "$_r" 2>/dev/null
	done
	NETNS_HOSTS=
	NETNS_ROUTES=
}
