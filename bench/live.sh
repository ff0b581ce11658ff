#!/usr/bin/env bash
# Live views against files, in one sitting: the README main job's training command on the files of
# its render command, and on the same views rendered as it trains (`train --render`, the same
# objects, split, configuration and views). Prints each run's images/s (both views, data and step
# together), the render/load and step rates of its last epoch, the load average, and
# `live/files: X.XXx the images/s`.
#
# Knobs: OUT (work folder, default /tmp/bench-live; -main or -256 is appended), EPOCHS (3), RENDER_THREADS (train
# --render-threads, 2), ROUNDS (1; more alternate files and live), SHAPE=256 for the earlier main
# job (12 x 20 objects x 50 views at 256 px, trained at 64 px, batch 64).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/bench-live}-${SHAPE:-main}
EPOCHS=${EPOCHS:-3}
RENDER_THREADS=${RENDER_THREADS:-2}
ROUNDS=${ROUNDS:-1}
export NODEVICE_SELECT=${NODEVICE_SELECT:-1}
if [ "${SHAPE:-main}" = 256 ]; then
  JOB=(--views 50)                                   # render's flags: the dataset
  LIVE=(--render --views 50)                         # train's flags for the same views
  SHAPE_FLAGS=(--arch resnet-small --resolution 64 --batch-size 64)
else
  # README command 1: 12 x 250 objects x 4 views at 64 px, the first-run preset; SIE at 32 px.
  JOB=(--views 4 --image-size 64 --per-class 250 --config manifests/first-run.toml)
  LIVE=(--render manifests/first-run.toml --views 4 --image-size 64 --per-class 250)
  SHAPE_FLAGS=(--arch resnet-small --resolution 32 --batch-size 64 --mlp 128-128-128)
fi
cargo build --release --quiet --bin render --bin train
BIN=target/release
mkdir -p "$OUT"
if [ ! -f "$OUT/ds/manifest.json" ] || [ ! -f "$OUT/ds/train_images.npy" ]; then
  echo "rendering the dataset into $OUT/ds: render ${JOB[*]}"
  "$BIN/render" "${JOB[@]}" --out "$OUT/ds" --library "$OUT/lib"
fi

# Runs train into a fresh folder; prints "<images/s> <the last epoch's rates>".
run() {
  local exp=$1; shift
  rm -rf "$exp"
  local log
  log=$("$BIN/train" --exp-dir "$exp" "${SHAPE_FLAGS[@]}" --epochs "$EPOCHS" --quiet "$@" 2>&1) || { echo "$log" >&2; exit 1; }
  local ips rates
  ips=$(echo "$log" | sed -n 's/^done: .*steps, \([0-9.]*\) images\/s.*/\1/p')
  rates=$(python3 -c '
import json, sys
last = [e for e in map(json.loads, open(sys.argv[1])) if e.get("type") == "epoch"][-1]
data, step = last["data_images_per_s"], last["step_images_per_s"]
print(f"last epoch: data path {data:.0f} img/s, step {step:.0f} img/s")' "$exp/log.jsonl")
  echo "$ips $rates"
}

files_sum=0; live_sum=0
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  f=$(run "$OUT/files" --data "$OUT/ds")
  echo "  files: ${f%% *} images/s (${f#* })"
  l=$(run "$OUT/live" "${LIVE[@]}" --library "$OUT/lib" --render-threads "$RENDER_THREADS")
  echo "  live:  ${l%% *} images/s (${l#* })"
  files_sum=$(python3 -c "print($files_sum + ${f%% *})")
  live_sum=$(python3 -c "print($live_sum + ${l%% *})")
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 -c "print(f'live/files: {$live_sum / $files_sum:.2f}x the images/s')"
