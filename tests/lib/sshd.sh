# A private OpenSSH sshd on loopback for tests (RECIPES.md). Source it after tests/cli/lib.sh:
#
#   sshd_setup || { skip_all "why"; }   # keys, config, a free port; sets the variables below
#   sshd_start / sshd_stop / sshd_restart / sshd_new_host_key [TYPE]
#
# SSHD_DIR      its files: host key, client key, authorized_keys, sshd_config, sshd.log
# SSHD_PORT     the port it listens on at 127.0.0.1
# SSHD_KEY      the client's private key (no passphrase), accepted for every user
# SSHD_KH       a known_hosts file holding the current host key ([127.0.0.1]:PORT)
# MOO_SSH_CONFIG, MOO_KNOWN_HOSTS are exported: an ssh config that names SSHD_KEY for every
# host, and an empty known_hosts file, so no test reads the user's ~/.ssh.
# sshd is stopped by PID when the test exits.

SSHD=/usr/sbin/sshd

sshd_free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# sshd_setup [HOSTKEY_TYPE]: returns 1 when sshd or ssh-keygen is missing.
sshd_setup() {
	[ -x "$SSHD" ] && command -v ssh-keygen >/dev/null 2>&1 || return 1
	SSHD_DIR=$T/sshd
	mkdir -p "$SSHD_DIR" && chmod 755 "$T" "$SSHD_DIR"
	SSHD_PORT=$(sshd_free_port)
	ssh-keygen -q -t "${1:-ed25519}" -N '' -f "$SSHD_DIR/host_key" || return 1
	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/client_key" || return 1
	cp "$SSHD_DIR/client_key.pub" "$SSHD_DIR/authorized_keys"
	chmod 644 "$SSHD_DIR/authorized_keys"
	SSHD_KEY=$SSHD_DIR/client_key
	cat >"$SSHD_DIR/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SSHD_PORT
HostKey $SSHD_DIR/host_key
AuthorizedKeysFile $SSHD_DIR/authorized_keys
PidFile $SSHD_DIR/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
CONF
	printf 'Host *\n\tIdentityFile %s\n\tIdentitiesOnly yes\n' "$SSHD_KEY" >"$SSHD_DIR/ssh_config"
	export MOO_SSH_CONFIG="$SSHD_DIR/ssh_config" MOO_KNOWN_HOSTS="$SSHD_DIR/known_hosts"
	unset SSH_AUTH_SOCK
	: >"$MOO_KNOWN_HOSTS"
	sshd_write_kh
	trap 'sshd_stop; cleanup_dirs' EXIT
	return 0
}

# SSHD_KH: a known_hosts line for the current host key.
sshd_write_kh() {
	SSHD_KH=$SSHD_DIR/known_hosts.good
	echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$SSHD_DIR/host_key.pub")" >"$SSHD_KH"
}

sshd_start() {
	[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
	"$SSHD" -f "$SSHD_DIR/sshd_config" -E "$SSHD_DIR/sshd.log" || return 1
	# ready when the port answers
	_i=0
	while [ $_i -lt 100 ]; do
		/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $SSHD_PORT), 1)" \
			2>/dev/null && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

sshd_stop() {
	if [ -n "${SSHD_DIR:-}" ] && [ -f "$SSHD_DIR/sshd.pid" ]; then
		_pid=$(cat "$SSHD_DIR/sshd.pid")
		kill "$_pid" 2>/dev/null
		_i=0
		while [ $_i -lt 100 ] && kill -0 "$_pid" 2>/dev/null; do
			sleep 0.02
			_i=$((_i + 1))
		done
		rm -f "$SSHD_DIR/sshd.pid"
	fi
	return 0
}

sshd_restart() { sshd_stop && sshd_start; }

# sshd_cut: kills the sshd processes that hold this sshd's connections (a cut link), found
# by the port they are connected on: a session outlives its listener, and its parent is not
# always the listener that the pid file names.
sshd_cut() {
	for _c in $(ss -Htnp state established "( sport = :$SSHD_PORT )" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
		kill -KILL "$_c" 2>/dev/null
	done
}

# sshd_new_host_key [TYPE]: a new host key (the host "was reinstalled"); restart to use it.
sshd_new_host_key() {
	rm -f "$SSHD_DIR/host_key" "$SSHD_DIR/host_key.pub"
	ssh-keygen -q -t "${1:-ed25519}" -N '' -f "$SSHD_DIR/host_key" && sshd_write_kh
}

# sshd_test_user: an unprivileged user for logins (created when missing; needs root).
sshd_test_user() {
	SSHD_USER=moouser
	id "$SSHD_USER" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || return 1
	useradd -m "$SSHD_USER" >/dev/null 2>&1 && usermod -p '*' "$SSHD_USER"
}
