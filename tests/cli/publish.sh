#!/bin/sh
# moo publish and moo models: finished jobs of a tiny project published to real git
# repositories — a bare repository on disk, git over ssh to a loopback sshd, and smart HTTP
# through the real `git http-backend` behind a small basic-auth server of this test's own
# (tests/cli/git-http.py) — and checked with the real git (clone, log, show TAG).
. "$MOO_SRC/tests/cli/job-lib.sh"
cd "$T" || exit 1
PY=/usr/bin/python3
export LSAN_OPTIONS="suppressions=$MOO_SRC/tests/cli/publish-lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
unset SSH_AUTH_SOCK
export GIT_TERMINAL_PROMPT=0
# the identity, in this test's own XDG_CONFIG_HOME (lib.sh): read by git and by libgit2, and
# the user's ~/.gitconfig is left alone
mkdir -p "$XDG_CONFIG_HOME/git"
git config --file "$XDG_CONFIG_HOME/git/config" user.name "Ada Publisher"
git config --file "$XDG_CONFIG_HOME/git/config" user.email ada@example.com
git config --file "$XDG_CONFIG_HOME/git/config" init.defaultBranch main

# model NAME VERSION VALUE: a project whose model file and metric depend on VALUE.
model() {
	mkdir -p "$T/p-$1-$3"
	cat >"$T/p-$1-$3/train.py" <<EOT
import os
o = os.environ["MOO_OUTPUT_DIR"]
open(o + "/model.bin", "w").write("weights $3\n")
print("moo:metric rmse=$3 r2=0.5")
EOT
	cat >"$T/p-$1-$3/metadata.yaml" <<EOT
framework:
  name: python
  version: "3"
  runtime: python3
model:
  name: $1
  version: "$2"
dataset:
  name: diabetes
entry_point: train.py
output_folder: training_result
training_params:
  lr: 0.10
  opt: adam
EOT
	"$MOO" run -d "$T/p-$1-$3"
}
jq() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

j1=$(model tiny 1.0 0.25)
j2=$(model tiny 1.0 0.75) # the same name and version, other content
j3=$(model other 2.0 0.5)
j4=$(model fourth 1.0 0.1)
check "four tiny jobs succeed" sh -c "true" && for j in $j1 $j2 $j3 $j4; do
	wait_status "$j" succeeded 60 || not_ok "job $j succeeded"
done

# ---- a bare repository on disk --------------------------------------------------------
git init -q --bare "$T/bare.git"
mkdir -p "$T/p-bad" && sed 's/^entry_point: .*/entry_point: bad.py/' "$T/p-tiny-0.25/metadata.yaml" >"$T/p-bad/metadata.yaml"
echo 'raise SystemExit(3)' >"$T/p-bad/bad.py"
jbad=$("$MOO" run -d "$T/p-bad")
wait_status "$jbad" failed 60
"$MOO" publish "$jbad" --repo "$T/bare.git" >out 2>err
check "a failed job is not published (exit 2)" [ $? -eq 2 ]
check "... the hint names 'moo ps -a' (plain 'moo ps' shows only running jobs)" \
	grep -q "hint: publish a job that succeeded; 'moo ps -a' lists them" err
check "... and the repository has no commit" sh -c "! git --git-dir='$T/bare.git' rev-parse -q --verify main"
"$MOO" publish "$j1" --repo "$T/bare.git" --alias production --json >out 2>err
check "moo publish to a bare repository exits 0" [ $? -eq 0 ]
check "--json says published, a new commit and tag" \
	[ "$(jq 'd["published"], d["new_commit"], d["new_tag"], d["tag"], d["path"]' <out)" = "True True True tiny-1.0 models/tiny/1.0" ]
commit=$(jq 'd["commit"]' <out)
git clone -q "$T/bare.git" clone1 2>/dev/null
check "git clone gives the model folder on main" sh -c \
	"cd clone1 && [ \"\$(git rev-parse --abbrev-ref HEAD)\" = main ] && ls models/tiny/1.0 | tr '\n' ' ' | grep -qx 'README.md metadata.yaml model.bin moo.lock params.json process.log '"
