#!/bin/sh
# moo resolve without a registry (--offline): the exact runtime command it prints for each
# runtime, the derived image named by the environment's hash, GPU flags, and errors.
. "$MOO_SRC/tests/cli/lib.sh"
EX=$MOO_SRC/examples/sklearn-diabetes
export MOO_ROOT="$T/root"
cmd_of() { # cmd_of RUNTIME [ARGS…]: the "command" of moo resolve --json
	_rt=$1; shift
	"$MOO" resolve --offline --runtime "$_rt" -o - --json "$@" "$EX" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)["command"])'
}

J="$T/root/jobs/JOB_ID"
c=$(cmd_of host)
check "host: env, the spec's Python, the entry point with its parameters" [ "$c" = \
	"env 'MOO_JOB_ID=JOB_ID' 'MOO_OUTPUT_DIR=$J/work/training_result' 'MOO_PARAM_ALPHA=0.5' 'MOO_PARAM_SEED=0' 'python3.11' '-u' 'train.py' '--alpha' '0.5' '--seed' '0'" ]
c=$(cmd_of podman)
case $c in
"'podman' run --rm --init --name 'JOB_ID' --network host -v '$J:$J' -w '$J/work' -e 'MOO_JOB_ID=JOB_ID' "*"'moo-env:"*"' 'python3.11' '-u' 'train.py' '--alpha' '0.5' '--seed' '0'") ok "podman: the job folder mounted, the derived image" ;;
*) not_ok "podman: the job folder mounted, the derived image" "$c" ;;
esac
key=$(printf '%s' "$c" | sed -n "s/.*'moo-env:\([0-9a-f]*\)'.*/\1/p")
check "the derived image is named by a sha256" [ ${#key} -eq 64 ]
d=$(cmd_of docker)
check "docker runs the same derived image" sh -c "printf '%s' \"\$1\" | grep -q \"^'docker' run .*'moo-env:$key'\"" - "$d"
c=$(cmd_of apptainer)
check "apptainer runs the derived .sif" sh -c "printf '%s' \"\$1\" | grep -q \"^'apptainer' exec --cleanenv --bind '$J' --pwd '$J/work' .*'$T/root/envs/$key/env.sif' 'python3.11'\"" - "$c"
EX=$MOO_SRC/templates/pytorch # sklearn has no GPU images
c=$(cmd_of podman --accelerator gpu)
contains "a GPU job on podman gets a CDI device" "$c" "--device 'nvidia.com/gpu=0'"
c=$(cmd_of docker --accelerator gpu)
contains "and on docker --gpus" "$c" "--gpus '\"device=0\"'"
c=$(cmd_of host --accelerator gpu)
contains "and on the host CUDA_VISIBLE_DEVICES" "$c" "'CUDA_VISIBLE_DEVICES=0'"
# without --runtime the command is that of the runtime the lock records (moo run's choice:
# host when no --image is given), not an engine's the job would never run under
check "without --runtime, the command runs the lock's runtime" sh -c "'$MOO' resolve --offline -o - --json '$EX' |
	$PY -c 'import json,sys; d=json.load(sys.stdin); rt=d[\"runtime\"]; c=d[\"command\"]
sys.exit(not (c.startswith(\"env \") if rt == \"host\" else c.startswith(\"\x27%s\x27 \" % rt)))'"
expect_exit "an unknown runtime is exit 5" 5 "$MOO" resolve --offline --runtime rkt -o - "$EX"
contains "naming it" "$err" "unknown runtime 'rkt'"
contains "and the ones there are" "$err" "hint: choose docker, podman, apptainer or host"
expect_exit "a lock that cannot be written is exit 6" 6 "$MOO" resolve --offline --runtime docker \
	-o "$T/no/such/folder/moo.lock" "$EX"
contains "naming the file" "$err" "$T/no/such/folder/moo.lock"
contains "with a hint" "$err" "hint: check that the folder exists and is writable"
expect_exit "a lock written with -o" 0 "$MOO" resolve --offline --runtime docker -o "$T/x.lock" "$EX"
check "is the lock --json prints" sh -c "'$MOO' resolve --offline --runtime docker -o - --json '$EX' |
	/usr/bin/python3 -c 'import json,sys; a=json.load(sys.stdin); b=json.load(open(\"$T/x.lock\")); a.pop(\"lock_file\"); [d.pop(\"created\", None) for d in (a, b)]; sys.exit(a != b)'"
mkdir "$T/seed" && printf 'print(1)\n' >"$T/seed/tensorflow_test_mnist.py"
cat >"$T/seed/metadata.yaml" <<'EOT'
framework:
  name: tensorflow
  version: 1.12.0
  runtime: python2.7
model:
  name: EMNIST
entry_point: tensorflow_test_mnist.py
output_folder: training_result
EOT
expect_exit "the seed's tensorflow 1.12.0 / python2.7 resolves" 0 "$MOO" resolve --offline \
	--runtime docker -o - "$T/seed"
contains "to tensorflow/tensorflow:1.12.0, run with python2.7" "$out" "tensorflow/tensorflow:1.12.0' 'python2.7' '-u' 'tensorflow_test_mnist.py'"
done_testing
