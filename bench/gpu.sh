#!/usr/bin/env bash
# The one prepared GPU run, as phases in priority order, each with its own time limit and its
# results written to $OUT as it goes: a failure or a time-out keeps every earlier phase, and the
# summary ($OUT/gpu.json) is rewritten after each phase. For a GPU machine with nvcc and PyTorch
# but no Rust: `bash bench/gpu-pack.sh` builds the CUDA binaries here first (into .gpu/bin).
#
#   1. env      the machine, PyTorch, cuDNN (libcudnn.so.9 found or not);
#   2. ops      cuda_check: every op on CUDA against the CPU, values and gradients, and a step;
#   3. steps    the real SIE step (ResNet-18, 256 px, batch 256 per view, mlp 2048-2048-2048),
#               candle f32 and bf16;
#   4. torch    PyTorch f32 and bf16 autocast on the same shapes, with torch.profiler's top ops;
#   5. train    `train` for GPU_TRAIN_STEPS (300) steps on a rendered dataset, the loss falling;
#      train_live  the same steps on the same job's views rendered as it trains (`train --render`,
#               the renderer on the GPU too): its images/s beside train's, render and step rates
#               in its epoch lines (needs a train built with --features cuda,render);
#   6. nccl     the --features nccl build trains alone (a job of one rank never connects NCCL:
#               its collectives need two GPUs; this checks that build runs);
#   7. render   the renderer on the GPU: silhouettes and PSNR against lavapipe, `render bench`.
#
# GPU_DRY=1 runs the whole script on the CPU with tiny shapes and the binaries of a CPU build
# (GPU_BIN, default target/debug; CI does this), so that the GPU run does not fail on a script
# error; phases that need CUDA or PyTorch say "skipped" in the summary. The whole run fits in
# 8 minutes (device time is short and a machine start costs minutes of it).
# Writes $OUT/gpu.json, $OUT/log.txt, $OUT/phases/NAME.out (each phase's output) and .mem (GPU
# memory sampled every 0.2 s), $OUT/ops.json.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
WORK=${GPU_WORK:-/tmp/gpu-work}
DRY=${GPU_DRY:-}
mkdir -p "$OUT/phases" "$WORK"
LOG=$OUT/log.txt
: >"$LOG"
export NODEVICE_SELECT=1 PYTHONUNBUFFERED=1
START=$(date +%s)
say() { echo "== $* ($(($(date +%s) - START)) s)" | tee -a "$LOG"; }

# The binaries: a CPU build's in a dry run, else the packed CUDA build (xz, see gpu-pack.sh).
if [ -n "$DRY" ]; then
  BIN=${GPU_BIN:-target/debug}
  DEVICE=cpu
