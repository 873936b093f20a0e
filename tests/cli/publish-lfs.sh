#!/bin/sh
# moo publish to repositories that route files to Git LFS (.gitattributes filter=lfs): moo
# writes the pointers itself and uploads the objects before it pushes the ref. Over http,
# the repository is served by the real `git http-backend` and its LFS objects by a small
# LFS server of this test's own (tests/cli/git-http.py: the batch API, "basic" transfer),
# because no LFS server is packaged in Debian 12 (`apt-cache search lfs`: git-lfs is a
# client only). Whatever moo pushed is read back by Debian's real git-lfs: git lfs
# ls-files, git lfs pull, git lfs pointer.
. "$MOO_SRC/tests/cli/job-lib.sh"
cd "$T" || exit 1
PY=/usr/bin/python3
export LSAN_OPTIONS="suppressions=$MOO_SRC/tests/cli/publish-lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export GIT_TERMINAL_PROMPT=0
mkdir -p "$XDG_CONFIG_HOME/git"
git config --file "$XDG_CONFIG_HOME/git/config" user.name "Ada Publisher"
git config --file "$XDG_CONFIG_HOME/git/config" user.email ada@example.com
git config --file "$XDG_CONFIG_HOME/git/config" init.defaultBranch main
git lfs install --skip-repo >/dev/null 2>&1 # the filters, in this test's own git config
jq() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
SPID=
stop_serve() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	SPID=
}
# served_sha REPO@TAG: the sha256 of weights.bin as 'moo serve REPO@TAG' loaded it.
served_sha() {
	rm -f "$T/serve.out"
	"$MOO" serve "$1" --port 0 --wait-ready >"$T/serve.out" 2>"$T/serve.err" &
	SPID=$!
	i=0
	until [ -s "$T/serve.out" ] || [ $i -gt 900 ] || ! kill -0 $SPID 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$T/serve.out" ] && "$MOO" predict "$(head -n1 "$T/serve.out")" -d '{}' | jq 'd["sha256"]'
	[ -s "$T/serve.out" ] || sed 's/^/# /' "$T/serve.err" >&2
	stop_serve
}

# lfsjob NAME VERSION SEED: a job whose result holds 3 MB of weights.bin (random from
# SEED), an empty empty.bin and a small model.txt.
lfsjob() {
	mkdir -p "$T/p-$1-$2"
	cat >"$T/p-$1-$2/train.py" <<EOT
import os, random
o = os.environ["MOO_OUTPUT_DIR"]
random.seed($3)
open(o + "/weights.bin", "wb").write(bytes(random.getrandbits(8) for _ in range(3000000)))
open(o + "/model.txt", "w").write("model $1 $2\n")
open(o + "/empty.bin", "wb").close()
print("moo:metric rmse=0.5")
EOT
	cat >"$T/p-$1-$2/predict.py" <<'EOT'
import hashlib, os
def load(model_dir):
    return hashlib.sha256(open(os.path.join(model_dir, "weights.bin"), "rb").read()).hexdigest()
def predict(model, request):
    return {"sha256": model}
EOT
	cat >"$T/p-$1-$2/metadata.yaml" <<EOT
framework:
  name: python
  version: "3"
  runtime: python3
model:
  name: $1
  version: "$2"
entry_point: train.py
output_folder: training_result
inference:
  entry_point: predict.py
EOT
	"$MOO" run -d "$T/p-$1-$2"
}

# seed REPO: a first commit with .gitattributes routing *.bin to LFS.
seed() {
	rm -rf "$T/seed" && git clone -q "$1" "$T/seed" 2>/dev/null &&
		printf '*.bin filter=lfs diff=lfs merge=lfs -text\n' >"$T/seed/.gitattributes" &&
		git -C "$T/seed" add .gitattributes && git -C "$T/seed" commit -qm "track *.bin with LFS" &&
		git -C "$T/seed" push -q origin HEAD:main 2>/dev/null
}

j1=$(lfsjob lfsmodel 1.0 1)
j2=$(lfsjob lfsmodel 2.0 1) # the same weights
j3=$(lfsjob lfsmodel 3.0 3) # other weights
for j in $j1 $j2 $j3; do
	wait_status "$j" succeeded 120 || not_ok "job $j succeeded"
done
w1="$MOO_ROOT/jobs/$j1/work/training_result/weights.bin"
w3="$MOO_ROOT/jobs/$j3/work/training_result/weights.bin"

