#!/bin/sh
# Shell completion, driven the way bash drives it: COMP_WORDS and COMP_CWORD set, the
# function 'complete' registered for moo called, COMPREPLY read. Verbs, options, job ids
# and names from the store, host names from config.yaml, subcommands. zsh's file is
# checked for syntax (zsh -n), that it defines its function, and run with compsys's
# functions stubbed for what it offers.
. "$MOO_SRC/tests/cli/lib.sh"
export MOO_PYTHON=/usr/bin/python3
trap 'kill_jobs "$MOO_ROOT"/jobs/*/state; cleanup_dirs' EXIT
if ! command -v bash >/dev/null; then echo "1..0 # SKIP no bash"; exit 0; fi

# comp WORD...: what completing the last word (possibly empty) of 'moo WORD...' offers
comp() {
	bash -c '. "$1/completion/moo.bash" || exit 9
		fn=$(complete -p moo | sed -n "s/.*-F \([^ ]*\) moo$/\1/p")
		[ -n "$fn" ] || exit 8
		moo=$2; shift 2
		COMP_WORDS=("$moo" "$@"); COMP_CWORD=$#; COMP_LINE="moo $*"; COMP_POINT=${#COMP_LINE}
		"$fn" moo "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' sh "$MOO_SRC" "$MOO" "$@" | sort | tr '\n' ' '
}
is() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', wanted '$3'"; fi
}

is "verbs: 'moo re'" "$(comp re)" "reproduce resolve "
is "verbs: 'moo da'" "$(comp da)" "datasets "
is "verbs: 'moo ' offers every verb of moo --help, and help" "$(comp '')" "$({ "$MOO" --help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'; echo help; } | sort | tr '\n' ' ')"
is "options of the verb: 'moo run --o'" "$(comp run --o)" "--on "
is "options of the verb: 'moo datasets --old'" "$(comp datasets --old)" "--older-than "
is "option values: 'moo run --runtime p'" "$(comp run --runtime p)" "podman "
is "subcommands: 'moo datasets '" "$(comp datasets '')" "gc ls rm "
is "subcommands: 'moo hosts t'" "$(comp hosts t)" "trust "

"$MOO" hosts add gpu-one --address 127.0.0.1 >/dev/null
"$MOO" hosts add gpu-two --address 127.0.0.2 >/dev/null
is "hosts from config.yaml: 'moo run --on gpu'" "$(comp run --on gpu)" "gpu-one gpu-two "
is "hosts: 'moo hosts check gpu-t'" "$(comp hosts check gpu-t)" "gpu-two "
"$MOO" hosts check local >/dev/null 2>&1
hosts_ls=$("$MOO" hosts ls --json)
contains "(hosts ls --json names the OS and engines once a host is checked)" "$hosts_ls" '"facts": {'
is "hosts: only host names after a check, never the OS's or engines' names: 'moo hosts rm '" "$(comp hosts rm '')" "gpu-one gpu-two local "
is "hosts: the same for 'moo run --on '" "$(comp run --on '')" "gpu-one gpu-two local "
is "option values: 'moo hosts add x --runtime s' (hosts add takes singularity)" "$(comp hosts add x --runtime s)" "singularity "
is "option values: 'moo run --runtime s' (run does not)" "$(comp run --runtime s)" " "
mkdir -p "$T/keys" && : >"$T/keys/id_ed25519"
is "files: 'moo hosts add x --key $T/keys/'" "$(comp hosts add x --key "$T/keys/")" "$T/keys/id_ed25519 "
is "files: 'moo hosts add x --known-hosts $T/keys/'" "$(comp hosts add x --known-hosts "$T/keys/")" "$T/keys/id_ed25519 "
is "templates: 'moo init -t '" "$(comp init -t '')" "pytorch sklearn tensorflow "
is "templates: 'moo init --template py'" "$(comp init --template py)" "pytorch "

mkdir -p "$T/p"
printf 'print("hi")\nprint("moo:metric loss=0.5 step=1")\n' >"$T/p/train.py"
printf 'framework:\n  name: python\n  version: "3"\n  runtime: python3\nmodel:\n  name: t\nentry_point: train.py\n' >"$T/p/metadata.yaml"
"$MOO" run --name nightly-mnist "$T/p" >/dev/null 2>&1
id=$("$MOO" ps --all --json | jq "d[0]['id']")
is "job ids from the store: 'moo logs moo-job-'" "$(comp logs moo-job-)" "$id "
is "job names from the store: 'moo show nightly'" "$(comp show nightly)" "nightly-mnist "
wait_job() { for _i in $(seq 100); do "$MOO" ps --all --json | grep -q '"loss"' && return; sleep 0.1; done; }
wait_job
contains "(ps --json names the job's metric 'loss')" "$("$MOO" ps --all --json)" '"name": "loss"'
is "jobs: ids and names only, never a metric's name: 'moo logs '" "$(comp logs '')" "$id nightly-mnist "
is "moo diff completes job ids: 'moo diff moo-job-'" "$(comp diff moo-job-)" "$id "
is "moo predict completes job names: 'moo predict nightly'" "$(comp predict nightly)" "nightly-mnist "
contains "... then the files to send: 'moo predict $id $T/'" "$(comp predict "$id" "$T/")" "$T/p"
is "the verb found past an option's value: 'moo datasets --on gpu-one '" "$(comp datasets --on gpu-one '')" "gc ls rm "
contains "other verbs complete files: 'moo run $T/'" "$(comp run "$T/")" "$T/p"

if command -v zsh >/dev/null; then
	if zsh -n "$MOO_SRC/completion/_moo" && head -n 1 "$MOO_SRC/completion/_moo" | grep -qx '#compdef moo' &&
		zsh -fc "source '$MOO_SRC/completion/_moo' 2>/dev/null; whence -w _moo_jobs _moo_hosts" | grep -q '_moo_hosts: function'; then
		ok "zsh: _moo parses, is a #compdef moo file and defines its helpers"
	else not_ok "zsh: _moo"; fi
	# zcomp WORD...: what _moo offers for the last word, compsys's functions stubbed
	zcomp() {
		zsh -fc '_call_program() { shift; "$@"; }
			_describe() { print -l -- ${(P)4}; }
			_values() { shift; print -l -- "$@"; }
			_files() { print -- FILES; }
			compadd() { [[ $1 == -a ]] && print -l -- ${(P)2}; }
			moo=$1; shift
			words=("$moo" "$@"); CURRENT=$#words; PREFIX=${words[-1]}
			source "$0" 2>/dev/null' "$MOO_SRC/completion/_moo" "$MOO" "$@" | sort -u | tr '\n' ' '
	}
	is "zsh: host names only: 'moo hosts rm '" "$(zcomp hosts rm '')" "gpu-one gpu-two local "
	is "zsh: job ids and names only: 'moo logs '" "$(zcomp logs '')" "$id nightly-mnist "
	is "zsh: 'moo init -t '" "$(zcomp init -t '')" "pytorch sklearn tensorflow "
	is "zsh: 'moo hosts add x --key '" "$(zcomp hosts add x --key '')" "FILES "
	is "zsh: 'moo hosts add x --runtime '" "$(zcomp hosts add x --runtime '')" "apptainer docker host podman singularity "
else
	not_ok "zsh is in .ci/packages and should be here"
fi
done_testing
