#!/bin/sh
# moo pack against Info-ZIP's zip -r -X on the same 1 GiB tree of mixed files, side by side.
#   bench/pack.sh [MOO] [SIZE_MIB]     (MOO defaults to build/cli/moo, SIZE_MIB to 1024)
# The tree: a third text (Python, CSV, logs), a third random binary (.bin, .pt, .npy), a
# third already-compressed (.gz made with gzip, and high-entropy .png/.zip/.npz). Both tools
# run with a warm page cache, twice each, alternating; the best of each is kept.
set -eu
MOO=${1:-build/cli/moo}
MIB=${2:-1024}
PY=/usr/bin/python3
command -v zip >/dev/null || { echo "zip not installed (apt-get install zip)" >&2; exit 1; }
d=$(mktemp -d "${TMPDIR:-/tmp}/moo-bench.XXXXXX")
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/tree"
cp "$(dirname "$0")/../templates/sklearn/metadata.yaml" "$(dirname "$0")/../templates/sklearn/train.py" \
	"$(dirname "$0")/../templates/sklearn/predict.py" "$d/tree/"

$PY - "$d/tree" "$MIB" <<'PYEOF'
import gzip, os, random, sys
root, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(42)
third = (mib << 20) // 3
words = ("def class return import self model train loss epoch batch tensor numpy data "
         "for in if else while print learning_rate optimizer layer weight bias").split()
lines = []
for i in range(40000):
    k = rng.randrange(4)
    if k == 0:
        lines.append("    " * rng.randrange(4) + " ".join(rng.choice(words) for _ in range(rng.randrange(3, 12))))
    elif k == 1:
        lines.append(",".join("%.6f" % rng.random() for _ in range(8)))
    elif k == 2:
        lines.append("2024-05-%02d 12:%02d:%02d INFO epoch %d loss %.5f acc %.4f" % (
            rng.randrange(1, 29), rng.randrange(60), rng.randrange(60), rng.randrange(100), rng.random(), rng.random()))
    else:
        lines.append("# " + " ".join(rng.choice(words) for _ in range(rng.randrange(5, 15))))
vocab = ("\n".join(lines) + "\n").encode()

def text(n):
    out, have = [], 0
    while have < n:
        a = rng.randrange(len(vocab) - 65536)
        piece = vocab[a:a + rng.randrange(4096, 65536)]
        out.append(piece)
        have += len(piece)
    return b"".join(out)[:n]

def put(rel, data):
    p = os.path.join(root, rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)

done, i = 0, 0
while done < third:  # text: many small files and a few large
    n = rng.choice([2000, 8000, 30000, 120000, 500000, 4 << 20, 16 << 20])
    ext = rng.choice([".py", ".csv", ".log", ".txt", ".json"])
    put("src/pkg%d/mod%d%s" % (i % 40, i, ext), text(n))
    done, i = done + n, i + 1
done = 0
while done < third:  # random binary
    n = rng.choice([64 << 10, 1 << 20, 8 << 20, 32 << 20])
    put("weights/part%d%s" % (i, rng.choice([".bin", ".pt", ".npy"])), os.urandom(n))
    done, i = done + n, i + 1
done = 0
while done < third:  # already compressed
    if rng.random() < 0.5:
        data = gzip.compress(text(rng.choice([1 << 20, 8 << 20])), 1)
        put("data/shard%d.csv.gz" % i, data)
    else:
        data = os.urandom(rng.choice([256 << 10, 2 << 20, 16 << 20]))
        put("assets/img%d%s" % (i, rng.choice([".png", ".zip", ".npz"])), data)
    done, i = done + len(data), i + 1
PYEOF

size=$(du -sb "$d/tree" | cut -f1)
files=$(find "$d/tree" -type f | wc -l)
cat $(find "$d/tree" -type f) >/dev/null   # warm the page cache for both
now() { date +%s.%N; }
t_moo=999999 t_zip=999999
for round in 1 2; do
	rm -f "$d/moo.zip" "$d/zip.zip"
	s=$(now); "$MOO" pack "$d/tree" -o "$d/moo.zip" >/dev/null 2>&1; e=$(now)
	t_moo=$(echo "$s $e $t_moo" | awk '{t = $2 - $1; print (t < $3 ? t : $3)}')
	s=$(now); (cd "$d/tree" && zip -r -X -q "$d/zip.zip" .); e=$(now)
	t_zip=$(echo "$s $e $t_zip" | awk '{t = $2 - $1; print (t < $3 ? t : $3)}')
done
echo "tree: $files files, $size bytes ($(nproc) cores, $(uname -m))"
echo "moo pack:     $(printf '%.2f' "$t_moo") s  -> $(wc -c <"$d/moo.zip") bytes"
echo "zip -r -X -q: $(printf '%.2f' "$t_zip") s  -> $(wc -c <"$d/zip.zip") bytes"
echo "ratio moo/zip: $(echo "$t_moo $t_zip" | awk '{printf "%.3f", $1 / $2}') (goal <= 1.0)"
