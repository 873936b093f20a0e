#!/bin/sh
# moo hosts: the inventory in config.yaml, name resolution (inventory, ssh config,
# user@host:port), trust and check against a real sshd, and put/collect round trips.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
TOOL=$MOO_BUILD/tests/cli/ssh-tool
CFG=$XDG_CONFIG_HOME/moo/config.yaml
plan 55

expect_exit "ls with no config.yaml" 0 "$MOO" hosts ls
contains "... says how to add one" "$out" "moo hosts add"
expect_exit "add needs --address" 2 "$MOO" hosts add h1
expect_exit "a bad host name is a usage error" 2 "$MOO" hosts add 'a/b' --address 127.0.0.1
for a in 'a;b' '-oProxyCommand=touch x' 'h$(id)' "h'q"; do
	expect_exit "address '$a' is refused (exit 2)" 2 "$MOO" hosts add hx --address "$a"
done
contains "... naming it, with an example" "$err" "invalid address"
[ ! -e "$XDG_CONFIG_HOME/moo/config.yaml" ] || ! grep -q hx "$XDG_CONFIG_HOME/moo/config.yaml" &&
	ok "... and nothing is saved" || not_ok "... nothing is saved" "$(cat "$XDG_CONFIG_HOME/moo/config.yaml")"
expect_exit "an IPv6 address with a zone is taken" 0 "$MOO" hosts add h6 --address '[fe80::1%lo]'
expect_exit "... and removed" 0 "$MOO" hosts rm h6
expect_exit "an option of another subcommand is refused" 2 "$MOO" hosts ls --address x
printf 'hosts:\n  h1:\n    adress: 127.0.0.1\n    port: 99999\n' >"$T/bad.yaml"
mkdir -p "$XDG_CONFIG_HOME/moo" && cp "$T/bad.yaml" "$CFG"
expect_exit "an invalid config.yaml: exit 2" 2 "$MOO" hosts ls
contains "... naming config.yaml:line:col and the nearest key" "$err" "config.yaml:3:5: error: unknown key 'adress' in 'hosts.h1'"
contains "... with a hint" "$err" "did you mean 'address'?"
contains "... and every problem" "$err" "config.yaml:4:11: error: 'hosts.h1.port' is out of range"
rm -f "$CFG"
expect_exit "add with a key file that is not there: exit 2" 2 \
	"$MOO" hosts add hk --address 127.0.0.1 --key "$T/no-such-key"
contains "... naming the key and why" "$err" "the key '$T/no-such-key' cannot be read"
[ -f "$CFG" ] && grep -q hk "$CFG" && not_ok "... and nothing is added" "$(cat "$CFG")" ||
	ok "... and nothing is added"

if ! sshd_setup || ! sshd_start; then
	for i in $(seq 13 44); do skip "sshd test $i" "no sshd (apt-get install openssh-server)"; done
	exit 0
fi
expect_exit "add a host" 0 "$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root \
	--key "$SSHD_KEY" --known-hosts "$T/kh1" --root "$T/root1"
expect_exit "add it again: exit 2" 2 "$MOO" hosts add h1 --address 127.0.0.1
contains "... 'exists already'" "$err" "exists already"
expect_exit "ls lists it" 0 "$MOO" hosts ls
contains "... with its address" "$out" "127.0.0.1"
expect_exit "ls --json" 0 "$MOO" hosts ls --json
if printf '%s' "$out" | $PY -c "import json,sys; h=json.load(sys.stdin)[0]; assert h['name']=='h1' and h['port']==$SSHD_PORT and h['root']=='$T/root1'"; then
	ok "... gives every field"; else not_ok "... gives every field" "$out"; fi
