#!/usr/bin/env bash
# The registered study of experiments/preregistered.md, end to end:
#   1. builds render, train and eval (release);
#   2. renders the one dataset (built-in library, 12 x 250 objects, 4 views, 64 px, set-up A);
#   3. trains SIE and VICReg for seeds 0-4 and the image-supervised ceiling (seed 0);
#   4. probes every run (reference protocol, 30 epochs, eval seed 0) and judges it (`eval quick`);
#   5. writes experiments/results/preregistered.json and preregistered.md.
# Every phase skips what is already done, and a killed training run resumes bit-identically, so
# running the script again finishes an interrupted study. Work goes to $WORK.
#
#   bash experiments/preregistered.sh             # the study (~2 h on 2 cores)
#   PHASES=train bash experiments/preregistered.sh  # one phase: build render train eval summary
#   QUICK=1 bash experiments/preregistered.sh     # smoke run: 12 x 4 objects, 1 epoch, seeds 0-1
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-experiments/work/preregistered}
BIN=${BIN:-target/release}
PHASES=${PHASES:-build render train eval summary}
SEEDS=${SEEDS:-0 1 2 3 4}
PER_CLASS=250 EPOCHS=40 STEPS=1520 PROBE_EPOCHS=30 RESULTS=experiments/results/preregistered SCALE=
if [ -n "${QUICK:-}" ]; then
  WORK=${WORK%/}-quick PER_CLASS=4 EPOCHS=1 STEPS=1 PROBE_EPOCHS=1 SEEDS="0 1" RESULTS=$WORK/results
  SCALE="smoke run (QUICK=1): 12 x 4 objects, 1 epoch, probes 1 epoch; says nothing about the methods"
fi
DATA=$WORK/data
export NODEVICE_SELECT=1
mkdir -p "$WORK"
has() { [[ " $PHASES " == *" $1 "* ]]; }
say() { echo "== $* ($(date -u +%H:%M:%S), load $(cut -d' ' -f1 /proc/loadavg))"; }

# The registered scale: 32 px, resnet-small, projectors 128-128-128, batch 64, 40 epochs of 38 steps.
train_flags=(--arch resnet-small --resolution 32 --batch-size 64 --mlp 128-128-128 --epochs "$EPOCHS" --quiet)
# name:experience:extra flags. The ceiling is the image-supervised diagnostic, not a method.
runs=()
for seed in $SEEDS; do runs+=("SIE-seed$seed:SIE:--seed $seed" "VICReg-seed$seed:VICReg:--seed $seed"); done
runs+=("supervised-ceiling-seed0:VICReg:--seed 0 --rotation-supervision 1 --sim-coeff 0 --std-coeff 0 --cov-coeff 0")

if has build; then
  say build
  bash scripts/setup.sh
  cargo build --release -p renderer -p trainer -p eval --bins
fi

if has render && [ ! -f "$DATA/.complete" ]; then
  say "render $DATA"
  "$BIN/render" --views 4 --image-size 64 --per-class "$PER_CLASS" --library-seed 0 --seed 0 \
    --config manifests/first-run.toml --library "$WORK/library" --out "$DATA" 2>"$WORK/render.log" \
    || { tail "$WORK/render.log"; exit 1; }
  touch "$DATA/.complete"
fi

if has train; then
  for run in "${runs[@]}"; do
    IFS=: read -r name experience extra <<<"$run"
    exp=$WORK/runs/$name
    [ -f "$exp/.trained" ] && continue
    mkdir -p "$WORK/runs"
    # Whatever was evaluated of an unfinished run is stale once it trains on.
    rm -f "$exp/.evaluated" "$exp/eval.json" "$exp/judgement.json"
    say "train $name"
    # shellcheck disable=SC2086 # $extra is a list of flags
    "$BIN/train" --data "$DATA" --exp-dir "$exp" --experience "$experience" "${train_flags[@]}" $extra \
      2>>"$exp.train.log" || { tail "$exp.train.log"; exit 1; }
    touch "$exp/.trained"
  done
fi

if has eval; then
  for run in "${runs[@]}"; do
    IFS=: read -r name experience _ <<<"$run"
    exp=$WORK/runs/$name
    [ -f "$exp/.evaluated" ] && continue
    [ -f "$exp/.trained" ] || { echo "preregistered: $exp has not finished training (run the train phase)" >&2; exit 1; }
    say "eval $name"
    tasks="classify rotation"
    [ "$experience" = SIE ] && tasks="$tasks predictor"
    for task in $tasks; do
      "$BIN/eval" --checkpoint "$exp" --data "$DATA" --epochs "$PROBE_EPOCHS" --seed 0 --out "$exp/eval.json" \
        "$task" >>"$exp.eval.log" 2>&1 || { tail "$exp.eval.log"; exit 1; }
    done
    "$BIN/eval" --checkpoint "$exp" --data "$DATA" quick --out "$exp/judgement.json" >>"$exp.eval.log" 2>&1 \
      || { tail "$exp.eval.log"; exit 1; }
    touch "$exp/.evaluated"
  done
fi

if has summary; then
  say summary
  python3 experiments/preregistered_summary.py --runs "$WORK/runs" --data "$DATA" --out "$RESULTS" \
    --probe-epochs "$PROBE_EPOCHS" --seeds "$SEEDS" --steps "$STEPS" ${SCALE:+--scale "$SCALE"}
fi
