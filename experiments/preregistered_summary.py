#!/usr/bin/env python3
"""The analysis fixed in experiments/preregistered.md, on the runs of experiments/preregistered.sh.

Reads every run folder's eval.json (reference-protocol probes) and judgement.json (`eval quick`),
writes <out>.json (one record per run, the primary outcome, the secondary ones) and <out>.md.
Standard library only, so that it runs wherever the script does.
"""
import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone

LATHED = ("bottle", "bowl")  # bodies of revolution: their spin about the axis is invisible
SCALE_REGISTERED = ("built-in library, 12 classes x 250 objects x 4 views rendered at 64 px with "
         "manifests/first-run.toml (85 mm lens), trained at 32 px, resnet-small (256-d), projectors "
         "128-128-128, batch 64, 1,520 steps (40 epochs): about 0.1% of the paper's images seen")


def t_two_sided_p(t, df):
    """Two-sided p of Student's t (Abramowitz & Stegun 26.7.3-4, exact for integer df)."""
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for k in range(2, df - 1, 2):
            term *= (k - 1) / k * c * c
            total += term
        a = s * total
    else:
        total = 0.0
        if df > 1:
            term, total = 1.0, 1.0
            for k in range(3, df - 1, 2):
                term *= (k - 1) / k * c * c
                total += term
            total *= s * c
        a = 2 / math.pi * (theta + total)
    return max(0.0, 1.0 - a)


def mean_sd(values):
    """Mean and SD; None when any value is missing (nothing is averaged over fewer runs silently)."""
    if not values or any(v is None for v in values):
        return None
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return {"mean": statistics.fmean(values), "sd": sd, "n": len(values)}


def read_json(path):
    with open(path) as f:
        return json.load(f)


def last_step(run_dir):
    """The last optimiser step the run's log.jsonl records."""
    step = None
    with open(os.path.join(run_dir, "log.jsonl")) as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record.get("step"), int):
                step = max(step or 0, record["step"])
    return step


def reference_scores(scores, mode="val-val"):
    return {k: v for k, v in (scores or {}).get(mode, {}).items()}


def run_record(run_dir, name):
    method, seed = re.fullmatch(r"(.+)-seed(\d+)", name).groups()
    ev = read_json(os.path.join(run_dir, "eval.json"))
    judged = read_json(os.path.join(run_dir, "judgement.json"))
    names = {int(k): v for k, v in ev.get("class_names", {}).items()}
    part = "equi" if method == "SIE" else "all"
    rotation, classify = ev["rotation"], ev["classify"]
    per_class = {names.get(c["label"], f"class {c['label']}"): c for c in rotation[part].get("per_class", [])}
    record = {
        "method": method,
        "seed": int(seed),
        "steps": last_step(run_dir),
        "rot_r2": rotation[part]["r2"],
        "rot_r2_part": part,
        "top1": classify["all"]["top1_val"],
        "probe_protocol": f"reference, {ev['config']['rotation']['epochs']} ep",
        "rot_r2_by_part": {p: r["r2"] for p, r in rotation.items()},
        "top1_by_part": {p: r["top1_val"] for p, r in classify.items()},
        "rot_r2_floor": rotation[part]["r2_constant"],
        "rot_r2_minus_floor": rotation[part]["r2"] - rotation[part]["r2_constant"],
        "rot_r2_true_pose_ceiling": (ev.get("rotation_ceiling") or {}).get("r2"),
        "probe_epochs": {t: ev["config"][t]["epochs"] for t in ("classify", "rotation")},
        "probe_seed": ev["config"]["rotation"]["seed"],
        "rot_r2_per_class": {k: c["r2"] for k, c in per_class.items()},
        "rot_r2_floor_per_class": {k: c["r2_constant"] for k, c in per_class.items()},
        "judgement": judged,
    }
    if ev.get("predictor_reference"):
        record["predictor"] = reference_scores(ev["predictor_reference"])
        record["identity"] = reference_scores(ev.get("predictor_reference_identity"))
    return record


def paired(records, a="SIE", b="VICReg", key=lambda r: r["rot_r2"]):
    by = {(r["method"], r["seed"]): r for r in records}
    seeds = sorted(s for (m, s) in by if m == a and (b, s) in by)
    deltas = [key(by[(a, s)]) - key(by[(b, s)]) for s in seeds]
    out = {"seeds": seeds, "delta": deltas, **(mean_sd(deltas) or {})}
    if len(deltas) > 1 and out["sd"] > 0:
        t = out["mean"] / (out["sd"] / math.sqrt(len(deltas)))
        out.update(t=t, df=len(deltas) - 1, p=t_two_sided_p(t, len(deltas) - 1))
    out["positive"] = sum(d > 0 for d in deltas)
    return out


