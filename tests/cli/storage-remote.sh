#!/bin/sh
# Storage and interruptions over SSH (issue 13: 4, 5, 6), against a real sshd on loopback:
# a result that cannot be downloaded into a full MOO_HOME, a sparse result, a host whose
# disk fills, uploads interrupted and killed, 'logs -n' of a long log.
. "$MOO_SRC/tests/cli/lib.sh"
. "$MOO_SRC/tests/lib/sshd.sh"
export MOO_PYTHON=/usr/bin/python3
EX=$MOO_SRC/examples/sklearn-diabetes

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP not root: the test mounts tmpfs disks"
	exit 0
fi
if ! sshd_setup || ! sshd_start; then
	echo "1..0 # SKIP no sshd (apt-get install openssh-server)"
	exit 0
fi
cp "$SSHD_KH" "$MOO_KNOWN_HOSTS"
MNT=""
R=$T/remote # the job root on the host
cleanup_all() {
	kill_jobs "$R"/jobs/*/state
	for m in $MNT; do umount -l "$m" 2>/dev/null; done
	sshd_stop
	cleanup_dirs
}
trap cleanup_all EXIT
tmpfs() { mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1" && MNT="$1 $MNT"; }
project() {
	mkdir -p "$1"
	cat >"$1/train.py"
	printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\noutput_folder: training_result\n' >"$1/metadata.yaml"
}
mkdir -p "$R"
"$MOO" hosts add h1 --address 127.0.0.1 --port "$SSHD_PORT" --user root --root "$R" >/dev/null
plan 22

# ---- 4: a result that cannot be downloaded --------------------------------------------
project "$T/p-big" <<'PY'
import os
with open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "big.bin"), "wb") as f:
    f.write(os.urandom(30 << 20))
print("wrote 30 MiB")
PY
tmpfs "$T/smallhome" 20m
SH="env MOO_HOME=$T/smallhome"
expect_exit "run --on h1, a 30 MiB result into a 20 MiB MOO_HOME: not exit 0" 6 $SH "$MOO" run --on h1 "$T/p-big"
contains "... it says the result could not be downloaded" "$err" "its result could not be downloaded from 'h1'"
contains "... and why" "$err" "No space left on device"
id=$($SH "$MOO" ps -a --json | jq "d[0]['id']")
st=$($SH "$MOO" ps -a --json | jq "d[0]['status'], d[0]['result_path']")
[ "$st" = "succeeded
None" ] && ok "... the job's end is recorded, with no result" || not_ok "... end recorded, no result" "$st"
left=$(find "$T/smallhome/results" -name '*.moo-part' 2>/dev/null)
[ -z "$left" ] && ok "... no partial file left in MOO_HOME" || not_ok "... no partial file left" "$left"
mount -o remount,size=64m "$T/smallhome"
expect_exit "... fetch gets it once there is room" 0 $SH "$MOO" fetch "$id" -o "$T/got-big"
[ "$(stat -c %s "$T/got-big/big.bin" 2>/dev/null)" = 31457280 ] && ok "... whole" || not_ok "... whole" "$(ls -l "$T/got-big")"

# ---- 5: a sparse result stays sparse -------------------------------------------------
project "$T/p-sparse" <<'PY'
import os
with open(os.path.join(os.environ["MOO_OUTPUT_DIR"], "sparse.bin"), "wb") as f:
    f.write(b"head")
    f.truncate(200 << 20)
    f.seek(100 << 20)
    f.write(b"middle")
PY
tmpfs "$T/home2" 20m
H2="env MOO_HOME=$T/home2"
expect_exit "run --on h1, a 200 MiB sparse result into a 20 MiB MOO_HOME" 0 $H2 "$MOO" run --on h1 --json "$T/p-sparse"
res=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['result_path']")
[ "$(stat -c %s "$res/sparse.bin" 2>/dev/null)" = 209715200 ] && ok "... its size kept" || not_ok "... size kept" "$(ls -l "$res")"
used=$(du -k "$res/sparse.bin" | cut -f1)
[ "${used:-99999}" -le 4096 ] && ok "... and its holes (${used} KiB on disk)" || not_ok "... holes kept" "${used} KiB"
id=$(printf '%s' "$out" | sed -n '/^{/,$p' | jq "d['id']")
tmpfs "$T/dest" 20m
expect_exit "fetch of it into a 20 MiB disk" 0 $H2 "$MOO" fetch "$id" -o "$T/dest/r"
used=$(du -k "$T/dest/r/sparse.bin" | cut -f1)
[ "${used:-99999}" -le 4096 ] && ok "... sparse (${used} KiB on disk)" || not_ok "... sparse" "${used} KiB"
