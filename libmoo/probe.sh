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
printf '@@moo root %s\n' "$root"
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
seen=' '
for p in python3 python3.6 python3.7 python3.8 python3.9 python3.10 python3.11 python3.12 \
	python3.13 python3.14 /usr/bin/python3 /usr/bin/python3.*; do
	case $p in */python3.*-config | *'*'*) continue ;; esac
	q=$(command -v "$p" 2>/dev/null) || continue
	case $seen in *" $q "*) continue ;; esac
	seen="$seen$q "
	v=$("$q" --version 2>&1 | head -n 1)
	case $v in Python\ [0-9]*) printf '@@moo python %s\n%s\n' "$q" "$v" ;; esac
done
echo '@@moo end'