def problems_of(records, ceilings_runs, seeds, steps, probe_epochs):
    """Why these runs are not the registered study yet (empty when they are)."""
    problems = []
    for method in ("SIE", "VICReg"):
        have = sorted(r["seed"] for r in records if r["method"] == method)
        if have != seeds:
            problems.append(f"{method}: seeds {have}, registered {seeds}")
    if not ceilings_runs:
        problems.append("the image-supervised ceiling run is missing")
    for r in records + ceilings_runs:
        name = f"{r['method']} seed {r['seed']}"
        if r["steps"] != steps:
            problems.append(f"{name}: {r['steps']} steps, registered {steps}")
        if set(r["probe_epochs"].values()) != {probe_epochs} or r["probe_seed"] != 0:
            problems.append(f"{name}: probes {r['probe_epochs']} epochs, seed {r['probe_seed']}; registered {probe_epochs}, seed 0")
    return problems


def secondary(records):
    methods = [m for m in ("SIE", "VICReg") if any(r["method"] == m for r in records)]
    out = {}
    for m in methods:
        rs = [r for r in records if r["method"] == m]
        parts = sorted({p for r in rs for p in r["top1_by_part"]})
        classes = sorted({c for r in rs for c in r["rot_r2_per_class"]})
        lathed = [c for c in classes if c in LATHED]
        rest = [c for c in classes if c not in LATHED]
        group = lambda r, cs: statistics.fmean(r["rot_r2_per_class"][c] for c in cs) if cs else None
        out[m] = {
            "top1_by_part": {p: mean_sd([r["top1_by_part"].get(p) for r in rs]) for p in parts},
            "rot_r2_by_part": {p: mean_sd([r["rot_r2_by_part"].get(p) for r in rs]) for p in parts},
            "rot_r2_minus_floor": mean_sd([r["rot_r2_minus_floor"] for r in rs]),
            "rot_r2_floor": mean_sd([r["rot_r2_floor"] for r in rs]),
            "rot_r2_per_class": {c: mean_sd([r["rot_r2_per_class"].get(c) for r in rs]) for c in classes},
            "rot_r2_floor_per_class": {c: mean_sd([r["rot_r2_floor_per_class"].get(c) for r in rs]) for c in classes},
            "rot_r2_lathed_classes": mean_sd([group(r, lathed) for r in rs]),
            "rot_r2_other_classes": mean_sd([group(r, rest) for r in rs]),
            "judgement_top1": mean_sd([judged(r, "top-1") for r in rs]),
            "judgement_rot_r2": mean_sd([judged(r, "rotation") for r in rs]),
        }
        if m == "SIE":
            for name in ("predictor", "identity"):
                for metric in ("PRE", "MRR"):
                    values = [r.get(name, {}).get(metric) for r in rs]
                    out[m][f"{name}_{metric}"] = mean_sd(values)
    return out


def verdict_of(record, prefix):
    """The judgement's verdict whose metric starts with `prefix` (SIE's rotation: its equi part)."""
    verdicts = record["judgement"].get("verdicts", [])
    want = "equi" if record["method"] == "SIE" and prefix == "rotation" else "whole"
    for v in verdicts:
        if v["metric"].startswith(prefix) and want in v["metric"]:
            return v
    return None


def judged(record, prefix):
    v = verdict_of(record, prefix)
    return None if v is None else v["value"]


def judged_cell(record, prefix, scale, digits):
    v = verdict_of(record, prefix)
    if v is None:
        return ""
    lo, hi = (x * scale for x in v["margin_interval"])
    above = "above" if v["above"] else "not above"
    return f"{v['value'] * scale:.{digits}f} ({v['margin'] * scale:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}], {above})"


def fmt(ms, digits=3, scale=1.0):
    if not ms:
        return "missing"
    return f"{ms['mean'] * scale:.{digits}f} ± {ms['sd'] * scale:.{digits}f}"


