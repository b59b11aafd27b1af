#!/usr/bin/env bash
# ganforge on a GPU, in one command: training throughput of each optimisation, a 3-minute
# training run and its FD, and generating + scoring 10,000 images. One table on stdout, and
# the same figures as JSON in benchmarks/results/device_check-<gpu>-<date>.json.
#
#   benchmarks/device_check.sh                 the full check on a CUDA GPU (under 8 minutes on one H100/H200)
#   benchmarks/device_check.sh --smoke         the same parts at toy sizes on the CPU (make test runs it)
#   benchmarks/device_check.sh --pack          on a machine that has Fashion-MNIST: fill .devcheck/ to carry along
#   options: --out FILE (the JSON's path), --copy-to DIR (also copy the JSON there after every part)
#
# What it measures (benchmarks/device_check.py has the details): for tf-tutorial (batch 256),
# best-fmnist and every registered preset whose name starts with stylegan or progan, img/s of
# full training steps as a naive eager fp32 loop (benchmarks/throughput.py's), ganforge fp32 with
# every option off, the default, and each optimisation alone (fused Adam, bf16 autocast,
# channels-last, CUDA graphs, a 4x batch, torch.compile with its compile time), with TFLOP/s, MFU
# against the GPU's dense bf16 peak (a table of GPU names in device_check.py) and peak GPU memory;
# then `ganforge train --preset best-fmnist --minutes 3`, `ganforge evaluate` on it (FD), and
# the time to generate and score 10,000 images.
#
# Python and torch. Nothing is installed from a network and ganforge is not installed at all: it
# runs from src/ (PYTHONPATH). The Python used is the first of $PYTHON, python3 and .venv/bin/python
# whose torch sees a CUDA device (--smoke: any torch) and that has numpy, pillow, tqdm and
# matplotlib. GPU machines without a network usually come with such a python3. If none qualifies
# and .devcheck/wheels/ holds wheels for that machine (torch with CUDA, or the missing packages),
# they are installed into a temporary folder with `pip install --no-index` and used.
#
# Data (the GPU machine may have no network, so nothing is downloaded). Fashion-MNIST's four IDX
# files are looked for, in order, in $GANFORGE_FMNIST, /usr/share/datasets/fashion-mnist (Debian's
# dataset-fashion-mnist package), .devcheck/fashion-mnist and ~/.cache/ganforge/fashion-mnist.
# When none has them the script stops at once, before any GPU time is spent, and says what to do:
# on a machine that has them, run `benchmarks/device_check.sh --pack`, which copies them (30 MB)
# into .devcheck/ (git ignores it: --pack adds it to .git/info/exclude), and bring .devcheck/ with
# the repository (copy it, or name it among the paths carried with the working tree).
# The FD uses the Fashion-MNIST evaluator that ships inside the package (src/ganforge/metrics/
# weights/), so it is the same network, hash and all, as every other ganforge FD.
#
# Time: every part runs under its own `timeout`, and each part rewrites the JSON after every row,
# so the script always ends, and always leaves what it measured. Limits (seconds, full run):
# env 25, each throughput preset 70, training 205 (3 minutes of training), evaluation 40,
# generate + score 25; the stylegan*/progan* presets only get time that is left under 7m35s.
# Where the machine's files do not come back by themselves, --copy-to DIR copies the JSON to DIR
# after every part (a folder the caller collects).
set -u
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
SMOKE=0; PACK=0; OUTFILE=""; COPY_TO=""
while [ $# -gt 0 ]; do
  case $1 in
    --smoke) SMOKE=1 ;;
    --pack) PACK=1 ;;
    --out) OUTFILE=$2; shift ;;
    --copy-to) COPY_TO=$2; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "device_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
CARRY=$ROOT/.devcheck
FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

has_fmnist() { for f in $FILES; do [ -s "$1/$f" ] || return 1; done; }

