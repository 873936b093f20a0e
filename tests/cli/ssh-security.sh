#!/bin/sh
# Host keys and hostile values over a real OpenSSH sshd on loopback (tests/lib/sshd.sh):
# unknown, missing, changed and other-type keys; quoting of every value that reaches the
# remote sh, as root and as an unprivileged user; retries against a stopped sshd.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
TOOL=$MOO_BUILD/tests/cli/ssh-tool
if ! sshd_setup; then echo "1..0 # SKIP no sshd (apt-get install openssh-server)"; exit 0; fi
if ! sshd_start; then echo "1..0 # SKIP sshd does not start: $(cat "$SSHD_DIR/sshd.log")"; exit 0; fi
H=root@127.0.0.1:$SSHD_PORT
fp=$(ssh-keygen -l -E sha256 -f "$SSHD_DIR/host_key.pub" | cut -d' ' -f2)
plan 35

# --- unknown key, missing file, accepting ------------------------------------------------
expect_exit "unknown host key is refused with exit 4" 4 "$MOO" hosts check "$H"
contains "the refusal names the SHA256 fingerprint" "$err" "$fp"
contains "the refusal says how to accept it" "$err" "moo hosts trust"
export MOO_KNOWN_HOSTS="$T/nowhere/known_hosts"
expect_exit "a missing known_hosts file is refused, not skipped" 4 "$MOO" hosts check "$H"
contains "... as an unknown key" "$err" "unknown host key"
if [ -e "$MOO_KNOWN_HOSTS" ]; then not_ok "... and nothing is written"; else ok "... and nothing is written"; fi
expect_exit "--accept-new-host-key accepts it" 0 "$MOO" hosts check --accept-new-host-key "$H"
if grep -q "$(cut -d' ' -f2 "$SSHD_DIR/host_key.pub")" "$MOO_KNOWN_HOSTS" 2>/dev/null; then
	ok "... and appends it to known_hosts (folder created)"
else not_ok "... and appends it to known_hosts (folder created)" "$(cat "$MOO_KNOWN_HOSTS" 2>&1)"; fi
expect_exit "the next connection needs no flag" 0 "$MOO" hosts check "$H"

# --- a changed key and a key of another type are always refused -------------------------
sshd_stop
sshd_new_host_key
sshd_start
before=$(sha256sum <"$MOO_KNOWN_HOSTS")
expect_exit "a changed host key is refused" 4 "$MOO" hosts check "$H"
contains "... saying it changed" "$err" "has changed"
expect_exit "... even with --accept-new-host-key" 4 "$MOO" hosts check --accept-new-host-key "$H"
expect_exit "... and by 'moo hosts trust'" 4 "$MOO" hosts trust "$H"
if [ "$before" = "$(sha256sum <"$MOO_KNOWN_HOSTS")" ]; then ok "known_hosts is left as it was"; else not_ok "known_hosts is left as it was"; fi
ssh-keygen -q -t ecdsa -N '' -f "$T/other_key"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/other_key.pub")" >"$T/kh_other"
MOO_KNOWN_HOSTS=$T/kh_other expect_exit "a key of another type is refused" 4 "$MOO" hosts check "$H"
contains "... saying so" "$err" "another type"
MOO_KNOWN_HOSTS=$T/kh_other expect_exit "... even with --accept-new-host-key" 4 "$MOO" hosts check --accept-new-host-key "$H"
export MOO_KNOWN_HOSTS=$SSHD_KH
expect_exit "the current key in known_hosts is accepted" 0 "$MOO" hosts check "$H"

