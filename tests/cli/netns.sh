#!/bin/sh
# Two hosts in network namespaces, each with its own address and its own sshd: both
# checked and recorded; a changed host key on one is refused while the other still works;
# the link cut mid-download (the download fails with exit 4, then resumes where it stopped
# once the link is back) and mid-run (the job goes on, moo says the host is unreachable
# with exit 4 and does not mark the job failed, and logs -f ends with every line once and
# the job's exit status). A cut link drops packets without a reset, unlike a stopped sshd.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
. "$MOO_SRC/tests/lib/netns.sh"
export MOO_PYTHON=/usr/bin/python3
TOOL=${SSH_TOOL:-$(dirname "$MOO")/../tests/cli/ssh-tool}

if ! sshd_setup; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
if ! netns_setup; then
	echo "1..0 # SKIP $NETNS_WHY"
	exit 0
fi
if ! netns_host A || ! netns_host B; then
	echo "1..0 # SKIP cannot set up two namespaced hosts with sshd"
	exit 0
fi
plan 30
R=$T/remote
mkdir -p "$R/A" "$R/B"
printf '%s\n%s\n' "$NETNS_KH_A" "$NETNS_KH_B" >"$MOO_KNOWN_HOSTS"
"$MOO" hosts add hA --address "$NETNS_ADDR_A" --user root --root "$R/A" >/dev/null
"$MOO" hosts add hB --address "$NETNS_ADDR_B" --user root --root "$R/B" >/dev/null

cleanup_jobs() { kill_jobs "$R"/*/jobs/*/state; }
trap 'cleanup_jobs; netns_cleanup; sshd_stop; cleanup_dirs' EXIT