check "the result file is the job's" cmp -s clone1/models/tiny/1.0/model.bin "$MOO_ROOT/jobs/$j1/work/training_result/model.bin"
check "moo.lock is the job's" cmp -s clone1/models/tiny/1.0/moo.lock "$MOO_ROOT/jobs/$j1/moo.lock"
check "metadata.yaml is the one the job ran" cmp -s clone1/models/tiny/1.0/metadata.yaml "$MOO_ROOT/jobs/$j1/metadata.yaml"
check "process.log is the job's" cmp -s clone1/models/tiny/1.0/process.log "$MOO_ROOT/jobs/$j1/process.log"
check "the commit is by the user's git identity" sh -c \
	"[ \"\$(git -C clone1 log -1 --format='%an <%ae>|%cn <%ce>')\" = 'Ada Publisher <ada@example.com>|Ada Publisher <ada@example.com>' ]"
check "git log names the job" sh -c "git -C clone1 log -1 --format=%B | grep -q 'Moo-Job: $j1'"
check "git show tiny-1.0 is an annotated tag on that commit" sh -c \
	"[ \"\$(git -C '$T/bare.git' cat-file -t tiny-1.0)\" = tag ] && [ \"\$(git -C '$T/bare.git' rev-parse 'tiny-1.0^{commit}')\" = '$commit' ] && git -C '$T/bare.git' show tiny-1.0 | grep -q '^Tagger: Ada Publisher <ada@example.com>'"
check "the alias production is a branch on it" [ "$(git -C "$T/bare.git" rev-parse refs/heads/production)" = "$commit" ]
card=clone1/models/tiny/1.0/README.md
check "the model card has Hugging Face front matter" sh -c "$PY - '$card' <<'PYEOF'
import sys, yaml
text = open(sys.argv[1]).read()
assert text.startswith('---\n')
meta = yaml.safe_load(text.split('---\n')[1])
assert meta['library_name'] == 'python', meta
assert 'moo' in meta['tags'] and meta['datasets'] == ['diabetes'], meta
res = meta['model-index'][0]['results'][0]
assert {m['type']: m['value'] for m in res['metrics']} == {'rmse': 0.25, 'r2': 0.5}, res
PYEOF"
check "and the bundle sha256, parameters, host and times" sh -c \
	"grep -q \"bundle sha256: \\\`$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["bundle"]["sha256"])' "$MOO_ROOT/jobs/$j1/moo.lock")\" '$card' && grep -q '## Parameters' '$card' && grep -q 'host: .local.' '$card' && grep -q 'started 20' '$card'"

check "params.json holds the parameters as they were written (0.10, not 0.10000000000000001)" \
	[ "$(cat clone1/models/tiny/1.0/params.json)" = '{
  "lr": 0.10,
  "opt": "adam"
}' ]
check "... and so does the card's table" grep -qxF '| lr | `0.10` |' "$card"

before=$(git -C "$T/bare.git" for-each-ref)
"$MOO" publish "$j1" --repo "$T/bare.git" --alias production --json >out 2>err
check "publishing the same job again exits 0" [ $? -eq 0 ]
check "and makes no second commit" [ "$(jq 'd["new_commit"], d["commit"]' <out)" = "False $commit" ]
check "the remote is as it was" [ "$(git -C "$T/bare.git" for-each-ref)" = "$before" ]

"$MOO" publish "$j2" --repo "$T/bare.git" >out 2>err
check "another job with the same model folder is refused (exit 6)" [ $? -eq 6 ]
check "saying the folder holds other content" grep -q "'models/tiny/1.0' on branch 'main'.*holds other content" err
"$MOO" publish "$j2" --repo "$T/bare.git" --path models/tiny/1.0b >out 2>err
check "the same tag on another commit is refused (exit 6)" [ $? -eq 6 ]
check "naming the tag and that tags are never moved" sh -c "grep -q \"tag 'tiny-1.0' exists on another commit\" err && grep -q 'never moved' err"
check "and nothing remote changed" [ "$(git -C "$T/bare.git" for-each-ref)" = "$before" ]

"$MOO" publish "$j3" --repo "file://$T/bare.git" --dry-run >out 2>err
check "--dry-run over file:// exits 0" [ $? -eq 0 ]
check "and pushes nothing" [ "$(git -C "$T/bare.git" for-each-ref)" = "$before" ]
"$MOO" publish "$j3" --repo "file://$T/bare.git" --alias production -m "Other model" >out 2>err
check "a second model on the same branch over file:// exits 0" [ $? -eq 0 ]
check "on top of the first" sh -c "[ \"\$(git -C '$T/bare.git' rev-parse main~1)\" = '$commit' ]"
check "the alias moved to it" [ "$(git -C "$T/bare.git" rev-parse production)" = "$(git -C "$T/bare.git" rev-parse main)" ]
check "tiny-1.0 did not move" [ "$(git -C "$T/bare.git" rev-parse 'tiny-1.0^{commit}')" = "$commit" ]
check "the message's first line is --message" [ "$(git -C "$T/bare.git" log -1 --format=%s main)" = "Other model" ]

