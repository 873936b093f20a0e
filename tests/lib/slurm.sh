# A private one-node Slurm cluster on loopback for tests (RECIPES.md): munged, slurmctld and
# slurmd (Debian's slurm-wlm 22.05), optionally slurmdbd on a private MariaDB. Source it after
# tests/cli/lib.sh:
#
#   slurm_setup [accounting] || skip_all "why"   # starts it all; sets the variables below
#   slurm_stop                                     # also run at exit
#
# SLURM_DIR      its files: slurm.conf, munge/, state/, spool/, the daemons' logs
# SLURM_CONF     exported: every Slurm command of the test talks to this cluster only
# SLURM_MAX_ARRAY  MaxArraySize (small, so a sweep's array must be split)
# The node has 2 CPUs and 1000 MB; JobAcctGatherType=jobacct_gather/linux with
# OverMemoryKill makes a job that passes its --mem end OUT_OF_MEMORY without cgroups.
# Daemons are stopped by PID when the test exits.

SLURM_MAX_ARRAY=${SLURM_MAX_ARRAY:-4}

slurm_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_stop() {
	for p in slurmd slurmctld slurmdbd; do
		[ -f "$SLURM_DIR/$p.pid" ] && kill "$(cat "$SLURM_DIR/$p.pid")" 2>/dev/null
	done
	if [ -f "$SLURM_DIR/mysql/mysqld.pid" ]; then
		kill "$(cat "$SLURM_DIR/mysql/mysqld.pid")" 2>/dev/null
	fi
	[ -f "$SLURM_DIR/munge/munged.pid" ] && kill "$(cat "$SLURM_DIR/munge/munged.pid")" 2>/dev/null
	sleep 0.2
	for p in slurmd slurmctld slurmdbd; do
		[ -f "$SLURM_DIR/$p.pid" ] && kill -9 "$(cat "$SLURM_DIR/$p.pid")" 2>/dev/null
		rm -f "$SLURM_DIR/$p.pid"
	done
	return 0
}

# slurm_wait SECONDS COMMAND...: until the command succeeds (0) or the time is up (1).
slurm_wait() {
	_end=$(($(date +%s) + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

_slurm_mariadb() {
	command -v mariadbd >/dev/null 2>&1 && command -v slurmdbd >/dev/null 2>&1 || return 1
	mkdir -p "$SLURM_DIR/mysql/data"
	mariadb-install-db --no-defaults --datadir="$SLURM_DIR/mysql/data" --user=root \
		--auth-root-authentication-method=normal >"$SLURM_DIR/mysql/install.log" 2>&1 || return 1
	setsid mariadbd --no-defaults --datadir="$SLURM_DIR/mysql/data" --user=root \
		--socket="$SLURM_DIR/mysql/sock" --skip-networking --pid-file="$SLURM_DIR/mysql/mysqld.pid" \
		</dev/null >"$SLURM_DIR/mysql/mysqld.log" 2>&1 &
	slurm_wait 30 mariadb --no-defaults -S "$SLURM_DIR/mysql/sock" -u root -e 'select 1' || return 1
	mariadb --no-defaults -S "$SLURM_DIR/mysql/sock" -u root \
		-e "create user 'slurm'@'localhost' identified by 'pw'; grant all on *.* to 'slurm'@'localhost'" || return 1
	SLURM_DBD_PORT=$(slurm_port)
	cat >"$SLURM_DIR/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge/munge.socket.2
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$SLURM_DBD_PORT
SlurmUser=root
PidFile=$SLURM_DIR/slurmdbd.pid
LogFile=$SLURM_DIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=pw
StorageLoc=slurm_acct_db
EOF
	chmod 600 "$SLURM_DIR/slurmdbd.conf"
	# slurmdbd reads slurmdbd.conf beside $SLURM_CONF; MySQL's client finds the socket by
	# its own variable
	SLURM_CONF=$SLURM_DIR/slurm.conf MYSQL_UNIX_PORT=$SLURM_DIR/mysql/sock setsid slurmdbd -D \
		</dev/null >"$SLURM_DIR/slurmdbd.out" 2>&1 &
	echo $! >"$SLURM_DIR/slurmdbd.pid"
	slurm_wait 30 sh -c "ss -ltn | grep -q ':$SLURM_DBD_PORT '" || return 1
}

# slurm_setup [accounting]: 1 when Slurm, munge (or, asked for, slurmdbd and MariaDB) are
# missing or do not start.
slurm_setup() {
	command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 &&
		command -v munged >/dev/null 2>&1 || return 1
	SLURM_DIR=$T/slurm
	mkdir -p "$SLURM_DIR/munge" "$SLURM_DIR/state" "$SLURM_DIR/spool"
	chmod 755 "$T" "$SLURM_DIR" "$SLURM_DIR/munge"
	trap 'slurm_stop; cleanup_dirs' EXIT
	mungekey --create --keyfile="$SLURM_DIR/munge/munge.key" --force >/dev/null 2>&1 || return 1
	chmod 400 "$SLURM_DIR/munge/munge.key"
	munged --socket="$SLURM_DIR/munge/munge.socket.2" --key-file="$SLURM_DIR/munge/munge.key" \
		--pid-file="$SLURM_DIR/munge/munged.pid" --log-file="$SLURM_DIR/munge/munged.log" \
		--seed-file="$SLURM_DIR/munge/munged.seed" || return 1
	_acct="AccountingStorageType=accounting_storage/none"
	if [ "${1:-}" = accounting ]; then
		_slurm_mariadb || return 1
		_acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$SLURM_DBD_PORT
AccountingStoragePass=$SLURM_DIR/munge/munge.socket.2"
	fi
	_host=$(hostname -s)
	cat >"$SLURM_DIR/slurm.conf" <<EOF
ClusterName=mootest
SlurmctldHost=$_host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SLURM_DIR/munge/munge.socket.2
SlurmctldPort=$(slurm_port)
SlurmdPort=$(slurm_port)
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/jobcomp.txt
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
$_acct
MinJobAge=300
MaxArraySize=$SLURM_MAX_ARRAY
KillWait=2
DefMemPerCPU=100
OverTimeLimit=0
InactiveLimit=0
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
MailProg=/bin/true
NodeName=$_host NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$_host Default=YES MaxTime=INFINITE State=UP

EOF
	export SLURM_CONF=$SLURM_DIR/slurm.conf
	setsid slurmctld -D -f "$SLURM_CONF" </dev/null >"$SLURM_DIR/ctld.out" 2>&1 &
	setsid slurmd -D -f "$SLURM_CONF" </dev/null >"$SLURM_DIR/slurmd.out" 2>&1 &
	slurm_wait 30 sh -c '[ "$(sinfo -h -p debug -o %T)" = idle ]' || return 1
	if [ "${1:-}" = accounting ]; then
		sacctmgr -i add cluster mootest >/dev/null 2>&1
		slurm_wait 20 sh -c 'sacct -n -X >/dev/null' || return 1
	fi
}
