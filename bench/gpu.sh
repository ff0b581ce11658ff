#!/usr/bin/env bash
# The one prepared GPU check (at most 8 minutes), for a GPU machine with nvcc and PyTorch but no
# Rust: `bash bench/gpu-pack.sh` builds the CUDA binaries here first (into .gpu/bin).
#
#   1. every op on CUDA against the CPU, values and gradients, then a whole step (cuda_check);
#   2. the real SIE step (ResNet-18, 256 px, batch 256 per view, mlp 2048-2048-2048): candle f32
#      and bf16 beside PyTorch f32 and bf16 autocast (bench/train_step.py), same shapes;
#   3. the renderer on the GPU: a dataset rendered (its manifest records the adapter), the
#      silhouettes and images against lavapipe's (.gpu/lavapipe-ref), and `render bench`;
#   4. a few hundred `train` steps on that dataset on the GPU.
# GPU_BATCHES (default "256 128"), GPU_RENDER_DEVICES (default "2 4 8") and
# GPU_SKIP_RENDER_CHECKS=1 (no lavapipe comparison, no render bench) shorten a run.
# Writes $OUT/gpu.json (all numbers), $OUT/log.txt, $OUT/ops.json, $OUT/outs.tgz (each step's
# whole output) and $OUT/render_samples.tgz (a few GPU and lavapipe images), and prints a table.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
WORK=${GPU_WORK:-/tmp/gpu-work}
BIN=$WORK/bin
mkdir -p "$OUT" "$WORK" "$BIN"
# The binaries travel xz-compressed (bench/gpu-pack.sh); Python's lzma unpacks them.
for f in .gpu/bin/*.xz; do
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
    "$f" "$BIN/$(basename "$f" .xz)"
done
chmod +x "$BIN"/*
LOG=$OUT/log.txt
: >"$LOG"
export NODEVICE_SELECT=1 PYTHONUNBUFFERED=1
START=$(date +%s)
say() { echo "== $* ($(($(date +%s) - START)) s)" | tee -a "$LOG"; }
OUTS=$WORK/outs
mkdir -p "$OUTS"
# run NAME SECONDS CMD...: runs a step with a time limit, its output into $OUTS/NAME.out (its
# tail into the log), the GPU's memory in use sampled every 0.2 s into $OUTS/NAME.mem.
run() {
  local name=$1 limit=$2
  shift 2
  say "$name"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$OUTS/$name.mem" 2>/dev/null &
  local poller=$!
  timeout "$limit" "$@" >"$OUTS/$name.out" 2>&1
  local rc=$?
  kill $poller 2>/dev/null
  grep -v '^ *[0-9]*: <unknown>$' "$OUTS/$name.out" | tail -n 30 >>"$LOG"
  echo "$name: exit $rc, peak GPU memory $(sort -n "$OUTS/$name.mem" | tail -1) MiB" | tee -a "$LOG"
  return $rc
}

# The CUDA libraries the binaries link (cuBLAS, cuRAND, NVRTC, cudart 13): PyTorch's wheels.
NV=$(python3 -c 'import nvidia, os; print(os.path.abspath(list(nvidia.__path__)[0]))' 2>/dev/null)
for lib in libcublas.so.13 libcurand.so.10 libnvrtc.so.13 libcudart.so.13; do
  dir=$(dirname "$(find "$NV" -name "$lib" 2>/dev/null | head -1)")
  [ -n "$dir" ] && [ "$dir" != . ] && LD_LIBRARY_PATH="$dir:${LD_LIBRARY_PATH:-}"
done
# The driver's libcuda.so.1, where the loader might not look.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -e "$d/libcuda.so.1" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$d"
done
export LD_LIBRARY_PATH
# The renderer's Vulkan loader, carried as .deb files (the image has NVIDIA's driver only).
if [ -d .gl ] && ! ldconfig -p | grep -q libvulkan.so.1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

say "machine"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; \
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; \
  ldd "$BIN/train" | grep -E "not found|cublas|cuda"; } 2>&1 | tee -a "$LOG"

run ops 150 "$BIN/cuda_check" --json "$OUT/ops.json"

# The step at batch 256 per view; at 128 too, beside PyTorch's, in case candle's memory does not
# fit 256.
for b in ${GPU_BATCHES:-256 128}; do
  SHAPE=(--arch resnet18 --resolution 256 --mlp 2048-2048-2048 --batch-size "$b")
  run step_candle_f32_b$b 100 "$BIN/bench_step" --warmup 2 --steps 6 -- --device cuda:0 "${SHAPE[@]}"
  run step_candle_bf16_b$b 100 "$BIN/bench_step" --warmup 2 --steps 6 -- --device cuda:0 --precision bf16 "${SHAPE[@]}"
  TORCH=(python3 bench/train_step.py --device cuda --arch resnet18 --resolution 256 --mlp 2048-2048-2048 --batch "$b" --warmup 2 --steps 6)
  run step_torch_f32_b$b 100 "${TORCH[@]}"
  run step_torch_amp_b$b 100 "${TORCH[@]}" --amp
done

if [ -z "${GPU_SKIP_RENDER_CHECKS:-}" ]; then
  run render_ref 60 "$BIN/render" --per-class 2 --views 2 --mask --library "$WORK/synth-ref" --out "$WORK/gpu-ref"
  run render_compare 60 python3 bench/compare_renders.py .gpu/lavapipe-ref "$WORK/gpu-ref" --json "$OUT/render_compare.json"
  # Three objects' first views from both, to look at where they differ.
  (cd "$WORK" && mkdir -p samples && for d in $(ls gpu-ref | grep -E '^[0-9]+$' | head -3); do
    o=$(ls "gpu-ref/$d" | head -1)
    cp "gpu-ref/$d/$o/image_0.jpg" "samples/$d-gpu.jpg"
    cp "$OLDPWD/.gpu/lavapipe-ref/$d/$o/image_0.jpg" "samples/$d-lavapipe.jpg"
  done; tar czf "$OUT/render_samples.tgz" samples)
  for d in ${GPU_RENDER_DEVICES:-2 4 8}; do
    run render_bench_$d 60 env BENCH_DEVICES=$d "$BIN/render" bench --views 2000 --runs 3
  done
fi
run render_dataset 90 "$BIN/render" --per-class 300 --views 8 --image-size 128 --renderers 4 --library "$WORK/synth" --out "$WORK/ds"
run train "${GPU_TRAIN_LIMIT:-120}" "$BIN/train" --data "$WORK/ds" --exp-dir "$WORK/exp" --device cuda:0 --resolution 128 \
  --batch-size 128 --max-steps "${GPU_TRAIN_STEPS:-200}" --epochs 1000 --log-interval 25 --quiet

say "summary"
python3 bench/gpu_summary.py "$OUTS" "$WORK" "$OUT/gpu.json" | tee -a "$LOG"
tar czf "$OUT/outs.tgz" -C "$WORK" outs
say "done"
