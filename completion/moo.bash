# bash completion for moo(1): verbs, their options, job ids and names from the store,
# host names from config.yaml (moo hosts ls), subcommands and option values.
# Installed as share/bash-completion/completions/moo; or source it from ~/.bashrc.

# Each helper asks moo itself (its path: the command line's first word); nothing is cached.
_moo_verbs() {
	"${1:-moo}" --help 2>/dev/null | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p'
}
_moo_opts() {
	"$1" "$2" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}
# The lists are read from the commands' --json output as moo prints it (two spaces an
# indent): the members of each object of the top array are indented four spaces, so the
# names nested deeper (a job's metrics, a host's OS and engines) are never taken.
_moo_jobs() {
	# ids and names of the jobs in the store
	"$1" ps --all --json 2>/dev/null | sed -n 's/^    "\(id\|name\)": "\([^"]*\)".*/\2/p'
}
_moo_hosts() {
	"$1" hosts ls --json 2>/dev/null | sed -n 's/^    "name": "\([^"]*\)".*/\1/p'
}
_moo_datasets() {
	"$1" datasets ls --json ${2:+--on "$2"} 2>/dev/null |
		sed -n 's/^    "\(sha256\|name\)": "\([^"]*\)".*/\2/p'
}

_moo() {
	local cur prev moo verb i on= words=() sub=
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	moo=${COMP_WORDS[0]}
	# the verb: the first word after moo that is not an option
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i - 1]} in
		--on | --runtime | --accelerator | --template | -t | --name | --set | --image | -o | \
			--output | --older-than | --port | --to | --timeout | --root | --address | \
			--user | --key | --known-hosts | --tail | --status)
			continue
			;;
		esac
		case ${COMP_WORDS[i]} in
		-*) ;;
		*)
			if [ -z "${verb:-}" ]; then
				verb=${COMP_WORDS[i]}
			elif [ -z "$sub" ]; then
				sub=${COMP_WORDS[i]}
			fi
			;;
		esac
		[ "${COMP_WORDS[i]}" = --on ] && on=${COMP_WORDS[i + 1]}
	done
	if [ -z "${verb:-}" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "--help --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_moo_verbs "$moo") help" -- "$cur")
		fi
		return 0
	fi
	case $prev in
	--on)
		mapfile -t COMPREPLY < <(compgen -W "$({ echo local; _moo_hosts "$moo"; } | sort -u)" -- "$cur")
		return 0
		;;
	--runtime)
		# hosts add also takes singularity (apptainer's old name); run and sweep do not
		i="docker podman apptainer host"
		[ "$verb" = hosts ] && i="$i singularity"
		mapfile -t COMPREPLY < <(compgen -W "$i" -- "$cur")
		return 0
		;;
	--accelerator)
		mapfile -t COMPREPLY < <(compgen -W "cpu gpu npu" -- "$cur")
		return 0
		;;
	--template)
		mapfile -t COMPREPLY < <(compgen -W "pytorch sklearn tensorflow" -- "$cur")
		return 0
		;;
	-t)
		# -t is --template only for init
		if [ "$verb" = init ]; then
			mapfile -t COMPREPLY < <(compgen -W "pytorch sklearn tensorflow" -- "$cur")
			return 0
		fi
		;;
	-o | --output | --lock | --config | --key | --known-hosts)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_moo_opts "$moo" "$verb")" -- "$cur")
		return 0
	fi
	case $verb in
	help)
		mapfile -t COMPREPLY < <(compgen -W "$(_moo_verbs "$moo")" -- "$cur")
		;;
	status | show | logs | cancel | fetch | rm | compare | reproduce | ssh | serve | publish | diff)
		mapfile -t COMPREPLY < <(compgen -W "$(_moo_jobs "$moo")" -- "$cur")
		;;
	predict) # JOB|URL, then the files to send
		if [ -z "$sub" ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_moo_jobs "$moo")" -- "$cur")
		else
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		;;
	hosts)
		if [ -z "$sub" ]; then
			mapfile -t COMPREPLY < <(compgen -W "add ls rm trust check" -- "$cur")
		elif [ "$sub" != add ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_moo_hosts "$moo")" -- "$cur")
		fi
		;;
	datasets)
		if [ -z "$sub" ]; then
			mapfile -t COMPREPLY < <(compgen -W "ls rm gc" -- "$cur")
		elif [ "$sub" = rm ]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_moo_datasets "$moo" "$on")" -- "$cur")
		fi
		;;
	*)
		# projects: folders, .zip bundles and metadata.yaml files
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	esac
	return 0
}
complete -F _moo moo