# ---- http: git http-backend and the test's LFS server ------------------------------------
mkdir -p "$T/srv"
git init -q --bare "$T/srv/lfs.git"
$PY "$MOO_SRC/tests/cli/git-http.py" "$T/http.port" "$T/srv" alice 's3cret-pw' "$T/http.log" &
http_pid=$!
trap 'stop_serve; kill $http_pid; cleanup' EXIT
wait_file "$T/http.port" 10
port=$(cat "$T/http.port")
url="http://127.0.0.1:$port/lfs.git"
printf 'http://alice:s3cret-pw@127.0.0.1:%s\n' "$port" >"$T/git-credentials"
git config --global credential.helper "store --file=$T/git-credentials"
seed "$url"
check "the repository routes *.bin to LFS" git -C "$T/srv/lfs.git" cat-file -e main:.gitattributes

: >"$T/http.log"
"$MOO" publish "$j1" --repo "$url" --max-file-size 1 --json >out 2>err
rc=$?
check "publish over http to a repository with LFS exits 0 (weights.bin is above --max-file-size)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed 's/^/# publish: /' err # why, in the test's log
[ $rc -eq 0 ] || sed "s/^/# /" err out
check "--json counts one LFS file (weights.bin; empty.bin stays empty, as git-lfs leaves it)" \
	[ "$(jq 'd["lfs_files"]' <out)" = 1 ]
check "empty.bin is an empty blob" [ "$(git -C "$T/srv/lfs.git" cat-file -s main:models/lfsmodel/1.0/empty.bin)" = 0 ]
check "the object was uploaded with one PUT" [ "$(grep -c '^PUT /lfs-object/lfs.git/' "$T/http.log")" = 1 ]
check "and verified" grep -q '^POST /lfs-verify/lfs.git 200' "$T/http.log"
check "before the branch was pushed" sh -c \
	"grep -n -e '^PUT /lfs-object' -e '^POST /lfs.git/git-receive-pack' '$T/http.log' | head -1 | grep -q 'PUT /lfs-object'"
check "the server holds the very bytes" cmp -s "$w1" "$T/srv/lfs.git/lfs/objects/$(sha "$w1" | cut -c1-2)/$(sha "$w1" | cut -c3-4)/$(sha "$w1")"

git -C "$T/srv/lfs.git" show main:models/lfsmodel/1.0/weights.bin >pointer
git lfs pointer --file="$w1" >want 2>/dev/null
check "the committed pointer is byte-identical to 'git lfs pointer --file'" cmp pointer want
check "model.txt (not routed to LFS) is a plain blob" sh -c \
	"git -C '$T/srv/lfs.git' show main:models/lfsmodel/1.0/model.txt | grep -qx 'model lfsmodel 1.0'"

GIT_LFS_SKIP_SMUDGE=1 git clone -q "$url" clone1 2>/dev/null
check "git lfs ls-files lists the file" sh -c \
	"cd clone1 && git lfs ls-files | grep -q ' models/lfsmodel/1.0/weights.bin\$'"
(cd clone1 && git lfs pull >/dev/null 2>&1)
check "git lfs pull gives the job's bytes" [ "$(sha clone1/models/lfsmodel/1.0/weights.bin)" = "$(sha "$w1")" ]
check "git status is clean after the pull" [ -z "$(git -C clone1 status --porcelain)" ]

check "moo serve REPO@TAG over http loads the LFS object, not its pointer" \
	[ "$(served_sha "$url@lfsmodel-1.0")" = "$(sha "$w1")" ]

: >"$T/http.log"
"$MOO" publish "$j2" --repo "$url" --json >out 2>err
check "a second model with the same weights publishes (exit 0)" [ $? -eq 0 ]
check "asking the batch API" grep -q '^POST /lfs.git/info/lfs/objects/batch 200' "$T/http.log"
check "and uploading nothing (no PUT)" [ "$(grep -c '^PUT ' "$T/http.log")" = 0 ]

touch "$T/srv/lfs-refuse"
before=$(git ls-remote "$url" 2>/dev/null)
"$MOO" publish "$j3" --repo "$url" >out 2>err
rc=$?
check "an upload the LFS server refuses (403) fails with exit 4" [ $rc -eq 4 ]
check "naming the file and the status" grep -q "refused the upload of 'weights.bin' (HTTP 403): quota exceeded" err
check "and no ref was pushed (git ls-remote)" [ "$(git ls-remote "$url" 2>/dev/null)" = "$before" ]
rm -f "$T/srv/lfs-refuse"

