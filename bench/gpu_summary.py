#!/usr/bin/env python3
"""bench/gpu.sh's summary: reads the outputs of its steps in OUT (and the dataset and training
run in WORK) and writes OUT/gpu.json; prints the JSON and a table."""
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
for d in [2, 4, 8]:
    m = re.search(r"median: ([0-9.]+) images/s", text(f"render_bench_{d}"))
    res["render"][f"bench_images_per_s_{d}_devices"] = float(m.group(1)) if m else None
m = re.search(r"adapter: (.*)", text("render_bench_2"))
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
    print(f"{k:<40} {str(v if v is None else round(v, 3)):>12}")
for d in [2, 4, 8]:
    print(f"{'render bench images/s, ' + str(d) + ' devices':<40} {res['render'][f'bench_images_per_s_{d}_devices']}")
print(f"{'train images/s (last log)':<40} {res['train'].get('images_per_s_last')}")