# ---- both hosts checked and recorded ------------------------------------------------------
expect_exit "check hA (in its own namespace)" 0 "$MOO" hosts check --json hA
[ "$(printf '%s' "$out" | jq "d['host_key']['address'], d['disk']['root']")" = "root@$NETNS_ADDR_A:22
$R/A" ] && ok "... reached at its own address" || not_ok "... reached at its own address" "$out"
expect_exit "check hB" 0 "$MOO" hosts check --json hB
fpB=$(printf '%s' "$out" | jq "d['host_key']['fingerprint']")
[ "$fpB" = "$(ssh-keygen -lf "$SSHD_DIR/ns-B/host_key.pub" | cut -d' ' -f2)" ] &&
	ok "... with its own host key" || not_ok "... with its own host key" "$fpB"
expect_exit "ls --json" 0 "$MOO" hosts ls --json
[ "$(printf '%s' "$out" | jq "tuple(h['name'] + ' ' + str(h['facts'] is not None) for h in d)")" = "hA True
hB True" ] && ok "... both recorded" || not_ok "... both recorded" "$out"

# ---- a changed host key on hA ---------------------------------------------------------------
kh_before=$(sha256sum <"$MOO_KNOWN_HOSTS")
cp "$SSHD_DIR/ns-A/host_key" "$T/keyA" && cp "$SSHD_DIR/ns-A/host_key.pub" "$T/keyA.pub"
netns_new_host_key A
expect_exit "hA's key changed: check refused (exit 4)" 4 "$MOO" hosts check hA
contains "... saying the key changed" "$err" "has changed"
expect_exit "... even with --accept-new-host-key" 4 "$MOO" hosts check --accept-new-host-key hA
expect_exit "... and trust refuses it too" 4 "$MOO" hosts trust hA
[ "$(sha256sum <"$MOO_KNOWN_HOSTS")" = "$kh_before" ] && ok "... known_hosts unchanged" ||
	not_ok "... known_hosts unchanged" "$(cat "$MOO_KNOWN_HOSTS")"
expect_exit "... a job cannot start there (exit 4)" 4 "$MOO" run --on hA -d "$MOO_SRC/examples/sklearn-diabetes"
expect_exit "hB still works" 0 "$MOO" hosts check hB
netns_sshd_stop A
cp "$T/keyA" "$SSHD_DIR/ns-A/host_key" && cp "$T/keyA.pub" "$SSHD_DIR/ns-A/host_key.pub"
netns_sshd_start A
expect_exit "hA with its old key back works again" 0 "$MOO" hosts check hA

# ---- the link cut mid-download ---------------------------------------------------------------
mkdir -p "$R/B/out"
head -c 24000000 /dev/urandom >"$R/B/out/big.bin"
# ~5 MB/s, so the download takes ~5 s and can be cut halfway (tc's tbf)
if netns_rate B 40mbit; then
	tc_sent() { ip netns exec "moo${NETNS_ID}B" tc -s qdisc show dev "mn${NETNS_ID}B1" | sed -n 's/.*Sent \([0-9]*\) bytes.*/\1/p' | head -1; }
	part="$T/cache/out/big.bin.moo-part"
	t0=$(date +%s)
	"$TOOL" hB collect "$R/B/out" "$T/cache" >/dev/null 2>"$T/dl.err" &
	dp=$!
	_i=0
	while [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -lt 6000000 ] && [ $_i -lt 600 ]; do sleep 0.05; _i=$((_i + 1)); done
	netns_cut B
	wait "$dp"
	rc=$?
	t1=$(date +%s)
	have=$(stat -c %s "$part" 2>/dev/null || echo 0)
	[ "$rc" = 4 ] && ok "link cut mid-download: exit 4 after $((t1 - t0)) s" || not_ok "link cut mid-download: exit 4" "exit $rc: $(cat "$T/dl.err")"
	contains "... 'lost the connection' named" "$(cat "$T/dl.err")" "$NETNS_ADDR_B"
	[ "$have" -ge 6000000 ] && [ "$have" -lt 24000000 ] && [ ! -e "$T/cache/out/big.bin" ] &&
		ok "... the part kept ($have bytes), no file at the destination" || not_ok "... the part kept" "$have"
	expect_exit "while cut: a new connection fails fast with exit 4" 4 "$TOOL" hB root
	netns_restore B
	netns_rate B 40mbit # counters from zero: what the resumed download sends
	"$TOOL" hB collect "$R/B/out" "$T/cache" >/dev/null 2>"$T/dl2.err"
	rc=$?
	sent=$(tc_sent)
	[ "$rc" = 0 ] && cmp -s "$T/cache/out/big.bin" "$R/B/out/big.bin" && [ ! -e "$part" ] &&
		ok "link back: the download completes and matches byte for byte" || not_ok "link back: the download completes" "exit $rc: $(cat "$T/dl2.err")"
	[ -n "$sent" ] && [ "$sent" -lt $((24000000 - have + 2000000)) ] &&
		ok "... it resumed where it stopped (host sent $sent bytes for the $((24000000 - have)) missing)" ||
		not_ok "... it resumed where it stopped" "sent $sent, had $have"
	netns_rate B ""
else
	for t in "link cut mid-download: exit 4" "... 'lost the connection' named" "... the part kept" \
		"while cut: a new connection fails fast" "link back: the download completes" \
		"... it resumed where it stopped"; do
		skip "$t" "tc cannot limit the rate here (no sch_tbf)"
	done
fi

# ---- the link cut mid-run --------------------------------------------------------------------
mkdir -p "$T/p-lines"
cat >"$T/p-lines/train.py" <<'EOF'
import time
for i in range(1, 41):
    print("line %d" % i, flush=True)
    time.sleep(0.25)
EOF
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\n' >"$T/p-lines/metadata.yaml"
expect_exit "run -d on hB: a job printing 40 lines over 10 s" 0 "$MOO" run --on hB -d "$T/p-lines"
id=$out
: >"$T/l1" # before the follower starts: the loop below reads it at once
MOO_RECONNECT_S=60 "$MOO" logs -f "$id" >"$T/l1" 2>"$T/l1.err" &
fp=$!
_i=0
while [ "$(wc -l <"$T/l1")" -lt 3 ] && [ $_i -lt 400 ]; do sleep 0.05; _i=$((_i + 1)); done
netns_cut B
expect_exit "link cut: status says host unreachable (exit 4)" 4 "$MOO" status "$id"
contains "... with a hint" "$err" "hint:"
expect_exit "... ps --json still lists it" 0 "$MOO" ps --json
[ "$(printf '%s' "$out" | jq "[j['status'] for j in d if j['id'] == '$id']")" = "['running']" ] &&
	ok "... as running, not failed" || not_ok "... as running, not failed" "$out"
sleep 3
sup=$(sed -n 's/^pid=//p' "$R/B/jobs/$id/state")
[ -n "$sup" ] && kill -0 "$sup" 2>/dev/null && [ "$(wc -l <"$R/B/jobs/$id/process.log")" -gt "$(wc -l <"$T/l1")" ] &&
	ok "... the job goes on on the host meanwhile" || not_ok "... the job goes on" "$(cat "$R/B/jobs/$id/process.log")"
netns_restore B
wait "$fp"
rc=$?
[ "$rc" = 0 ] && ok "link back: logs -f ends with the job (exit 0)" || not_ok "link back: logs -f ends with the job" "exit $rc: $(cat "$T/l1.err")"
if cmp -s "$T/l1" "$R/B/jobs/$id/process.log" && [ "$(sort -u "$T/l1" | wc -l)" = 40 ]; then
	ok "... every line once, none lost or repeated"
else not_ok "... every line once" "$(cat "$T/l1")"; fi
expect_exit "... status --json: succeeded, exit code 0" 0 "$MOO" status --json "$id"
[ "$(printf '%s' "$out" | jq "d['status'], d['exit_code']")" = "succeeded
0" ] && ok "... the job's exit status arrived" || not_ok "... the job's exit status arrived" "$out"
done_testing