"$MOO" models --json >out
check "moo models --json lists both publications, newest first" sh -c \
	"[ \"\$($PY -c 'import json,sys; print([(p[\"job\"], p[\"tag\"], p[\"alias\"]) for p in json.load(sys.stdin)])' <out)\" = \"[('$j3', 'other-2.0', 'production'), ('$j1', 'tiny-1.0', 'production')]\" ]"
check "with repository and commit" sh -c "grep -q '\"commit\": \"$commit\"' out && grep -q '\"repo\": \"$T/bare.git\"' out"
check "published is an RFC 3339 time, as moo(1) says" sh -c "grep -Eq '\"published\": \"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z\"' out"
"$MOO" models >out
check "moo models prints a table" sh -c "grep -q '^JOB' out && grep -q 'tiny-1.0' out"

# ---- moo reproduce REPO@TAG --------------------------------------------------------------
"$MOO" reproduce "$T/bare.git@tiny-1.0" >out 2>err
check "moo reproduce REPO@TAG runs the published model again and exits 0" [ $? -eq 0 ]
again=$(sed -n 's/^moo: job \(moo-job-[a-z0-9]*\) reproduces .*/\1/p' err)
# what ran is the same (created, the bundle's path and the job's own id in the command differ)
check "with the same lock: runtime, bundle, framework, interpreter, image, requirements" $PY -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("runtime", "framework", "interpreter", "image", "requirements"):
    assert a.get(k) == b.get(k), k
assert a["bundle"]["sha256"] == b["bundle"]["sha256"]' "$MOO_ROOT/jobs/$again/moo.lock" "$MOO_ROOT/jobs/$j1/moo.lock"
check "and the same result" cmp -s "$MOO_ROOT/jobs/$again/work/training_result/model.bin" "$MOO_ROOT/jobs/$j1/work/training_result/model.bin"
"$MOO" reproduce "$T/bare.git@no-such-tag" >out 2>err
check "an unknown tag is exit 2" [ $? -eq 2 ]

# ---- a repository with a work tree --------------------------------------------------------
git init -q -b main "$T/work"
(cd "$T/work" && echo hi >a && git add a && git commit -qm i)
whead=$(git -C "$T/work" rev-parse HEAD)
"$MOO" publish "$j1" --repo "$T/work" >out 2>err
check "a repository with a work tree: its checked-out branch is refused (exit 4)" [ $? -eq 4 ]
check "naming the branch, with a hint for another branch or a bare clone" sh -c \
	"grep -q 'refused the ref refs/heads/main: the branch is checked out there' err && grep -q '^hint: publish to another branch (-b BRANCH), or to a bare clone: git clone --bare' err"
"$MOO" publish "$j1" --repo "$T/work" -b models --alias main >out 2>err
check "an alias on its checked-out branch is refused too (exit 4)" [ $? -eq 4 ]
check "and nothing changed there" sh -c \
	"[ \"\$(git -C '$T/work' for-each-ref --format='%(refname)')\" = refs/heads/main ] && [ \"\$(git -C '$T/work' rev-parse HEAD)\" = '$whead' ] && [ -z \"\$(git -C '$T/work' status --porcelain)\" ]"
"$MOO" publish "$j1" --repo "$T/work" -b models --alias production >out 2>err
rc=$?
check "to another branch it publishes (exit 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || sed "s/^/# $rc /" err
check "git sees the branch, the annotated tag and the alias" sh -c \
	"[ \"\$(git -C '$T/work' rev-parse 'tiny-1.0^{commit}')\" = \"\$(git -C '$T/work' rev-parse models)\" ] && [ \"\$(git -C '$T/work' cat-file -t tiny-1.0)\" = tag ] && [ \"\$(git -C '$T/work' rev-parse production)\" = \"\$(git -C '$T/work' rev-parse models)\" ]"
