#!/usr/bin/env python3
"""Compares two renders of the same job (e.g. NVIDIA's Vulkan driver against lavapipe): every
mask_<k>.png must be identical pixel for pixel; every image_<k>.jpg is compared by PSNR and mean
absolute difference. Prints one summary line and a JSON object (--json FILE); exit status 1 if a
mask differs, a file is missing, or an image is under --min-psnr dB."""
import argparse
import json
import math
import os
import sys

import numpy as np
from PIL import Image


def files(root, prefix, suffix):
    for d, _, names in os.walk(root):
        for n in sorted(names):
            if n.startswith(prefix) and n.endswith(suffix):
                yield os.path.relpath(os.path.join(d, n), root)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("reference")
    p.add_argument("candidate")
    p.add_argument("--min-psnr", type=float, default=35.0)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    masks = list(files(a.reference, "mask_", ".png"))
    images = list(files(a.reference, "image_", ".jpg"))
    missing, mask_pixels_differing, mask_pixels = [], 0, 0
    for rel in masks:
        other = os.path.join(a.candidate, rel)
        if not os.path.exists(other):
            missing.append(rel)
            continue
        r = np.asarray(Image.open(os.path.join(a.reference, rel)))
        c = np.asarray(Image.open(other))
        mask_pixels += r.size
        mask_pixels_differing += int((r != c).sum()) if r.shape == c.shape else r.size
    psnrs, mads = [], []
    for rel in images:
        other = os.path.join(a.candidate, rel)
        if not os.path.exists(other):
            missing.append(rel)
            continue
        r = np.asarray(Image.open(os.path.join(a.reference, rel)).convert("RGB"), dtype=np.float64)
        c = np.asarray(Image.open(other).convert("RGB"), dtype=np.float64)
        mse = ((r - c) ** 2).mean()
        psnrs.append(math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse))
        mads.append(np.abs(r - c).mean())
    result = {
        "masks": len(masks),
        "mask_pixels_differing": mask_pixels_differing,
        "mask_pixels": mask_pixels,
        "images": len(images),
        "psnr_min": min(psnrs) if psnrs else None,
        "psnr_mean": float(np.mean([min(v, 99.0) for v in psnrs])) if psnrs else None,
        "mean_abs_diff_max": max(mads) if mads else None,
        "missing": missing,
        "min_psnr_allowed": a.min_psnr,
    }
    ok = not missing and mask_pixels_differing == 0 and psnrs and min(psnrs) >= a.min_psnr and masks
    result["pass"] = bool(ok)
    print(
        f"renders: {len(masks)} masks, {mask_pixels_differing} of {mask_pixels} mask pixels differ; "
        f"{len(images)} images, PSNR min {result['psnr_min']} mean {result['psnr_mean']} dB, "
        f"worst mean |diff| {result['mean_abs_diff_max']}; missing {len(missing)}: {'PASS' if ok else 'FAIL'}"
    )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
