#!/usr/bin/env python3
"""bench/gpu.sh's summary: `gpu_summary.py OUTS WORK DEST` reads each step's output and sampled
GPU memory in OUTS (NAME.out, NAME.mem), the dataset and training run in WORK, and ops.json and
render_compare.json beside DEST; writes DEST (JSON) and prints it with a table."""
import json, os, re, sys
out, work, dest = sys.argv[1], sys.argv[2], sys.argv[3]
def text(name):
    p = os.path.join(out, name + ".out")
    return open(p).read() if os.path.exists(p) else ""
def images_per_s(name):
    m = re.findall(r"([0-9.]+) images/s", text(name))
    return float(m[-1]) if m else None
res = {"steps": {}, "render": {}, "train": {}}
ops_path = os.path.join(os.path.dirname(dest), "ops.json")
if os.path.exists(ops_path):
    ops = json.load(open(ops_path))
    res["ops"] = {"checks": len(ops["checks"]), "failed": ops["failed"],
                  "worst": max(ops["checks"], key=lambda c: c["error"] / c["tolerance"])}
def peak_mib(name):
    p = os.path.join(out, name + ".mem")
    vals = [int(v) for v in open(p).read().split() if v.isdigit()] if os.path.exists(p) else []
    return max(vals) if vals else None
res["peak_gpu_mib"] = {}
for b in [256, 128]:
    for k in ["candle_f32", "candle_bf16", "torch_f32", "torch_amp"]:
        name = f"step_{k}_b{b}"
        res["steps"][name] = images_per_s(name)
        res["peak_gpu_mib"][name] = peak_mib(name)
    s = res["steps"]
    if s[f"step_candle_bf16_b{b}"] and s[f"step_torch_amp_b{b}"]:
        s[f"ratio_bf16_vs_amp_b{b}"] = s[f"step_candle_bf16_b{b}"] / s[f"step_torch_amp_b{b}"]
    if s[f"step_candle_f32_b{b}"] and s[f"step_torch_f32_b{b}"]:
        s[f"ratio_f32_b{b}"] = s[f"step_candle_f32_b{b}"] / s[f"step_torch_f32_b{b}"]
for d in [2, 4, 8]:
    m = re.search(r"median: ([0-9.]+) images/s", text(f"render_bench_{d}"))
    res["render"][f"bench_images_per_s_{d}_devices"] = float(m.group(1)) if m else None
m = re.search(r"adapter: (.*)", text("render_bench_2"))
res["render"]["adapter"] = m.group(1) if m else None
p = os.path.join(work, "ds", "manifest.json")
if os.path.exists(p):
    res["render"]["dataset_manifest_adapter"] = json.load(open(p)).get("adapter")
p = os.path.join(os.path.dirname(dest), "render_compare.json")
res["render"]["vs_lavapipe"] = json.load(open(p)) if os.path.exists(p) else None
log = os.path.join(work, "exp", "log.jsonl")
if os.path.exists(log):
    lines = [json.loads(l) for l in open(log) if l.strip()]
    steps = [l for l in lines if l.get("type") == "step"]
    if steps:
        res["train"] = {"steps": steps[-1]["step"], "images_per_s_last": steps[-1]["images_per_s"],
                        "loss_first": steps[0].get("loss"), "loss_last": steps[-1].get("loss")}
json.dump(res, open(dest, "w"), indent=1)
print(json.dumps(res, indent=1))
print(f"{'what':<40} {'value':>12}")
for k, v in res["steps"].items():
    print(f"{k:<40} {str(v if v is None else round(v, 3)):>12}")
for d in [2, 4, 8]:
    print(f"{'render bench images/s, ' + str(d) + ' devices':<40} {res['render'][f'bench_images_per_s_{d}_devices']}")
print(f"{'train images/s (last log)':<40} {res['train'].get('images_per_s_last')}")