expect_exit "check h1: its key is unknown (exit 4)" 4 "$MOO" hosts check h1
expect_exit "trust h1 records the key" 0 "$MOO" hosts trust h1
contains "... in the entry's known_hosts" "$out" "added to $T/kh1"
expect_exit "check h1 --json" 0 "$MOO" hosts check --json h1
if printf '%s' "$out" | $PY -c "
import json, os, sys
f = json.load(sys.stdin)
assert f['cpus'] == os.cpu_count(), f['cpus']
assert f['arch'] == os.uname().machine
assert f['disk']['root'] == '$T/root1' and f['disk']['free'] > 0
assert f['memory']['total'] > 0 and f['host_key']['fingerprint'].startswith('SHA256:')
assert any(p['path'] == '/usr/bin/python3' for p in f['pythons'])
"; then ok "... reports this machine's CPUs, arch, disk, memory, key and Pythons"; else not_ok "... reports this machine's facts" "$out"; fi
hostile="$T/r'; touch $T/MARKER; \$(touch $T/MARKER) \`touch $T/MARKER\`
-x y"
expect_exit "check with a hostile --root" 0 "$MOO" hosts check --json --root "$hostile" h1
if printf '%s' "$out" | $PY -c "import json,sys; assert json.load(sys.stdin)['disk']['root'] == sys.argv[1]" "$hostile" && [ ! -e "$T/MARKER" ]; then
	ok "... reaches the probe byte for byte, runs nothing"; else not_ok "... reaches the probe byte for byte" "$out"; fi

# the other ways to name a host
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
expect_exit "user@host:port (key from the ssh config)" 0 "$MOO" hosts check "root@127.0.0.1:$SSHD_PORT"
if sshd_test_user; then
	printf 'Host moo-alias\n\tHostName 127.0.0.1\n\tPort %s\n\tUser moouser\n' "$SSHD_PORT" >>"$MOO_SSH_CONFIG"
	expect_exit "a Host of ~/.ssh/config, as an unprivileged user" 0 "$MOO" hosts check --json moo-alias
	contains "... logs in as that user" "$out" "moouser@127.0.0.1:$SSHD_PORT"
else
	skip "a Host of ~/.ssh/config, as an unprivileged user" "no test user"
	skip "... logs in as that user" "no test user"
fi
expect_exit "a name nothing knows: exit 2" 2 "$MOO" hosts check no-such-host-moo
contains "... with a hint" "$err" "moo hosts add no-such-host-moo"

# what check saw is recorded in the store; ls shows it
expect_exit "ls after the checks" 0 "$MOO" hosts ls
if printf '%s\n' "$out" | grep "^h1 " | grep -q "$(uname -m), $($PY -c 'import os; print(os.cpu_count())') cpus, .* checked [0-9]* s ago" &&
	printf '%s\n' "$out" | grep -q "^root@127.0.0.1:$SSHD_PORT "; then
	ok "... shows what each host was last seen as, the inventory's and the others"
else not_ok "... shows what each host was last seen as" "$out"; fi
expect_exit "ls --json after the checks" 0 "$MOO" hosts ls --json
if printf '%s' "$out" | $PY -c "
import datetime, json, os, sys, time
hs = {h['name']: h for h in json.load(sys.stdin)}
h = hs['h1']
checked = datetime.datetime.fromisoformat(h['checked'].replace('Z', '+00:00')).timestamp()
assert h['inventory'] and abs(time.time() - checked) < 120, h  # RFC 3339 UTC, moo(1)
assert h['facts']['cpus'] == os.cpu_count() and h['facts']['arch'] == os.uname().machine
assert h['facts']['disk']['root'] == sys.argv[1]           # the last check's (hostile) root
assert h['facts']['host_key']['fingerprint'].startswith('SHA256:')
o = hs['root@127.0.0.1:$SSHD_PORT']
assert not o['inventory'] and o['facts']['cpus'] == os.cpu_count()
assert 'no-such-host-moo' not in hs                         # a failed check records nothing
" "$hostile"; then ok "... gives the facts, the time checked, and nothing for a failed check"
else not_ok "... gives the facts and the time checked" "$out"; fi