check "with the model folder, and the checked-out branch and files as they were" sh -c \
	"git -C '$T/work' cat-file -e models:models/tiny/1.0/model.bin && [ \"\$(git -C '$T/work' rev-parse HEAD)\" = '$whead' ] && [ -z \"\$(git -C '$T/work' status --porcelain)\" ] && git -C '$T/work' fsck --no-progress 2>/dev/null"

# ---- a result that changed since the job ended is not published ---------------------------
j5=$(model changed 1.0 0.3)
wait_status "$j5" succeeded 60
r5="$MOO_ROOT/jobs/$j5/work/training_result"
cp "$r5/model.bin" "$T/model.bin.j5"
git init -q --bare "$T/changed.git"
echo tampered >>"$r5/model.bin"
"$MOO" publish "$j5" --repo "$T/changed.git" >out 2>err
check "a result file changed since the job ended is refused (exit 6)" [ $? -eq 6 ]
check "naming it and MANIFEST.sha256" grep -q "'$r5/model.bin' does not match MANIFEST.sha256" err
check "with a hint to put it back or run the job again" grep -q "^hint: the result changed since job $j5 ended: .*moo reproduce $j5" err
check "and nothing was pushed" [ -z "$(git -C "$T/changed.git" for-each-ref)" ]
cp "$T/model.bin.j5" "$r5/model.bin"
echo x >"$r5/new.txt"
"$MOO" publish "$j5" --repo "$T/changed.git" >out 2>err
check "a file added to the result is refused (exit 6)" [ $? -eq 6 ]
check "naming it as not in MANIFEST.sha256" grep -q "'$r5/new.txt' is not in MANIFEST.sha256" err
rm "$r5/new.txt" "$r5/model.bin"
"$MOO" publish "$j5" --repo "$T/changed.git" >out 2>err
check "a result file removed is refused (exit 6), naming it" sh -c "[ $? -eq 6 ] && grep -q \"'$r5/model.bin'\" err"
check "and still nothing was pushed" [ -z "$(git -C "$T/changed.git" for-each-ref)" ]
cp "$T/model.bin.j5" "$r5/model.bin"
"$MOO" publish "$j5" --repo "$T/changed.git" >out 2>err
check "put back as the job left it, it publishes" [ $? -eq 0 ]

# ---- large files ------------------------------------------------------------------------
mkdir -p "$T/p-big" # a job that writes a 2 MB file (one added after the job is refused)
sed 's/^  name: tiny$/  name: big/' "$T/p-tiny-0.25/metadata.yaml" >"$T/p-big/metadata.yaml"
cat >"$T/p-big/train.py" <<'EOT'
import os
o = os.environ["MOO_OUTPUT_DIR"]
open(o + "/model.bin", "w").write("weights 0.9\n")
open(o + "/weights.bin", "wb").write(bytes(2000000))
EOT
big=$("$MOO" run -d "$T/p-big")
wait_status "$big" succeeded 60
before=$(git -C "$T/bare.git" for-each-ref)
"$MOO" publish "$big" --repo "$T/bare.git" --max-file-size 1 >out 2>err
check "a file above --max-file-size is refused (exit 2)" [ $? -eq 2 ]
check "naming the file and the option that allows it" sh -c "grep -q \"'weights.bin' is 2000000 bytes\" err && grep -q -- '--allow-large-files' err"
check "and nothing remote changed" [ "$(git -C "$T/bare.git" for-each-ref)" = "$before" ]
"$MOO" publish "$big" --repo "$T/bare.git" --max-file-size 1 --allow-large-files >out 2>err
check "--allow-large-files commits it" sh -c "[ \"\$(git -C '$T/bare.git' cat-file -s main:models/big/1.0/weights.bin)\" = 2000000 ]"

# ---- two publishes at once to one remote both land ----------------------------------------
git init -q --bare "$T/race.git"
"$MOO" publish "$j3" --repo "$T/race.git" >/dev/null 2>&1 # a first commit to race on
"$MOO" publish "$j1" --repo "$T/race.git" --json >race1 2>race1.err &
p1=$!
"$MOO" publish "$j4" --repo "$T/race.git" --json >race2 2>race2.err &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "two concurrent publishes of different jobs both exit 0" [ "$r1" = 0 -a "$r2" = 0 ]
check "both model folders are on main" sh -c \
	"git -C '$T/race.git' ls-tree -r --name-only main | grep -q models/tiny/1.0/model.bin && git -C '$T/race.git' ls-tree -r --name-only main | grep -q models/fourth/1.0/model.bin"