# --- hostile values in paths and arguments -------------------------------------------------
sshd_test_user || true
nl='
'
hostile_round() { # USER BASE
	u=$1 base=$2 host=$1@127.0.0.1:$SSHD_PORT bad= n=0
	set --
	for name in "it's" 'a;b' '$(touch MARKER)' '`touch MARKER`' "new${nl}line" '-lead' 'sp ace' \
		"x'; touch MARKER; '" '$HOME' '\"q\"'; do
		p=$base/$name
		printf '%s' "$name" >"$base.src-$n"
		set -- "$@" mkdir "$p/sub" +++ write "$p/f" "$name" +++ readcheck "$p/f" "$name" +++ \
			exists "$p/f" +++ put "$base.src-$n" "$p/put" +++
		n=$((n + 1))
	done
	"$TOOL" "$host" "$@" root 2>>"$T/tool.err" >/dev/null || bad="$bad tool-failed"
	n=0
	for name in "it's" 'a;b' '$(touch MARKER)' '`touch MARKER`' "new${nl}line" '-lead' 'sp ace' \
		"x'; touch MARKER; '" '$HOME' '\"q\"'; do
		p=$base/$name
		[ -d "$p/sub" ] || bad="$bad mkdir-result[$name]"
		[ "$(cat "$p/f" 2>/dev/null)" = "$name" ] || bad="$bad write-result[$name]"
		cmp -s "$base.src-$n" "$p/put" || bad="$bad put-result[$name]"
		n=$((n + 1))
	done
	# a relative path that starts with '-': lands in the user's home, byte for byte
	rel="-moo-test-$$ x"
	"$TOOL" "$host" mkdir "$rel" 2>>"$T/tool.err" || bad="$bad mkdir[$rel]"
	h=$(getent passwd "$u" | cut -d: -f6)
	[ -d "$h/$rel" ] || bad="$bad mkdir-result[$rel]"
	rm -rf "$h/$rel"
	for m in "$base/MARKER" "$h/MARKER" "$T/MARKER"; do [ -e "$m" ] && bad="$bad MARKER-at-$m"; done
	echo "$bad"
}
mkdir -p "$T/hr"
bad=$(hostile_round root "$T/hr")
if [ -z "$bad" ]; then ok "hostile names survive mkdir/write/read/exists/put as root, no MARKER"
else not_ok "hostile names survive mkdir/write/read/exists/put as root, no MARKER" "$bad $(cat "$T/tool.err")"; fi
if id moouser >/dev/null 2>&1; then
	mkdir -p "$T/hu" && chown moouser "$T/hu"
	bad=$(hostile_round moouser "$T/hu")
	if [ -z "$bad" ]; then ok "... and as an unprivileged user"
	else not_ok "... and as an unprivileged user" "$bad $(cat "$T/tool.err")"; fi
	if [ "$(stat -c %U "$T/hu/a;b/f")" = moouser ]; then ok "... the files belong to that user"; else not_ok "... the files belong to that user"; fi
else
	skip "... and as an unprivileged user" "no test user (not root)"
	skip "... the files belong to that user" "no test user (not root)"
fi
out=$("$TOOL" "$H" exec 'printf "%s|" "$0" 1; exit 7' 2>"$T/e")
contains "exec returns the command's exit status" "$(cat "$T/e")" "status 7"
out=$("$TOOL" "$H" exec 'echo out; echo err >&2; (exit 3)' 2>"$T/e")
contains "exec keeps stdout" "$out" "out"
contains "... and stderr apart" "$(cat "$T/e")" "err"
out=$("$TOOL" "$H" exec 'if' 2>"$T/e")
contains "a syntax error ends the command, not the shell" "$(cat "$T/e")" "status 2"
out=$("$TOOL" "$H" exec 'cat; echo after' 2>&1)
contains "a command reading stdin gets /dev/null, not moo's next command" "$out" "after"
out=$("$TOOL" "$H" read "$T/hr/nothing-here" 0 10 2>&1); rc=$?
if [ $rc = 3 ]; then ok "read_file of a missing file is not-found"; else not_ok "read_file of a missing file is not-found" "$rc $out"; fi
printf 'abcdefghij' >"$T/hr/ten"
out=$("$TOOL" "$H" read "$T/hr/ten" 3 4)
if [ "$out" = defg ]; then ok "read_file from an offset, at most max bytes"; else not_ok "read_file from an offset, at most max bytes" "$out"; fi
out=$("$TOOL" "$H" put "$T/hr/ten" "$T/hr/ten" 2>&1); rc=$?
if [ $rc != 0 ]; then ok "put refuses an existing destination"; else not_ok "put refuses an existing destination"; fi
ls "$T/hr" | grep -q moo-tmp && not_ok "no temporary is left behind" "$(ls "$T/hr")" || ok "no temporary is left behind"

# --- unreachable: retried, then exit 4 -------------------------------------------------------
sshd_stop
start=$(date +%s.%N)
expect_exit "a stopped sshd: exit 4" 4 "$MOO" hosts check "$H"
end=$(date +%s.%N)
contains "... 'host unreachable'" "$err" "host unreachable"
contains "... after 4 tries" "$err" "4 tries"
if /usr/bin/python3 -c "import sys; sys.exit(0 if $end - $start >= 1.6 else 1)"; then ok "... with backoff between them (>= 1.7 s)"; else not_ok "... with backoff between them" "$end - $start"; fi
"$TOOL" "$H" exec true 2>"$T/e"; rc=$?
if [ $rc = 4 ]; then ok "the transport reports it too (exit 4)"; else not_ok "the transport reports it too (exit 4)" "$rc $(cat "$T/e")"; fi
done_testing
