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
# Writes $OUT/gpu.json (all numbers) and $OUT/log.txt, and prints a table.
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
# run NAME SECONDS CMD...: runs a step with a time limit, its output into the log and $OUT/NAME.out.
run() {
  local name=$1 limit=$2
  shift 2
  say "$name"
  timeout "$limit" "$@" >"$OUT/$name.out" 2>&1
  local rc=$?
  tail -n 40 "$OUT/$name.out" >>"$LOG"
  echo "$name: exit $rc" | tee -a "$LOG"
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

SHAPE=(--arch resnet18 --resolution 256 --mlp 2048-2048-2048)
run step_candle_f32 100 "$BIN/bench_step" --warmup 2 --steps 6 -- --device cuda:0 "${SHAPE[@]}" --batch-size 256
run step_candle_bf16 100 "$BIN/bench_step" --warmup 2 --steps 6 -- --device cuda:0 --precision bf16 "${SHAPE[@]}" --batch-size 256
run step_torch_f32 100 python3 bench/train_step.py --device cuda --arch resnet18 --resolution 256 --mlp 2048-2048-2048 --batch 256 --warmup 2 --steps 6
run step_torch_amp 100 python3 bench/train_step.py --device cuda --amp --arch resnet18 --resolution 256 --mlp 2048-2048-2048 --batch 256 --warmup 2 --steps 6

run render_ref 60 "$BIN/render" --per-class 2 --views 2 --mask --library "$WORK/synth-ref" --out "$WORK/gpu-ref"
run render_compare 60 python3 bench/compare_renders.py .gpu/lavapipe-ref "$WORK/gpu-ref" --json "$OUT/render_compare.json"
for d in 2 4 8; do
  run render_bench_$d 60 env BENCH_DEVICES=$d "$BIN/render" bench --views 2000 --runs 3
done
run render_dataset 90 "$BIN/render" --per-class 100 --views 8 --image-size 128 --renderers 4 --library "$WORK/synth" --out "$WORK/ds"
run train 150 "$BIN/train" --data "$WORK/ds" --exp-dir "$WORK/exp" --device cuda:0 --resolution 128 \
  --batch-size 128 --max-steps 300 --epochs 1000 --log-interval 50 --quiet

say "summary"
python3 bench/gpu_summary.py "$OUT" "$WORK" | tee -a "$LOG"
say "done"