git config --global --unset credential.helper
: >"$T/http.log"
MOO_GIT_USERNAME=alice MOO_GIT_PASSWORD='s3cret-pw' "$MOO" publish "$j3" --repo "$url" >out 2>err
rc=$?
check "with credentials from the environment it publishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed "s/^/# /" err
check "the batch API got the git remote's credential" sh -c "! grep -q 'batch 401' '$T/http.log'"
check "not printed" sh -c "! grep -q s3cret out err"

# ---- a bare repository on this machine: git-lfs's standalone file transfer ------------------
git init -q --bare "$T/bare.git"
seed "$T/bare.git"
"$MOO" publish "$j1" --repo "$T/bare.git" --max-file-size 1 >out 2>err
rc=$?
check "publish to a bare repository on disk with LFS exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed "s/^/# /" err
check "the object is in its lfs/objects" cmp -s "$w1" "$T/bare.git/lfs/objects/$(sha "$w1" | cut -c1-2)/$(sha "$w1" | cut -c3-4)/$(sha "$w1")"
GIT_LFS_SKIP_SMUDGE=1 git clone -q "$T/bare.git" clone2 2>/dev/null
(cd clone2 && git lfs pull >/dev/null 2>&1)
check "git lfs pull from the clone gives the job's bytes" [ "$(sha clone2/models/lfsmodel/1.0/weights.bin)" = "$(sha "$w1")" ]
check "moo serve REPO@TAG from it loads the LFS object" \
	[ "$(served_sha "$T/bare.git@lfsmodel-1.0")" = "$(sha "$w1")" ]

# ---- lfs.url of the repository's .lfsconfig wins over the derived URL -----------------------
git init -q --bare "$T/cfg.git"
seed "$T/cfg.git"
git -C "$T/seed" config --file .lfsconfig lfs.url "$url/info/lfs"
git -C "$T/seed" add .lfsconfig && git -C "$T/seed" commit -qm "LFS over http" &&
	git -C "$T/seed" push -q origin HEAD:main 2>/dev/null
before=$(git -C "$T/cfg.git" for-each-ref)
: >"$T/http.log"
"$MOO" publish "$j3" --repo "$T/cfg.git" >out 2>err
rc=$?
check "lfs.url of a server that wants a login moo has no credential for: exit 4" [ $rc -eq 4 ]
check "saying the LFS server refused the login" grep -q "authentication to the LFS server '$url/info/lfs' failed" err
check "and nothing pushed" [ "$(git -C "$T/cfg.git" for-each-ref)" = "$before" ]
git config --global credential.helper "store --file=$T/git-credentials"
"$MOO" publish "$j3" --repo "$T/cfg.git" >out 2>err
rc=$?
check "with git's credential helper for it, publish exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed "s/^/# /" err
check "through the batch API at lfs.url" grep -q '^POST /lfs.git/info/lfs/objects/batch 200' "$T/http.log"
check "and nothing in the repository's own lfs/objects" [ ! -d "$T/cfg.git/lfs" ]
git config --global --unset credential.helper

# ---- ssh remotes are refused when LFS is routed ---------------------------------------------
. "$MOO_SRC/tests/lib/sshd.sh"
if sshd_setup && sshd_start; then
	trap 'stop_serve; kill $http_pid; sshd_stop; cleanup' EXIT
	git init -q --bare "$T/ssh.git"
	seed "$T/ssh.git"
	surl="ssh://root@127.0.0.1:$SSHD_PORT$T/ssh.git"
	before=$(git -C "$T/ssh.git" for-each-ref)
	"$MOO" publish "$j1" --repo "$surl" --accept-new-host-key >out 2>err
	check "ssh with LFS routed and no lfs.url is refused (exit 2)" [ $? -eq 2 ]
	check "saying so, with a hint to lfs.url" sh -c "grep -q 'moo does not upload over ssh' err && grep -q 'lfs.url' err"
	check "and nothing pushed" [ "$(git -C "$T/ssh.git" for-each-ref)" = "$before" ]
	"$MOO" publish "$j1" --repo "$surl" --dry-run >out 2>err
	check "--dry-run says so too (exit 2)" sh -c "[ $? -eq 2 ] && grep -q 'moo does not upload over ssh' err"
	sshd_stop
else
	ok "# SKIP no sshd"
fi

done_testing
