#!/usr/bin/env bash
# The real SIE training step, candle against PyTorch, side by side (bench/README.md says how to
# read it). For each shape:
#   1. same computation: `bench_step --dump` writes our initial weights, a batch, the losses and
#      every gradient; bench/train_step.py --check loads them into the PyTorch model and compares
#      (losses, gradients, weights after one Adam step); a mismatch stops the benchmark;
#   2. speed: bench_step (train's own model, loss, online evaluator and Adam through
#      trainer::train::train_step) and bench/train_step.py (the reference model in PyTorch) take
#      turns for ROUNDS rounds on THREADS threads, then on one thread; each reports the median of
#      STEPS timed steps after WARMUP, images/s (both views counted) and its peak RSS.
# Then the whole `train` command, loader included, beside a PyTorch DataLoader loop on the same
# rendered dataset (DATA, rendered with the README's main command when missing).
# Not part of the tests or CI.
#
# Environment: THREADS (2), STEPS (7), WARMUP (2), ROUNDS (2), EPOCHS (5, the loader comparison),
# SHAPES (all: resnet18 main), DATA (./3diebench), TORCH_VENV (/tmp/torchbench: created with
# `pip install torch safetensors pillow numpy` from PyPI when missing; the Linux wheel pulls its
# CUDA libraries, ~5 GiB on disk, though only the CPU is used).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
STEPS=${STEPS:-7}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
EPOCHS=${EPOCHS:-5}
SHAPES=${SHAPES:-"resnet18 main"}
DATA=${DATA:-./3diebench}
VENV=${TORCH_VENV:-/tmp/torchbench}

bash scripts/setup.sh  # OpenMPI for the trainer's default `mpi` feature, lavapipe for rendering DATA
cargo build --release -p trainer --bin bench_step --bin train
if ! "$VENV/bin/python" -c "import torch, safetensors, PIL" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch safetensors pillow numpy
fi
# candle's elementwise pool and rayon's share the cores (see kernels::prefer_single_candle_thread).
export CANDLE_NUM_THREADS=1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOG=$WORK/log

# shape name -> train's flags (bench_step) and the PyTorch script's.
flags() {
    case $1 in
        # The reference's defaults scaled down in batch and resolution only.
        resnet18) echo "--arch resnet18 --resolution 64 --batch-size 32 --mlp 2048-2048-2048" ;;
        # The README's main job.
        main) echo "--arch resnet-small --resolution 64 --batch-size 64" ;;
        *) echo "unknown shape $1" >&2; exit 2 ;;
    esac
}
py_flags() {
    case $1 in
        resnet18) echo "--arch resnet18 --resolution 64 --batch 32 --mlp 2048-2048-2048" ;;
        main) echo "--arch resnet-small --resolution 64 --batch 64 --mlp 1024-1024-1024" ;;
    esac
}
load() { uptime | sed 's/.*load average: //'; }

for shape in $SHAPES; do
    read -ra cf <<<"$(flags "$shape")"
    read -ra pf <<<"$(py_flags "$shape")"
    echo "== $shape: same computation (load $(load))" >&2
    ./target/release/bench_step --dump "$WORK/$shape" -- "${cf[@]}"
    "$VENV/bin/python" bench/train_step.py "${pf[@]}" --threads "$THREADS" --check "$WORK/$shape"
    thread_counts=$THREADS
    [ "$THREADS" != 1 ] && thread_counts="$THREADS 1"
    for threads in $thread_counts; do
        for round in $(seq "$ROUNDS"); do
            echo "== $shape, $threads threads, round $round: load $(load)" >&2
            RAYON_NUM_THREADS=$threads ./target/release/bench_step --warmup "$WARMUP" --steps "$STEPS" -- "${cf[@]}" \
                2>/dev/null | sed "s/^/$shape $threads | /" | tee -a "$LOG"
            OMP_NUM_THREADS=$threads "$VENV/bin/python" bench/train_step.py "${pf[@]}" --threads "$threads" \
                --warmup "$WARMUP" --steps "$STEPS" 2>/dev/null | sed "s/^/$shape $threads | /" | tee -a "$LOG"
        done
    done
done

echo "== whole train vs a PyTorch DataLoader loop on $DATA (load $(load))" >&2
if [ ! -f "$DATA/train_images.npy" ]; then
    cargo build --release --bin render
    ./target/release/render --views 50 --out "$DATA"
fi
RAYON_NUM_THREADS=$THREADS ./target/release/train --data "$DATA" --exp-dir "$WORK/train" --arch resnet-small \
    --resolution 64 --batch-size 64 --epochs "$EPOCHS" --quiet --num-workers "$THREADS" 2>/dev/null
python3 - "$WORK/train/log.jsonl" "$EPOCHS" <<'EOF' | tee -a "$LOG"
import json, statistics, sys
rates = [json.loads(l)["images_per_s"] for l in open(sys.argv[1]) if '"epoch"' in l and '"images_per_s"' in l]
print(f"train | candle train command, loader included: median {statistics.median(rates):.1f} images/s over {sys.argv[2]} epochs")
EOF
OMP_NUM_THREADS=$THREADS "$VENV/bin/python" bench/train_step.py $(py_flags main) --threads "$THREADS" \
    --data "$DATA" --epochs "$EPOCHS" --num-workers "$THREADS" --num-classes 0 2>/dev/null | sed "s/^/train | /" | tee -a "$LOG"
echo "== done: load $(load)" >&2

# The table: per shape and thread count, the best round of each (the least disturbed by other load).
python3 - "$LOG" <<'EOF'
import re, sys
rows, train = {}, {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\d+) \| (candle|pytorch)\S* .*median ([\d.]+) s/step, ([\d.]+) images/s, cpu ([\d.]+) s/step, peak RSS (\d+) MiB", line)
    if m:
        key = (m[1], int(m[2]))
        best = rows.setdefault(key, {}).get(m[3])
        if best is None or float(m[5]) > best[1]:
            rows[key][m[3]] = (float(m[4]), float(m[5]), float(m[6]), int(m[7]))
        continue
    t = re.match(r"train \| (candle|pytorch).*?median ([\d.]+) images/s", line)
    if t:
        train[t[1]] = float(t[2])
names = {"resnet18": "resnet18 64px batch 32x2 mlp 2048-2048-2048", "main": "resnet-small 64px batch 64x2 (README main job)"}
for (shape, threads), r in rows.items():
    print(f"\n{names.get(shape, shape)}, {threads} thread{'s' if threads > 1 else ''}")
    print(f"  {'':8} {'s/step':>8} {'images/s':>9} {'cpu s/step':>10} {'peak RSS':>9}")
    for impl in ("candle", "pytorch"):
        if impl in r:
            s, ips, cpu, rss = r[impl]
            print(f"  {impl:8} {s:8.3f} {ips:9.1f} {cpu:10.2f} {rss:5d} MiB")
    if "candle" in r and "pytorch" in r:
        rss = r["candle"][3] / r["pytorch"][3]
        print(f"  peak RSS candle / pytorch: {rss:.2f}x")
        print(f"candle / pytorch ({shape}, {threads} thread{'s' if threads > 1 else ''}): {r['candle'][1] / r['pytorch'][1]:.2f}x the images/s")
if train:
    print("\nwhole train command (loader included) vs a PyTorch DataLoader loop, resnet-small 64px batch 64")
    for impl, v in train.items():
        print(f"  {impl:8} {v:8.1f} images/s")
    if len(train) == 2:
        print(f"candle / pytorch (train, loader included): {train['candle'] / train['pytorch']:.2f}x the images/s")
EOF