check "both tags are there, each on a commit of main" sh -c \
	"for t in tiny-1.0 fourth-1.0; do git -C '$T/race.git' merge-base --is-ancestor \"\$t^{commit}\" main || exit 1; done"
check "three commits in a line" [ "$(git -C "$T/race.git" rev-list --count main)" = 3 ]
echo "# replays: $(cat race1 race2 | grep -h '"retries"' | tr -d ' \n')"

# ---- https: git http-backend behind basic auth --------------------------------------------
mkdir -p "$T/srv"
git init -q --bare "$T/srv/models.git"
$PY "$MOO_SRC/tests/cli/git-http.py" "$T/http.port" "$T/srv" alice 's3cret-pw' "$T/http.log" &
http_pid=$!
trap 'kill $http_pid; cleanup' EXIT
wait_file "$T/http.port" 10
url="http://127.0.0.1:$(cat "$T/http.port")/models.git"

"$MOO" publish "$j1" --repo "$url" >out 2>err
check "https without credentials fails with exit 4" [ $? -eq 4 ]
check "saying authentication failed" grep -q "authentication to '$url' failed" err

: >"$T/http.log"
MOO_GIT_USERNAME=alice MOO_GIT_PASSWORD=wrong "$MOO" publish "$j1" --repo "$url" >out 2>err
check "a wrong password fails with exit 4" [ $? -eq 4 ]
n401=$(grep -c ' 401 bad' "$T/http.log")
check "after a bounded number of tries ($n401)" [ "$n401" -ge 1 -a "$n401" -le 2 ]
check "never printing the password" sh -c "! grep -q wrong out err"

MOO_GIT_USERNAME=alice MOO_GIT_PASSWORD='s3cret-pw' "$MOO" publish "$j1" --repo "$url" --alias production >out 2>err
check "credentials from the environment publish over https" [ $? -eq 0 ]
check "not printed" sh -c "! grep -q s3cret out err"
check "git sees the tag" [ "$(git -C "$T/srv/models.git" cat-file -t tiny-1.0)" = tag ]

printf 'http://alice:s3cret-pw@127.0.0.1:%s\n' "$(cat "$T/http.port")" >"$T/git-credentials"
git config --global credential.helper "store --file=$T/git-credentials"
"$MOO" publish "$j3" --repo "$url" >out 2>err
check "credentials from git's credential helper publish over https" [ $? -eq 0 ]
check "not printed" sh -c "! grep -q s3cret out err"
git clone -q "http://alice:s3cret-pw@127.0.0.1:$(cat "$T/http.port")/models.git" clone2 2>/dev/null
check "git clone over https has both models" sh -c "[ -f clone2/models/tiny/1.0/model.bin ] && [ -f clone2/models/other/2.0/model.bin ]"

# a ref the server refuses (an update hook) is an error naming the ref
cat >"$T/srv/models.git/hooks/update" <<'EOT'
#!/bin/sh
case $1 in refs/heads/locked) echo "locked branch" >&2; exit 1 ;; esac
exit 0
EOT
chmod +x "$T/srv/models.git/hooks/update"
before=$(git -C "$T/srv/models.git" for-each-ref)
"$MOO" publish "$j4" --repo "$url" --branch locked >out 2>err
rc=$?
check "a ref the server refuses fails with exit 4" [ $rc -eq 4 ]
[ $rc -eq 4 ] || sed "s/^/# $rc /" err
check "naming the ref" grep -q "refused the ref refs/heads/locked" err
check "and nothing remote changed" [ "$(git -C "$T/srv/models.git" for-each-ref)" = "$before" ]
git config --global --unset credential.helper

