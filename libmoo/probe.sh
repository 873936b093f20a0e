# moo's host probe: one POSIX sh script run on the host's one remote sh (probe.c parses it).
# $1: the moo root on the host, or empty for ${MOO_ROOT:-$HOME/.moo}.
# Each section starts with a line '@@moo NAME [ARG]'; a missing tool leaves its section out.
export LC_ALL=C
root=${1:-${MOO_ROOT:-$HOME/.moo}}
echo '@@moo probe 1'
echo '@@moo uname'
uname -s -r -m 2>/dev/null
if [ -r /etc/os-release ]; then echo '@@moo os-release'; cat /etc/os-release; fi
echo '@@moo cpus'
nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null
if [ -r /proc/meminfo ]; then echo '@@moo memory'; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; fi
d=$root
while [ ! -d "$d" ] && [ "$d" != / ] && [ -n "$d" ]; do d=$(dirname -- "$d"); done
# the root as hex, so any byte of it (a newline too) comes back as it was
printf '@@moo root-hex %s\n' "$(printf '%s' "$root" | od -A n -v -t x1 | tr -d ' \n')"
echo '@@moo df'
df -P -k -- "$d" 2>/dev/null
if command -v nvidia-smi >/dev/null 2>&1; then
	echo '@@moo nvidia-query'
	nvidia-smi --query-gpu=index,name,uuid,memory.total,memory.used,driver_version,compute_cap \
		--format=csv,noheader,nounits 2>&1
	echo '@@moo nvidia-smi'
	nvidia-smi 2>&1 | grep -m1 'Driver Version'
fi
if command -v npu-smi >/dev/null 2>&1; then echo '@@moo npu-smi'; npu-smi info 2>&1; fi
for e in docker podman apptainer singularity; do
	if command -v "$e" >/dev/null 2>&1; then
		printf '@@moo engine %s\n' "$e"
		"$e" --version 2>&1 | head -n 1
	fi
done
# Every Python at once. A version manager's shim (pyenv's take ~0.5 s each and may name no
# Python at all) is skipped; the versions it manages are asked by their real paths.
seen=' '
tmp=$(mktemp -d 2>/dev/null) || tmp=
i=0
for p in python3 python3.6 python3.7 python3.8 python3.9 python3.10 python3.11 python3.12 \
	python3.13 python3.14 /usr/bin/python3 /usr/bin/python3.* \
	"${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
	case $p in */python3.*-config | *'*'*) continue ;; esac
	q=$(command -v "$p" 2>/dev/null) || continue
	case $q in */shims/*) continue ;; esac
	case $seen in *" $q "*) continue ;; esac
	seen="$seen$q "
	i=$((i + 1))
	if [ -n "$tmp" ]; then
		{ printf '%s\n' "$q"; "$q" --version 2>&1 | head -n 1; } >"$tmp/$i" 2>/dev/null &
	else
		v=$("$q" --version 2>&1 | head -n 1)
		case $v in Python\ [0-9]*) printf '@@moo python %s\n%s\n' "$q" "$v" ;; esac
	fi
done
if [ -n "$tmp" ]; then
	wait
	n=1
	while [ $n -le $i ]; do
		{ read -r q && read -r v; } <"$tmp/$n" &&
			case $v in Python\ [0-9]*) printf '@@moo python %s\n%s\n' "$q" "$v" ;; esac
		n=$((n + 1))
	done
	rm -rf -- "$tmp"
fi
echo '@@moo end'
