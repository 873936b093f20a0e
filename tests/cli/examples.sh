#!/bin/sh
# The examples run as their README says, through their Makefiles and the built moo:
# examples/emnist-pytorch (PyTorch on the CPU, its generated data placed as the dataset)
# and examples/sklearn-diabetes. Each is copied first, so the source tree stays clean.
. "$MOO_SRC/tests/cli/lib.sh"
export MOO_PYTHON=/usr/bin/python3
# libgit2 1.5's own leaks, under ASan (make publish): the ones publish.sh suppresses
export LSAN_OPTIONS="suppressions=$MOO_SRC/tests/cli/publish-lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state; chmod -R u+w "$T" 2>/dev/null; cleanup_dirs' EXIT
manifest() { (cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' '\0' | xargs -0r sha256sum -- | sha256sum | cut -c1-64); }

if ! $PY -c 'import torch' 2>/dev/null; then
	echo "1..0 # SKIP no PyTorch for /usr/bin/python3 (apt-get install python3-torch)"
	exit 0
fi

cp -R "$MOO_SRC/examples/emnist-pytorch" "$T/emnist"
expect_exit "emnist-pytorch: make trains it through moo" 0 make -C "$T/emnist" MOO="$MOO" PYTHON=$PY
contains "... the data is placed as the dataset" "$out" "dataset 'emnist-sample' (sha256"
contains "... the job reads it from MOO_DATASET_DIR" "$out" "dataset: 2000 images from $MOO_ROOT/datasets/"
acc=$(printf '%s\n' "$out" | sed -n 's/^accuracy: //p')
if [ -n "$acc" ] && $PY -c "import sys; sys.exit(0 if float('$acc') > 0.5 else 1)"; then ok "... it learns (accuracy $acc on held-out images)"; else not_ok "... accuracy > 0.5" "$out"; fi
if [ -s "$T/emnist/model/model.pt" ]; then ok "... the model is fetched into ./model"; else not_ok "... model.pt" "$(ls -R "$T/emnist")"; fi
sha=$(manifest "$T/emnist/data")
if [ "$($PY -c "import json; print(json.load(open('$T/emnist/model/moo.lock'))['dataset']['sha256'])")" = "$sha" ]; then
	ok "... the model's moo.lock records the data's sha256"
else not_ok "... lock" "$(cat "$T/emnist/model/moo.lock")"; fi
names=$($PY -c "import glob, zipfile; print([n for z in glob.glob('$MOO_ROOT/bundles/*.zip') for n in zipfile.ZipFile(z).namelist()])")
if printf '%s' "$names" | grep -q train.py && ! printf '%s' "$names" | grep -q images.npy; then ok "... the data is not in the bundle (.mooignore)"; else not_ok "... data kept out of the bundle" "$names"; fi
$PY - "$T/emnist" <<'PYEOF' >"$T/pred" 2>&1
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import predict
m = predict.load(sys.argv[1] + "/model")
x = np.load(sys.argv[1] + "/data/images.npy")[-20:]
y = np.load(sys.argv[1] + "/data/labels.npy")[-20:]
p = predict.predict(m, {"instances": x.tolist()})["predictions"]
print("correct", sum(int(a == b) for a, b in zip(p, y)))
PYEOF
n=$(sed -n 's/^correct //p' "$T/pred")
if [ -n "$n" ] && [ "$n" -ge 10 ]; then ok "... predict.py loads the model and predicts ($n/20 right)"; else not_ok "... predict.py" "$(cat "$T/pred")"; fi

cp -R "$MOO_SRC/examples/sklearn-diabetes" "$T/diabetes"
expect_exit "sklearn-diabetes: make trains it through moo" 0 make -C "$T/diabetes" MOO="$MOO"
if [ -s "$T/diabetes/model/model.pkl" ]; then ok "... the model is fetched into ./model"; else not_ok "... model.pkl" "$out"; fi
mkdir -p "$XDG_CONFIG_HOME/git" # an identity of this test's own for the commit
git config --file "$XDG_CONFIG_HOME/git/config" user.name "Ex Ample"
git config --file "$XDG_CONFIG_HOME/git/config" user.email ex@example.com
expect_exit "sklearn-diabetes: make publish commits it to a new bare repository" 0 make -C "$T/diabetes" MOO="$MOO" REPO="$T/models.git" publish
n=$(git --git-dir="$T/models.git" log --all --format=%s | wc -l)
lock=$(git --git-dir="$T/models.git" ls-tree -r --name-only main | grep -c '/moo.lock$')
if [ "$n" = 1 ] && [ "$lock" = 1 ]; then ok "... git log shows one commit, with the model's moo.lock"; else not_ok "... one commit with the lock" "$n commits, $lock locks"; fi

cp -R "$MOO_SRC/examples/digits" "$T/digits"
# the default target trains and returns: it does not go on to serve (a timeout would say so)
expect_exit "digits: make trains it and returns" 0 timeout 60 make -C "$T/digits" MOO="$MOO"
if [ -s "$T/digits/.job" ] && [ "$("$MOO" status --json "$(cat "$T/digits/.job")" | jq 'd["status"]')" = succeeded ]; then
	ok "... its job, in .job, succeeded"; else not_ok "... .job" "$out"; fi
contains "digits: make serve PORT=N serves on that port" "$(make -n -C "$T/digits" MOO="$MOO" PORT=18999 serve)" "serve --port 18999 "
done_testing