# ---- git over ssh to a loopback sshd ----------------------------------------------------
. "$MOO_SRC/tests/lib/sshd.sh"
if sshd_setup && sshd_start; then
	trap 'kill $http_pid; sshd_stop; cleanup' EXIT
	git init -q --bare "$T/ssh.git"
	surl="ssh://root@127.0.0.1:$SSHD_PORT$T/ssh.git"
	"$MOO" publish "$j1" --repo "$surl" >out 2>err
	check "ssh: an unknown host key is refused (exit 4)" [ $? -eq 4 ]
	check "with its fingerprint" grep -q "unknown host key for .*SHA256:" err
	check "and nothing pushed" [ -z "$(git -C "$T/ssh.git" for-each-ref)" ]
	"$MOO" publish "$j1" --repo "$surl" --accept-new-host-key >out 2>err
	rc=$?
	check "--accept-new-host-key publishes over ssh" [ $rc -eq 0 ]
	[ $rc -eq 0 ] || sed "s/^/# $rc /" err 
	check "recording the key" grep -q "127.0.0.1]:$SSHD_PORT" "$MOO_KNOWN_HOSTS"
	check "git sees the commit and tag" [ "$(git -C "$T/ssh.git" rev-parse 'tiny-1.0^{commit}')" = "$(git -C "$T/ssh.git" rev-parse main)" ]
	printf 'Host gitbox\n\tHostName 127.0.0.1\n\tPort %s\n\tUser root\n' "$SSHD_PORT" >>"$MOO_SSH_CONFIG"
	"$MOO" publish "$j3" --repo "gitbox:$T/ssh.git" >out 2>err
	check "HOST:PATH with the host from ~/.ssh/config publishes over ssh" [ $? -eq 0 ]
	check "on top of the first" [ "$(git -C "$T/ssh.git" rev-parse 'other-2.0^{commit}~1')" = "$(git -C "$T/ssh.git" rev-parse 'tiny-1.0^{commit}')" ]
	sshd_stop
	sshd_new_host_key
	sshd_start
	"$MOO" publish "$j4" --repo "$surl" --accept-new-host-key >out 2>err
	check "a changed host key is refused even with --accept-new-host-key (exit 4)" [ $? -eq 4 ]
	check "saying it changed" grep -q "host key of .* has changed" err
else
	ok "# SKIP no sshd"
fi

"$MOO" publish "$j1" --repo "$T/nowhere.git" >out 2>err
check "a repository that is not there is exit 2" [ $? -eq 2 ]
"$MOO" publish "$j1" >out 2>err
check "--repo is required (exit 2)" [ $? -eq 2 ]
"$MOO" publish "$j1" --repo "$T/bare.git" --tag 'bad..tag' >out 2>err
check "an invalid tag name is exit 2" [ $? -eq 2 ]
before=$(git -C "$T/bare.git" for-each-ref)
"$MOO" publish "$j4" --repo "$T/bare.git" -m "$(printf 'line1\nMoo-Path: models/evil')" --tag forged >out 2>err
check "-m with a line break is a usage error (exit 2): it could forge the Moo-Path: trailer" [ $? -eq 2 ]
check "saying so, with a hint" sh -c "grep -q 'the message has a line break or control character' err && grep -q '^hint: give -m one line' err"
"$MOO" publish "$j4" --repo "$T/bare.git" -m "$(printf 'a\033]0;x\007')" --tag forged >out 2>err
check "-m with a control character is exit 2" [ $? -eq 2 ]
check "and nothing was pushed" [ "$(git -C "$T/bare.git" for-each-ref)" = "$before" ]
"$MOO" publish "$j1" --repo "$T/bare.git" --path ../escape >out 2>err
check "a --path outside the repository is exit 2" [ $? -eq 2 ]
"$MOO" publish moo-job-nosuch --repo "$T/bare.git" --json >out 2>err
check "an unknown job is exit 2" [ $? -eq 2 ]
check "with one JSON document saying so" sh -c "$PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"published\"] is False and \"no job\" in d[\"diagnostics\"][0][\"message\"]' <out"
check "whose error and errors are moo(1)'s failure document (code not-found)" sh -c "$PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"error\"][\"code\"] == \"not-found\" and \"no job\" in d[\"error\"][\"message\"] and d[\"errors\"][0] == d[\"error\"]' <out"
"$MOO" publish "$j2" --repo "$T/bare.git" --json >out 2>err
check "a refused publish with --json is one JSON document naming the conflict" sh -c "$PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"published\"] is False and \"holds other content\" in d[\"diagnostics\"][0][\"message\"]' <out"
check "... with error and errors, as every verb's failure (exit 6)" sh -c "$PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"error\"][\"code\"] == \"exists\" and \"holds other content\" in d[\"error\"][\"message\"] and d[\"error\"][\"hint\"] and d[\"errors\"][0] == d[\"error\"]' <out"
"$MOO" publish "$j1" --repo "$T/bare.git" -m "$(printf 'a\nb')" --json >out 2>err
check "a usage error of the library's (-m) too: error, errors, published false" sh -c "$PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"published\"] is False and d[\"error\"][\"code\"] == \"usage\" and \"line break\" in d[\"errors\"][0][\"message\"]' <out"

done_testing