# put and collect: a tree with odd names, checked by sha256, as root and as moouser
mkdir -p "$T/tree/sub dir/-dash" "$T/tree/empty"
printf 'x' >"$T/tree/it's"
printf 'y' >"$T/tree/sub dir/-dash/\$(touch MARKER)"
head -c 3000000 /dev/urandom >"$T/tree/sub dir/big.bin"
: >"$T/tree/zero"
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }
roundtrip() { # USER REMOTE-BASE
	"$TOOL" "$1@127.0.0.1:$SSHD_PORT" mkdir "$2" +++ put "$T/tree" "$2/up" +++ \
		collect "$2/up" "$T/cache-$1" >/dev/null 2>"$T/rt.err" &&
		[ "$(sums "$T/tree")" = "$(sums "$T/cache-$1/up")" ] && [ -d "$T/cache-$1/up/empty" ]
}
if roundtrip root "$T/rt-root"; then ok "put/collect round trip of odd names (sha256), as root"; else not_ok "put/collect round trip, as root" "$(cat "$T/rt.err")"; fi
if id moouser >/dev/null 2>&1; then
	mkdir -p "$T/rt-u" && chown moouser "$T/rt-u"
	if roundtrip moouser "$T/rt-u/x"; then ok "... and as an unprivileged user"; else not_ok "... and as an unprivileged user" "$(cat "$T/rt.err")"; fi
else skip "... and as an unprivileged user" "no test user"; fi
# an interrupted download resumes from the bytes already there: seed the part file with
# bytes of our own; they are kept, only the rest is fetched
rm -rf "$T/cache-root"
mkdir -p "$T/cache-root/up/sub dir"
head -c 1000000 /dev/zero >"$T/cache-root/up/sub dir/big.bin.moo-part"
"$TOOL" "root@127.0.0.1:$SSHD_PORT" collect "$T/rt-root/up" "$T/cache-root" >/dev/null 2>"$T/rt.err"
f="$T/cache-root/up/sub dir/big.bin"
if [ "$(head -c 1000000 "$f" | tr -d '\0' | wc -c)" = 0 ] &&
	[ "$(tail -c +1000001 "$f" | sha256sum)" = "$(tail -c +1000001 "$T/tree/sub dir/big.bin" | sha256sum)" ] &&
	[ ! -e "$f.moo-part" ]; then
	ok "collect resumes a partial file from where it stopped"
else not_ok "collect resumes a partial file" "$(cat "$T/rt.err"; ls -la "$T/cache-root/up/sub dir")"; fi
expect_exit "rm h1" 0 "$MOO" hosts rm h1
expect_exit "rm h1 again: exit 2" 2 "$MOO" hosts rm h1
expect_exit "ls after rm" 0 "$MOO" hosts ls
if printf '%s\n' "$out" | grep -q "^h1 "; then not_ok "... no longer lists h1, nor what it was seen as" "$out"
else ok "... no longer lists h1, nor what it was seen as"; fi
expect_exit "rm of a host ls lists only as checked (user@address:port)" 0 "$MOO" hosts rm "root@127.0.0.1:$SSHD_PORT"
"$MOO" hosts ls >"$T/ls.out" 2>&1
if grep -q "^root@127.0.0.1:$SSHD_PORT " "$T/ls.out"; then not_ok "... forgets it" "$(cat "$T/ls.out")"
else ok "... forgets it"; fi
# a config.yaml with an anchor and an alias: read, but never rewritten into one that is not
mkdir -p "$T/acfg/moo" && printf 'hosts:\n  a1: &h\n    address: a1.example.org\nx-copy: *h\n' >"$T/acfg/moo/config.yaml"
cp "$T/acfg/moo/config.yaml" "$T/acfg.orig"
expect_exit "hosts add to a config.yaml with anchors and aliases: refused (exit 2)" 2 \
	env XDG_CONFIG_HOME="$T/acfg" "$MOO" hosts add b1 --address b1.example.org
contains "... saying why" "$err" "uses YAML anchors or aliases (&a, *a), which moo cannot keep"
if cmp -s "$T/acfg/moo/config.yaml" "$T/acfg.orig" && env XDG_CONFIG_HOME="$T/acfg" "$MOO" hosts ls >/dev/null 2>&1; then
	ok "... the file unchanged, and still read"
else not_ok "... the file unchanged" "$(cat "$T/acfg/moo/config.yaml")"; fi
done_testing
