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
BIN=${GPU_BIN:-.gpu/bin}
WORK=${GPU_WORK:-/tmp/gpu-work}
mkdir -p "$OUT" "$WORK"
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
run render_bench 90 env BENCH_DEVICES=4 "$BIN/render" bench --views 2000 --runs 3
run render_dataset 90 "$BIN/render" --per-class 100 --views 8 --image-size 128 --renderers 4 --library "$WORK/synth" --out "$WORK/ds"
run train 150 "$BIN/train" --data "$WORK/ds" --exp-dir "$WORK/exp" --device cuda:0 --resolution 128 \
  --batch-size 128 --max-steps 300 --epochs 1000 --log-interval 50 --quiet

say "summary"
python3 - "$OUT" "$WORK" <<'PY' | tee -a "$LOG"
import json, os, re, sys
out, work = sys.argv[1], sys.argv[2]
def text(name):
    p = os.path.join(out, name + ".out")
    return open(p).read() if os.path.exists(p) else ""
def images_per_s(name):
    m = re.findall(r"([0-9.]+) images/s", text(name))
    return float(m[-1]) if m else None
res = {"steps": {}, "render": {}, "train": {}}
if os.path.exists(os.path.join(out, "ops.json")):
    ops = json.load(open(os.path.join(out, "ops.json")))
    res["ops"] = {"checks": len(ops["checks"]), "failed": ops["failed"],
                  "worst": max(ops["checks"], key=lambda c: c["error"] / c["tolerance"])}
for k in ["step_candle_f32", "step_candle_bf16", "step_torch_f32", "step_torch_amp"]:
    res["steps"][k] = images_per_s(k)
s = res["steps"]
if s["step_candle_bf16"] and s["step_torch_amp"]:
    res["steps"]["ratio_bf16_vs_amp"] = s["step_candle_bf16"] / s["step_torch_amp"]
if s["step_candle_f32"] and s["step_torch_f32"]:
    res["steps"]["ratio_f32"] = s["step_candle_f32"] / s["step_torch_f32"]
m = re.search(r"median: ([0-9.]+) images/s", text("render_bench"))
res["render"]["bench_images_per_s"] = float(m.group(1)) if m else None
m = re.search(r"adapter: (.*)", text("render_bench"))
res["render"]["adapter"] = m.group(1) if m else None
p = os.path.join(work, "ds", "manifest.json")
if os.path.exists(p):
    res["render"]["dataset_manifest_adapter"] = json.load(open(p)).get("adapter")
p = os.path.join(out, "render_compare.json")
res["render"]["vs_lavapipe"] = json.load(open(p)) if os.path.exists(p) else None
log = os.path.join(work, "exp", "log.jsonl")
if os.path.exists(log):
    lines = [json.loads(l) for l in open(log) if l.strip()]
    steps = [l for l in lines if l.get("type") == "step"]
    if steps:
        res["train"] = {"steps": steps[-1]["step"], "images_per_s_last": steps[-1]["images_per_s"],
                        "loss_first": steps[0].get("loss"), "loss_last": steps[-1].get("loss")}
json.dump(res, open(os.path.join(out, "gpu.json"), "w"), indent=1)
print(json.dumps(res, indent=1))
print(f"{'what':<40} {'value':>12}")
for k, v in res["steps"].items():
    print(f"{k:<40} {v if v is None else round(v, 2):>12}")
print(f"{'render bench images/s':<40} {res['render']['bench_images_per_s']}")
print(f"{'train images/s (last log)':<40} {res['train'].get('images_per_s_last')}")
PY
say "done"