def markdown(doc):
    p, recs = doc["primary"], doc["runs"]
    lines = [
        "# Registered study: results",
        "",
        f"Protocol: `experiments/preregistered.md` (committed before these runs). Produced by "
        f"`bash experiments/preregistered.sh` (data rendered at {doc['data_rendered_at'] or '?'}, summary at "
        f"{doc['commit']}) on {doc['date']}. Probes: "
        f"{doc['probe_protocol']}, eval seed 0, the same val pairs for every run.",
        "",
        f"**Scale**: {doc['scale']}.",
        "",
        "## Primary outcome",
        "",
        "Δ = rotation R² of SIE's equivariant part − rotation R² of VICReg's whole representation, "
        "per seed (paired: same data order and shared initial weights).",
        "",
        "| seed | SIE (equi) | VICReg (whole) | Δ |",
        "|---:|---:|---:|---:|",
    ]
    by = {(r["method"], r["seed"]): r for r in recs}
    for s, d in zip(p["seeds"], p["delta"]):
        lines.append(f"| {s} | {by[('SIE', s)]['rot_r2']:.4f} | {by[('VICReg', s)]['rot_r2']:.4f} | {d:+.4f} |")
    if doc["problems"]:
        verdict = "not decided: the runs are incomplete (" + "; ".join(doc["problems"]) + ")"
    elif p.get("p", 1) < 0.05 and p["mean"] > 0:
        verdict = "supported"
    else:
        verdict = "not supported"
    if "mean" not in p:
        return "\n".join(lines + ["", f"No paired seeds yet: {verdict}.", ""])
    lines += [
        "",
        f"Mean Δ = {p['mean']:+.4f}, SD {p['sd']:.4f} over {p['n']} seeds; paired t = {p.get('t', float('nan')):.2f} "
        f"(df {p.get('df', '-')}), two-sided p = {p.get('p', float('nan')):.3f}; Δ > 0 in {p['positive']} of {p['n']} seeds. "
        f"By the registered rule (mean > 0 and p < 0.05) the claim is **{verdict}** at this scale.",
        "",
        "## Every run",
        "",
        "Judgement columns: `eval quick`'s held-out value, its margin over the floor with the 95% "
        "interval, and \"above\" when that interval clears 0.",
        "",
        "| run | steps | rotation R² (part) | floor | R² − floor | top-1 (whole) | judgement top-1 | judgement rotation R² |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in recs + doc["ceilings_runs"]:
        lines.append(
            f"| {r['method']} seed {r['seed']} | {r['steps']} | {r['rot_r2']:.4f} ({r['rot_r2_part']}) | "
            f"{r['rot_r2_floor']:.4f} | {r['rot_r2_minus_floor']:+.4f} | {100 * r['top1']:.1f}% | "
            f"{judged_cell(r, 'top-1', 100, 1)} | {judged_cell(r, 'rotation', 1, 4)} |"
        )
    s = doc["secondary"]
    lines += ["", "## Secondary outcomes (mean ± SD over seeds; no test of their own)", ""]
    lines += ["| measure | SIE | VICReg |", "|---|---:|---:|"]
    def part(m, key, name, digits, scale=1.0):
        # VICReg's representation has no parts: not applicable, not missing.
        return fmt(s[m][key][name], digits, scale) if name in s[m][key] else "n/a (no split)"

    rows = [
        ("top-1, whole", lambda m: part(m, "top1_by_part", "all", 1, 100)),
        ("top-1, invariant part", lambda m: part(m, "top1_by_part", "inv", 1, 100)),
        ("top-1, equivariant part", lambda m: part(m, "top1_by_part", "equi", 1, 100)),
        ("rotation R², whole", lambda m: part(m, "rot_r2_by_part", "all", 4)),
        ("rotation R², invariant part", lambda m: part(m, "rot_r2_by_part", "inv", 4)),
        ("rotation R², equivariant part", lambda m: part(m, "rot_r2_by_part", "equi", 4)),
        ("rotation R² − floor (compared part)", lambda m: fmt(s[m]["rot_r2_minus_floor"], 4)),
        ("constant floor", lambda m: fmt(s[m]["rot_r2_floor"], 4)),
        ("rotation R², lathed classes (bottle, bowl)", lambda m: fmt(s[m]["rot_r2_lathed_classes"], 4)),
        ("rotation R², other 10 classes", lambda m: fmt(s[m]["rot_r2_other_classes"], 4)),
        ("judgement (eval quick) top-1", lambda m: fmt(s[m]["judgement_top1"], 1, 100)),
        ("judgement (eval quick) rotation R²", lambda m: fmt(s[m]["judgement_rot_r2"], 4)),
    ]
    for label, f in rows:
        lines.append(f"| {label} | {f('SIE') if 'SIE' in s else ''} | {f('VICReg') if 'VICReg' in s else ''} |")
    if "SIE" in s:
        lines += ["", "SIE's predictor against the identity predictor (reference PRE/MRR, val-val):", ""]
        lines += ["| | PRE | MRR |", "|---|---:|---:|"]
        for name in ("predictor", "identity"):
            lines.append(f"| {name} | {fmt(s['SIE'][f'{name}_PRE'], 4)} | {fmt(s['SIE'][f'{name}_MRR'], 4)} |")
    lines += ["", "Per-class rotation R² (SIE: equivariant part; VICReg: whole; lathed classes last):", ""]
    lines += ["| class | SIE | VICReg | Δ mean | constant floor |", "|---|---:|---:|---:|---:|"]
    classes = sorted(s.get("SIE", s.get("VICReg", {})).get("rot_r2_per_class", {}), key=lambda c: (c in LATHED, c))
    for c in classes:
        a, b = (s.get(m, {}).get("rot_r2_per_class", {}).get(c) for m in ("SIE", "VICReg"))
        d = f"{a['mean'] - b['mean']:+.4f}" if a and b else ""
        floor = s.get("SIE", s.get("VICReg"))["rot_r2_floor_per_class"].get(c)
        lines.append(f"| {c}{' (lathed)' if c in LATHED else ''} | {fmt(a, 4)} | {fmt(b, 4)} | {d} | {fmt(floor, 4)} |")
    c = doc["ceilings"]
    lines += [
        "",
        "## Ceilings (one seed each)",
        "",
        f"- True-pose ceiling (`eval rotation`'s: the same MLP and schedule on the views' true "
        f"rotation matrices, cached features, one pair per object per epoch; its val pairs are its own "
        f"draw, not the reference probes'): R² {cell(c.get('true_pose'), 1, 4)}.",
        f"- Image-supervised ceiling (`--rotation-supervision 1 --sim-coeff 0 --std-coeff 0 --cov-coeff 0`, "
        f"`--experience VICReg`, same budget, seed 0): R² {cell(c.get('image_supervised'), 1, 4)} "
        f"(whole representation, the same reference probes).",
        "",
    ]
    return "\n".join(lines)


def cell(v, scale=1.0, digits=3, unit=""):
    return "" if v is None else f"{v * scale:.{digits}f}{unit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, help="path without extension")
    ap.add_argument("--probe-epochs", type=int, default=30)
    ap.add_argument("--scale", default=SCALE_REGISTERED, help="the caption every number carries")
    ap.add_argument("--seeds", default="0 1 2 3 4", help="the registered seeds per method")
    ap.add_argument("--steps", type=int, default=1520, help="the registered steps per run")
    a = ap.parse_args()
    records, ceilings_runs = [], []
    for name in sorted(os.listdir(a.runs)):
        run_dir = os.path.join(a.runs, name)
        if not os.path.isdir(run_dir):
            continue
        if not os.path.exists(os.path.join(run_dir, ".evaluated")):
            print(f"preregistered_summary: {run_dir}: not evaluated yet; left out", file=sys.stderr)
            continue
        r = run_record(run_dir, name)
        (ceilings_runs if r["method"].startswith("supervised") else records).append(r)
    records.sort(key=lambda r: (r["method"] != "SIE", r["seed"]))
    try:
        built_at = read_json(os.path.join(a.data, "manifest.json")).get("generator_commit", "")[:7]
    except (OSError, ValueError):
        built_at = ""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    poses = sorted({r["rot_r2_true_pose_ceiling"] for r in records + ceilings_runs})
    problems = problems_of(records, ceilings_runs, [int(x) for x in a.seeds.split()], a.steps, a.probe_epochs)
    if len(poses) > 1:
        problems.append(f"the true-pose ceiling differs between runs: {poses}")
    for problem in problems:
        print(f"preregistered_summary: {problem}", file=sys.stderr)
    doc = {
        "protocol": "experiments/preregistered.md",
        "scale": a.scale,
        "probe_protocol": f"reference, {a.probe_epochs} ep",
        "commit": commit,
        "data_rendered_at": built_at,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "data": a.data,
        "problems": problems,
        "runs": records,
        "ceilings_runs": ceilings_runs,
        "primary": paired(records),
        "secondary": secondary(records),
        "ceilings": {
            "true_pose": poses[0] if len(poses) == 1 else None,
            "image_supervised": ceilings_runs[0]["rot_r2_by_part"]["all"] if ceilings_runs else None,
        },
    }
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    for ext, text in (("json", json.dumps(doc, indent=1)), ("md", markdown(doc))):
        tmp = f"{a.out}.{ext}.tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, f"{a.out}.{ext}")
    print(markdown(doc))


if __name__ == "__main__":
    main()
