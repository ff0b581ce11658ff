#!/usr/bin/env bash
# The pilot of experiments/pilot.md: two set-ups x SIE/VICReg, each judged by `eval quick`.
# Writes $WORK (default /tmp/pilot) and prints one line per run; the record goes to
# experiments/results/pilot.md by hand, with the numbers these lines show.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/pilot}
BIN=${BIN:-target/release}
EPOCHS=${EPOCHS:-40}
mkdir -p "$WORK"
export NODEVICE_SELECT=1
for setup in A B; do
  config=manifests/first-run.toml; [ "$setup" = B ] && config=manifests/3diebench.toml
  data=$WORK/data-$setup
  "$BIN/render" --views 4 --image-size 64 --per-class 250 --config "$config" --library "$WORK/library" \
    --out "$data" 2>"$WORK/render-$setup.log" || { tail "$WORK/render-$setup.log"; exit 1; }
  for method in SIE VICReg; do
    exp=$WORK/run-$setup-$method
    start=$(date +%s)
    "$BIN/train" --data "$data" --exp-dir "$exp" --experience "$method" --arch resnet-small --resolution 32 \
      --batch-size 64 --mlp 128-128-128 --epochs "$EPOCHS" --seed 0 --quiet 2>"$exp.log"
    "$BIN/eval" --checkpoint "$exp" --data "$data" quick --out "$exp/judgement.json" >"$exp.judgement.txt" 2>&1
    echo "== set-up $setup, $method, $EPOCHS epochs, $(($(date +%s) - start)) s (load $(cut -d' ' -f1 /proc/loadavg))"
    grep -E "top-1|rotation" "$exp.judgement.txt"
  done
done
