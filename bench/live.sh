#!/usr/bin/env bash
# Live views against files, in one sitting: the README main job's training command (resnet-small,
# 64 px, batch 64, 10 epochs on the built-in library's 12 x 20 objects, 50 views) on the files of
# `render --views 50` and on the same views rendered as it trains (`train --render --views 50`).
# Prints each run's images/s (both views, data and step together; render/load and step rates
# from the last epoch line), the load average, and `live/files: X.XXx the images/s`.
#
# Knobs: OUT (work folder, default /tmp/bench-live), EPOCHS (10), RENDER_THREADS (train
# --render-threads, 2), ROUNDS (1: each command once; more alternate files/live).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/bench-live}
EPOCHS=${EPOCHS:-10}
RENDER_THREADS=${RENDER_THREADS:-2}
ROUNDS=${ROUNDS:-1}
export NODEVICE_SELECT=${NODEVICE_SELECT:-1}
cargo build --release --quiet --bin render --bin train
BIN=target/release
mkdir -p "$OUT"
if [ ! -f "$OUT/ds/manifest.json" ] || [ ! -f "$OUT/ds/train_images.npy" ]; then
  echo "rendering the main job's dataset into $OUT/ds"
  "$BIN/render" --views 50 --out "$OUT/ds" --library "$OUT/lib"
fi
SHAPE=(--arch resnet-small --resolution 64 --batch-size 64 --epochs "$EPOCHS" --quiet)

# Runs train into a fresh folder; prints "<images/s> <last epoch line>".
run() {
  local exp=$1; shift
  rm -rf "$exp"
  local log
  log=$("$BIN/train" --exp-dir "$exp" "${SHAPE[@]}" "$@" 2>&1) || { echo "$log" >&2; exit 1; }
  local ips
  ips=$(echo "$log" | sed -n 's/^done: .*steps, \([0-9.]*\) images\/s.*/\1/p')
  local rates
  rates=$(python3 - "$exp/log.jsonl" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if '"epoch"' in l]
e = [x for x in e if x.get("type") == "epoch"]
last = e[-1]
print(f"last epoch: data path {last['data_images_per_s']:.0f} img/s, step {last['step_images_per_s']:.0f} img/s")
PY
)
  echo "$ips $rates"
}

files_sum=0; live_sum=0
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  f=$(run "$OUT/files" --data "$OUT/ds")
  echo "  files: ${f%% *} images/s (${f#* })"
  l=$(run "$OUT/live" --render --views 50 --library "$OUT/lib" --render-threads "$RENDER_THREADS")
  echo "  live:  ${l%% *} images/s (${l#* })"
  files_sum=$(python3 -c "print($files_sum + ${f%% *})")
  live_sum=$(python3 -c "print($live_sum + ${l%% *})")
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "print(f'live/files: {$live_sum / $files_sum:.2f}x the images/s')"