else
  BIN=$WORK/bin
  mkdir -p "$BIN"
  for f in .gpu/bin/*.xz; do
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$f" "$BIN/$(basename "$f" .xz)"
  done
  chmod +x "$BIN"/*
  DEVICE=cuda:0
fi

# Shapes: the issue's at full size, tiny ones in a dry run.
if [ -n "$DRY" ]; then
  STEP_SHAPE=(--arch resnet-tiny --resolution 32 --mlp 64-64 --batch-size 4)
  TORCH_SHAPE=(--arch resnet-tiny --resolution 32 --mlp 64-64 --batch 4)
  RENDER_SIZE=(--per-class 1 --views 3 --image-size 64)
  TRAIN_SHAPE=(--arch resnet-tiny --resolution 32 --batch-size 4 --mlp 64-64)
  TRAIN_STEPS=${GPU_TRAIN_STEPS:-6}
else
  STEP_SHAPE=(--arch resnet18 --resolution 256 --mlp 2048-2048-2048 --batch-size 256)
  TORCH_SHAPE=(--arch resnet18 --resolution 256 --mlp 2048-2048-2048 --batch 256)
  RENDER_SIZE=(--per-class 40 --views 8 --image-size 128)
  TRAIN_SHAPE=(--resolution 128 --batch-size 128)
  TRAIN_STEPS=${GPU_TRAIN_STEPS:-300}
fi

summary() { python3 bench/gpu_summary.py "$OUT" "$WORK" "$OUT/gpu.json" >/dev/null 2>>"$LOG" || true; }

# phase NAME SECONDS CMD...: runs with a time limit, output into $OUT/phases/NAME.out (its tail
# into the log), GPU memory sampled into NAME.mem, the exit status into NAME.rc; then the summary.
phase() {
  local name=$1 limit=$2
  shift 2
  say "$name"
  local poller=
  if [ -z "$DRY" ]; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/phases/$name.mem" 2>/dev/null &
    poller=$!
  fi
  timeout "$limit" "$@" >"$OUT/phases/$name.out" 2>&1
  local rc=$?
  [ -n "$poller" ] && kill "$poller" 2>/dev/null
  echo "$rc" >"$OUT/phases/$name.rc"
  tail -n 30 "$OUT/phases/$name.out" >>"$LOG"
  echo "$name: exit $rc" | tee -a "$LOG"
  summary
  return 0
}

# skip NAME WHY: a phase that cannot run here, recorded as such.
skip() {
  say "$1: skipped ($2)"
  echo "skipped: $2" >"$OUT/phases/$1.skipped"
  summary
}

has_torch() { python3 -c 'import torch' 2>/dev/null; }
has_cuda_torch() { python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

# The CUDA libraries the binaries link (cuBLAS, cuRAND, NVRTC, cudart 13) and cuDNN 9: PyTorch's
# wheels; the driver's libcuda.so.1 where the loader might not look.
cuda_libraries() {
  local nv
  nv=$(python3 -c 'import nvidia, os; print(os.path.abspath(list(nvidia.__path__)[0]))' 2>/dev/null) || return 0
  for lib in libcublas.so.13 libcurand.so.10 libnvrtc.so.13 libcudart.so.13 libcudnn.so.9; do
    local dir
    dir=$(dirname "$(find "$nv" -name "$lib" 2>/dev/null | head -1)")
    [ -n "$dir" ] && [ "$dir" != . ] && LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
  done
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -e "$d/libcuda.so.1" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$d"
  done
  export LD_LIBRARY_PATH
}

# The renderer's Vulkan loader, carried as .deb files (the image has NVIDIA's driver only).
vulkan_loader() {
  if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
}

environment() {
  if [ -n "$DRY" ]; then echo "device: CPU (GPU_DRY=1)"; else
    echo "device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
  fi
  echo "cpus: $(nproc)"
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
  echo "libcudnn.so.9: $(echo "${LD_LIBRARY_PATH:-}" | tr ':' '\n' | while read -r d; do [ -e "$d/libcudnn.so.9" ] && echo "$d"; done | head -1)"
  ldd "$BIN/train" 2>&1 | grep -E "not found|cublas|cuda" || true
}

[ -z "$DRY" ] && cuda_libraries
vulkan_loader
export -f environment
export BIN DRY
phase env 30 bash -c environment

if [ -n "$DRY" ]; then skip ops "dry run: cuda_check needs a GPU"; else
  phase ops 150 "$BIN/cuda_check" --json "$OUT/ops.json"
fi

WARM=(--warmup 2 --steps 6)
[ -n "$DRY" ] && WARM=(--warmup 1 --steps 2)
phase step_candle_f32 100 "$BIN/bench_step" "${WARM[@]}" -- --device "$DEVICE" "${STEP_SHAPE[@]}"
phase step_candle_bf16 100 "$BIN/bench_step" "${WARM[@]}" -- --device "$DEVICE" --precision bf16 "${STEP_SHAPE[@]}"

if has_torch && { [ -n "$DRY" ] || has_cuda_torch; }; then
  TORCH=(python3 bench/train_step.py --device "${DEVICE%%:*}" "${TORCH_SHAPE[@]}" "${WARM[@]}" --profile)
  phase step_torch_f32 120 "${TORCH[@]}"
  phase step_torch_amp 120 "${TORCH[@]}" --amp
else
  skip step_torch_f32 "no PyTorch with this device here"
  skip step_torch_amp "no PyTorch with this device here"
fi

phase render_dataset 90 "$BIN/render" "${RENDER_SIZE[@]}" --library "$WORK/synth" --out "$WORK/ds"
phase train 150 "$BIN/train" --data "$WORK/ds" --exp-dir "$WORK/exp" --device "$DEVICE" "${TRAIN_SHAPE[@]}" \
  --max-steps "$TRAIN_STEPS" --epochs 100000 --log-interval 2 --quiet
# The same job's views rendered in the training process (render_dataset's flags but --out).
phase train_live 150 "$BIN/train" --render "${RENDER_SIZE[@]}" --library "$WORK/synth" --exp-dir "$WORK/exp-live" \
  --device "$DEVICE" "${TRAIN_SHAPE[@]}" --render-threads 2 --max-steps "$TRAIN_STEPS" --epochs 100000 --log-interval 2

# The nccl build trains (alone: a job of one rank does not connect NCCL, see the header).
if [ -n "$DRY" ] || ! strings "$BIN/train" 2>/dev/null | grep -q ncclCommInitRank; then
  skip nccl "needs a GPU and a train built with --features nccl"
else
  phase nccl 90 env WORLD_SIZE=1 RANK=0 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=29555 \
    "$BIN/train" --data "$WORK/ds" --exp-dir "$WORK/exp-nccl" --device cuda "${TRAIN_SHAPE[@]}" \
    --max-steps 20 --epochs 1000 --log-interval 5 --quiet
fi

if [ -n "$DRY" ] || [ ! -d .gpu/lavapipe-ref ]; then
  skip render_compare "needs a GPU and the lavapipe reference set of bench/gpu-pack.sh"
else
  phase render_ref 60 "$BIN/render" --per-class 2 --views 2 --mask --library "$WORK/synth-ref" --out "$WORK/gpu-ref"
  phase render_compare 60 python3 bench/compare_renders.py .gpu/lavapipe-ref "$WORK/gpu-ref" --json "$OUT/render_compare.json"
fi
phase render_bench 60 "$BIN/render" bench --views "$([ -n "$DRY" ] && echo 8 || echo 2000)" --runs 1

say "summary"
python3 bench/gpu_summary.py "$OUT" "$WORK" "$OUT/gpu.json" | tee -a "$LOG"
say "done"
# A dry run is the script's own test (CI): every phase that ran must have succeeded.
if [ -n "$DRY" ]; then
  python3 -c 'import json, sys
bad = {k: v for k, v in json.load(open(sys.argv[1]))["phases"].items() if v != "ok" and not str(v).startswith("skipped")}
sys.exit("gpu.sh dry run: failed phases: %s" % bad if bad else 0)' "$OUT/gpu.json"
fi
