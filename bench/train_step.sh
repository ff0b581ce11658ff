#!/usr/bin/env bash
# Side-by-side CPU benchmark of one SIE-shaped ResNet-18 training step (64 px, 32 images per
# view, two views: "images/s" counts both views) in three implementations:
#   candle-fast   trainer/src/bin/bench_step.rs on trainer::ops (custom CPU ops, fused Adam)
#   pytorch       bench/train_step.py, the same network and step in PyTorch (CPU)
#   candle-stock  the same binary on trainer::ops::reference (stock candle ops, tensor-op Adam)
# Each runs WARMUP steps, then STEPS timed steps, and reports the median and its own peak RSS.
# The implementations alternate for ROUNDS rounds so that other load on the machine hits all of
# them alike; `uptime` is printed around every run. On a shared machine wall time is at the mercy
# of other load (and PyTorch's OpenMP threads suffer far more from it than candle's), so a last
# pass runs candle-fast and PyTorch on ONE thread and compares CPU seconds per step: the work
# each needs, which other load hardly changes. Not part of the tests or CI.
#
# Environment: THREADS (2), CANDLE_THREADS (1, see below), STEPS (7), WARMUP (2), ROUNDS (2), STOCK_STEPS (3), BATCH (32),
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
# candle's elementwise ops run on a barrier pool of their own whose workers spin between ops; on 2
# cores that pool and rayon's (which the custom ops and gemm use) fight over the cores. One
# thread for candle's pool measured faster here (CPU 1.45 vs 2.0 s/step, wall 1.6-1.9 vs 2.6-2.9
# s/step with other load); CANDLE_THREADS overrides.
export CANDLE_NUM_THREADS=${CANDLE_THREADS:-1}
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
echo "== one thread, CPU time" >&2
run_one_thread() {
    echo "== $1, one thread: load $(uptime | sed 's/.*load average: //')" >&2
    shift
    RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 "$@" 2>/dev/null | sed 's/^/1-thread /' | tee -a "$LOG"
}
run_one_thread candle-fast ./target/release/bench_step --impl fast "${shape[@]}" --steps "$STEPS"
run_one_thread pytorch "$VENV/bin/python" bench/train_step.py "${shape[@]}" --steps "$STEPS" --threads 1
echo "== done: load $(uptime | sed 's/.*load average: //')" >&2

# Summary: the best round of each (the least disturbed by other load), and fast vs the others.
python3 - "$LOG" <<'EOF'
import re, sys
best, cpu1 = {}, {}
for line in open(sys.argv[1]):
    one = re.match(r"1-thread (\S+?)-.* cpu ([\d.]+) s/step", line)
    if one:
        cpu1[one[1]] = float(one[2])
        continue
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
if "candle" in cpu1 and "pytorch" in cpu1:
    print(f"one thread, CPU s/step: candle-fast {cpu1['candle']:.2f}, pytorch {cpu1['pytorch']:.2f}: "
          f"candle-fast does {cpu1['pytorch'] / cpu1['candle']:.2f}x PyTorch's images per CPU second")
EOF
