#!/usr/bin/env python3
"""bench/gpu.sh's summary: `gpu_summary.py OUT WORK DEST` reads each phase's output, exit status
and sampled GPU memory in OUT/phases (NAME.out, NAME.rc, NAME.mem, NAME.skipped), the training run
in WORK, and ops.json and render_compare.json in OUT; writes DEST (JSON) and prints a table.

Run after every phase, so DEST always holds what the phases so far measured. Keys the issue's
record needs: device, step.bf16_vs_torch_amp, step.f32_vs_torch_f32 (images/s ratios),
memory.candle_bf16_gb, memory.torch_amp_gb (peak), and every phase's status."""
import json
import os
import re
import sys

out, work, dest = sys.argv[1], sys.argv[2], sys.argv[3]
phases = os.path.join(out, "phases")


def text(name, ext="out"):
    p = os.path.join(phases, f"{name}.{ext}")
    return open(p, errors="replace").read() if os.path.exists(p) else ""


def status(name):
    if os.path.exists(os.path.join(phases, f"{name}.skipped")):
        return text(name, "skipped").strip()
    rc = text(name, "rc").strip()
    return None if rc == "" else ("ok" if rc == "0" else ("timed out" if rc in ("124", "137") else f"exit {rc}"))


def images_per_s(name):
    m = re.findall(r"([0-9.]+) images/s", text(name))
    return float(m[-1]) if m else None


def peak_gb(name):
    """Peak GPU memory: what the program reports (candle's bench_step has no allocator view, so
    nvidia-smi's samples), in GB."""
    m = re.findall(r"peak GPU memory ([0-9.]+) MiB", text(name))
    if m:
        return float(m[-1]) / 1024
    vals = [int(v) for v in text(name, "mem").split() if v.isdigit()]
    return max(vals) / 1024 if vals else None


def ratio(a, b):
    return a / b if a and b else None


names = sorted({f.rsplit(".", 1)[0] for f in os.listdir(phases)}) if os.path.isdir(phases) else []
res = {"phases": {n: status(n) for n in names}}
m = re.search(r"device: (.*)", text("env"))
res["device"] = m.group(1).strip() if m else None
steps = {k: images_per_s(f"step_{k}") for k in ["candle_f32", "candle_bf16", "torch_f32", "torch_amp"]}
res["step"] = {**{f"{k}_images_per_s": v for k, v in steps.items()},
               "bf16_vs_torch_amp": ratio(steps["candle_bf16"], steps["torch_amp"]),
               "f32_vs_torch_f32": ratio(steps["candle_f32"], steps["torch_f32"])}
res["memory"] = {f"{k}_gb": peak_gb(f"step_{k}") for k in ["candle_f32", "candle_bf16", "torch_f32", "torch_amp"]}
top = text("step_torch_amp").split("torch.profiler top ops:")
res["torch_amp_top_ops"] = top[1].strip().splitlines()[:20] if len(top) > 1 else None
p = os.path.join(out, "ops.json")
if os.path.exists(p):
    ops = json.load(open(p))
    res["ops"] = {"checks": len(ops["checks"]), "failed": ops["failed"],
                  "worst": max(ops["checks"], key=lambda c: c["error"] / c["tolerance"])}
for name, folder in [("train", "exp"), ("train_live", "exp-live")]:
    log = os.path.join(work, folder, "log.jsonl")
    if os.path.exists(log):
        lines = [json.loads(line) for line in open(log) if line.strip()]
        logged = [line for line in lines if line.get("type") == "step"]
        if logged:
            res[name] = {"steps": logged[-1]["step"], "images_per_s_last": logged[-1]["images_per_s"],
                         "loss_first": logged[0].get("loss"), "loss_last": logged[-1].get("loss"),
                         # data path (files or rendering) and step rates, each on its own
                         "data_images_per_s_last": logged[-1].get("data_images_per_s"),
                         "step_images_per_s_last": logged[-1].get("step_images_per_s")}
if res.get("train") and res.get("train_live"):
    res["train_live"]["live_vs_files"] = ratio(res["train_live"]["images_per_s_last"], res["train"]["images_per_s_last"])
m = re.search(r"median: ([0-9.]+) images/s", text("render_bench"))
res["render"] = {"bench_images_per_s": float(m.group(1)) if m else None}
p = os.path.join(out, "render_compare.json")
res["render"]["vs_lavapipe"] = json.load(open(p)) if os.path.exists(p) else None
json.dump(res, open(dest, "w"), indent=1)
print(json.dumps(res, indent=1))
print(f"{'phase':<24} status")
for n, s in res["phases"].items():
    print(f"{n:<24} {s}")
