#!/usr/bin/env bash
# Side-by-side CPU benchmark of one SIE-shaped ResNet-18 training step (64 px, 32 images per
# view, two views: "images/s" counts both views) in three implementations:
#   candle-fast   trainer/src/bin/bench_step.rs on trainer::ops (custom CPU ops, fused Adam)
#   pytorch       bench/train_step.py, the same network and step in PyTorch (CPU)
#   candle-stock  the same binary on trainer::ops::reference (stock candle ops, tensor-op Adam)
# Each runs WARMUP steps, then STEPS timed steps, and reports the median and its own peak RSS.
# The implementations alternate for ROUNDS rounds so that other load on the machine hits all of
# them alike; `uptime` is printed around every run. Not part of the tests or CI.
#
# Environment: THREADS (2), STEPS (7), WARMUP (2), ROUNDS (2), STOCK_STEPS (3), BATCH (32),
# RESOLUTION (64), TORCH_VENV (/tmp/torchbench: created with `pip install torch` from PyPI when
# missing; the Linux wheel pulls its CUDA libraries, ~5 GiB on disk, though only the CPU is used).
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-2}
STEPS=${STEPS:-7}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
STOCK_STEPS=${STOCK_STEPS:-3}
BATCH=${BATCH:-32}
RESOLUTION=${RESOLUTION:-64}
VENV=${TORCH_VENV:-/tmp/torchbench}

cargo build --release -p trainer --bin bench_step
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet torch
fi

export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
shape=(--batch "$BATCH" --resolution "$RESOLUTION" --warmup "$WARMUP")

run() {
    echo "== $1: load $(uptime | sed 's/.*load average: //')" >&2
    shift
    # Each program prints one summary line on stdout; per-step times go to stderr.
    "$@" 2>/dev/null | tee -a "$LOG"
}

for round in $(seq "$ROUNDS"); do
    echo "== round $round" >&2
    run candle-fast ./target/release/bench_step --impl fast "${shape[@]}" --steps "$STEPS"
    run pytorch "$VENV/bin/python" bench/train_step.py "${shape[@]}" --steps "$STEPS" --threads "$THREADS"
    run candle-stock ./target/release/bench_step --impl stock "${shape[@]}" --steps "$STOCK_STEPS"
done
echo "== done: load $(uptime | sed 's/.*load average: //')" >&2

# Summary: the best round of each (the least disturbed by other load), and fast vs the others.
python3 - "$LOG" <<'EOF'
import re, sys
best = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+?)-(\S+) .*median ([\d.]+) s/step, ([\d.]+) images/s.*peak RSS (\d+) MiB", line)
    if not m:
        continue
    name = {"candle-Fast": "candle-fast", "candle-Stock": "candle-stock"}.get(f"{m[1]}-{m[2]}", m[1])
    ips, rss = float(m[4]), int(m[5])
    if name not in best or ips > best[name][0]:
        best[name] = (ips, rss, float(m[3]))
print(f"{'implementation':<14} {'s/step':>8} {'images/s':>9} {'peak RSS MiB':>13}")
for name, (ips, rss, secs) in best.items():
    print(f"{name:<14} {secs:8.3f} {ips:9.1f} {rss:13d}")
if "candle-fast" in best and "pytorch" in best:
    f, t = best["candle-fast"], best["pytorch"]
    print(f"candle-fast / pytorch: {f[0] / t[0]:.2f}x the images/s, {f[1] / t[1]:.2f}x the peak RSS")
if "candle-fast" in best and "candle-stock" in best:
    print(f"candle-fast / candle-stock: {best['candle-fast'][0] / best['candle-stock'][0]:.1f}x the images/s")
EOF