find_fmnist() {
  for d in "${GANFORGE_FMNIST:-}" /usr/share/datasets/fashion-mnist "$CARRY/fashion-mnist" \
           "${GANFORGE_CACHE:-$HOME/.cache/ganforge}/fashion-mnist"; do
    [ -n "$d" ] && has_fmnist "$d" && { echo "$d"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- --pack: what a GPU machine needs
if [ $PACK = 1 ]; then
  src=$(find_fmnist) || { echo "device_check.sh --pack: no Fashion-MNIST files here either (install Debian's" \
    "dataset-fashion-mnist, or run any ganforge command that loads fashion-mnist to download them)" >&2; exit 3; }
  mkdir -p "$CARRY/fashion-mnist"
  [ "$src" = "$CARRY/fashion-mnist" ] || cp "$src"/*.gz "$CARRY/fashion-mnist/"
  if [ -d .git ] || [ -f .git ]; then
    excl=$(git rev-parse --git-path info/exclude 2>/dev/null) && { grep -qx '/.devcheck/' "$excl" 2>/dev/null || echo '/.devcheck/' >> "$excl"; }
  fi
  echo "packed Fashion-MNIST from $src into .devcheck/ ($(du -sh "$CARRY" | cut -f1)); bring .devcheck/ with the repository"
  exit 0
fi

# ---------------------------------------------------------------- the data first: it decides what to carry
if [ $SMOKE = 0 ]; then
  DATA=$(find_fmnist) || {
    echo "device_check.sh: Fashion-MNIST not found (looked in \$GANFORGE_FMNIST, /usr/share/datasets/fashion-mnist," \
         ".devcheck/fashion-mnist, ~/.cache/ganforge/fashion-mnist) and this script downloads nothing." >&2
    echo "  On a machine that has it: benchmarks/device_check.sh --pack   (copies 30 MB into .devcheck/)" >&2
    echo "  then bring the folder .devcheck/ along with the repository (carry it) and run this again." >&2
    exit 3; }
fi

# ---------------------------------------------------------------- Python with torch (and CUDA)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ganforge-devcheck.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
probe='import torch, numpy, PIL, tqdm, matplotlib, sys; sys.exit(0 if torch.cuda.is_available() or sys.argv[1] == "1" else 3)'
pick_python() {
  for py in "${PYTHON:-}" python3 "$ROOT/.venv/bin/python"; do
    [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 && "$py" -c "$probe" $SMOKE 2>/dev/null && { echo "$py"; return 0; }
  done
  return 1
}
PY=$(pick_python)
if [ -z "$PY" ] && ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
  for py in "${PYTHON:-}" python3; do
    [ -n "$py" ] && command -v "$py" >/dev/null 2>&1 || continue
    "$py" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$CARRY"/wheels/*.whl >/dev/null 2>&1 &&
      PYTHONPATH=$WORK/site "$py" -c "$probe" $SMOKE 2>/dev/null && { PY=$py; export PYTHONPATH=$WORK/site; break; }
  done
fi
if [ -z "$PY" ]; then
  echo "device_check.sh: no Python here has torch$([ $SMOKE = 1 ] || echo ' with a CUDA device') and numpy, pillow," \
       "tqdm, matplotlib (tried \$PYTHON, python3, .venv/bin/python; .devcheck/wheels/ has no wheels that fix it)" >&2
  exit 4
fi
export PYTHONPATH=$ROOT/src${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

# ---------------------------------------------------------------- data, cache
export GANFORGE_CACHE=$WORK/cache
mkdir -p "$GANFORGE_CACHE"
if [ $SMOKE = 1 ]; then
  DATA=$WORK/fmnist  # a stand-in with Fashion-MNIST's file format: the same code paths, toy sizes
  "$PY" - "$DATA" <<'PYEOF' || exit 5
import gzip, struct, sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[1]); out.mkdir(parents=True)
rng = np.random.default_rng(0)
for stem, n in (("train", 256), ("t10k", 128)):
    labels = np.arange(n, dtype=np.uint8) % 10
    images = (rng.random((n, 28, 28)) * 40 * (1 + labels[:, None, None] % 3)).astype(np.uint8)
    (out / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes()))
    (out / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">II", 2049, n) + labels.tobytes()))
PYEOF
  DEVICE=cpu
  export OMP_NUM_THREADS=1  # toy sizes: one thread is fastest, and a busy machine's spinning threads cost seconds
else
  DEVICE=cuda
fi

GPU=$("$PY" -c 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")' 2>/dev/null)
SLUG=$(echo "${GPU:-gpu}" | tr 'A-Z' 'a-z' | sed 's/^nvidia //; s/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//')
if [ -z "$OUTFILE" ]; then
  if [ $SMOKE = 1 ]; then OUTFILE=$WORK/device_check-smoke.json
  else OUTFILE=$ROOT/benchmarks/results/device_check-$SLUG-$(date -u +%Y%m%d-%H%M).json; fi
fi
mkdir -p "$(dirname "$OUTFILE")"
echo "device_check: python $PY, device $DEVICE ($GPU), data $DATA, JSON $OUTFILE"

# ---------------------------------------------------------------- the parts, each under its own limit
BUDGET=455; [ $SMOKE = 1 ] && BUDGET=55  # seconds: the stylegan*/progan* presets get what is left of it
DC="$PY $ROOT/benchmarks/device_check.py"
SM=""; [ $SMOKE = 1 ] && SM=--smoke
part() {  # part NAME LIMIT_S ARGS...: run one part; a part that fails or overruns is noted in the JSON
  local name=$1 limit=$2; shift 2
  [ $SMOKE = 1 ] && limit=120  # toy sizes: the limit only guards against a hang (a busy machine is slow)
  echo "[${SECONDS}s] $name (limit ${limit} s)"
  timeout -k 5 "$limit" $DC "$@" --out "$OUTFILE" --device $DEVICE $SM
  local rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then $DC note --out "$OUTFILE" --part "$name" --status "stopped at its ${limit} s limit"
  elif [ $rc != 0 ]; then $DC note --out "$OUTFILE" --part "$name" --status "failed (exit $rc)"; fi
  [ -n "$COPY_TO" ] && mkdir -p "$COPY_TO" && cp "$OUTFILE" "$COPY_TO/" 2>/dev/null
  return 0
}

part env 25 env
part "throughput tf-tutorial" 70 throughput --preset tf-tutorial --batch-size 256 --deadline 55
part "throughput best-fmnist" 70 throughput --preset best-fmnist --deadline 55
part train 205 train --run "$WORK/run" --data-dir "$DATA" --minutes 3
part evaluate 40 evaluate --run "$WORK/run"
part genscore 25 genscore
for preset in $($DC extra-presets 2>/dev/null); do
  left=$(( BUDGET - SECONDS ))
  if [ $left -lt 25 ]; then $DC note --out "$OUTFILE" --part "throughput $preset" --status "skipped: no time left"; continue; fi
  limit=$(( left < 60 ? left : 60 ))
  part "throughput $preset" $limit throughput --preset "$preset" --deadline $(( limit - 15 ))
done
$DC report --out "$OUTFILE"
echo "total ${SECONDS} s"
