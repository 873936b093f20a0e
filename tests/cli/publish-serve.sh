#!/bin/sh
# moo serve REPO@TAG: examples/sklearn-diabetes trained, published to a bare repository on
# disk, and served from the published tag; its predictions are the served job's. Also what
# moo serve and moo predict say about a target that is not there.
. "$MOO_SRC/tests/cli/job-lib.sh"
cd "$T" || exit 1
mkdir -p "$T/tmp" && export TMPDIR="$T/tmp" # serve's checkouts, to see them go
PY=/usr/bin/python3
export LSAN_OPTIONS="suppressions=$MOO_SRC/tests/cli/publish-lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$XDG_CONFIG_HOME/git"
git config --file "$XDG_CONFIG_HOME/git/config" user.name "Ada Publisher"
git config --file "$XDG_CONFIG_HOME/git/config" user.email ada@example.com
git config --file "$XDG_CONFIG_HOME/git/config" init.defaultBranch main
SPID=
stop_serve() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	SPID=
}
trap 'stop_serve; cleanup' EXIT
# serve_url NAME SOURCE: moo serve --wait-ready in the background; $URL once ready.
serve_url() {
	"$MOO" serve "$2" --port 0 --wait-ready >"$T/$1.out" 2>"$T/$1.err" &
	SPID=$!
	i=0
	until [ -s "$T/$1.out" ] || [ $i -gt 900 ] || ! kill -0 $SPID 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	URL=$(head -n1 "$T/$1.out")
}
X='{"instances": [[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.01], [-0.05, -0.04, -0.05, -0.03, -0.01, -0.02, 0.07, -0.04, -0.07, -0.09]]}'

cp -r "$MOO_SRC/examples/sklearn-diabetes" "$T/proj"
job=$("$MOO" run -d "$T/proj")
check "examples/sklearn-diabetes trains" wait_status "$job" succeeded 300
"$MOO" predict "$job" -d "$X" >want 2>err
check "moo predict JOB answers" grep -q predictions want

git init -q --bare "$T/models.git"
"$MOO" publish "$job" --repo "$T/models.git" >out 2>err
check "the job publishes to a bare repository" [ $? -eq 0 ]

serve_url tag "$T/models.git@sklearn-diabetes-1.0"
url=$URL
check "moo serve REPO@TAG gets ready" sh -c "[ -n '$url' ]"
[ -n "$url" ] || sed 's/^/# /' "$T/tag.err"
"$MOO" predict "$url" -d "$X" >got 2>err
check "moo predict against it gives the served job's predictions" cmp -s got want
[ -s got ] && echo "# $(cat got)"
check "it serves the published model (the tag's model.pkl), from a checkout of its own" \
	grep -q "serving 'sklearn-diabetes'" "$T/tag.err"
check "while it serves, its checkout holds the published model.pkl" sh -c "cmp '$TMPDIR'/moo-serve-*/model/model.pkl '$MOO_ROOT/jobs/$job/work/training_result/model.pkl'"
stop_serve
check "the checkout is removed when serve ends" sh -c "! ls -d '$TMPDIR'/moo-serve-* 2>/dev/null"
serve_url killed "$T/models.git@sklearn-diabetes-1.0"
killed=$(ls -d "$TMPDIR"/moo-serve-*/model 2>/dev/null)
kill -KILL "$SPID" && wait "$SPID" 2>/dev/null
SPID=

"$MOO" serve "$T/models.git@no-such-tag" --port 0 >out 2>err
check "an unknown tag is exit 2, naming it" sh -c "[ $? -eq 2 ] && grep -q \"no tag 'no-such-tag'\" err"
check "a moo serve REPO@TAG killed by SIGKILL: the next moo removes its checkout" \
	sh -c "[ -n '$killed' ] && [ ! -e '$(dirname "${killed:-.}")' ]"

# ---- targets that are not there ---------------------------------------------------------------
"$MOO" serve /missing.zip --port 0 >out 2>err
rc=$?
check "moo serve /missing.zip is exit 2" [ $rc -eq 2 ]
check "saying no such file (not 'no job')" sh -c "grep -q \"no such file or folder '/missing.zip'\" err && ! grep -q 'no job' err"
check "with a hint" grep -q '^hint: ' err
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$MOO" predict "127.0.0.1:$port" -d '{}' >out 2>err
rc=$?
check "moo predict HOST:PORT with nothing listening is exit 4" [ $rc -eq 4 ]
check "saying there is no answer at its URL (not 'no job')" sh -c "grep -q \"no answer from 'http://127.0.0.1:$port/invocations'\" err && ! grep -q 'no job' err"
check "with a hint" grep -q "^hint: is 'moo serve' running there" err

# ---- a job's model changed since it ended is not served as it ----------------------------------
pkl="$MOO_ROOT/jobs/$job/work/training_result/model.pkl"
echo tampered >>"$pkl"
timeout 60 "$MOO" serve "$job" --port 0 >out 2>err
rc=$?
check "moo serve JOB whose model.pkl changed since the job ended is exit 6" [ $rc -eq 6 ]
check "naming it and MANIFEST.sha256, with a hint" sh -c \
	"grep -q \"'$pkl' does not match MANIFEST.sha256\" err && grep -q '^hint: the result changed since job $job ended' err"

done_testing
