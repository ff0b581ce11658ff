"""PyTorch implementation of the reference's SIE training step, for bench/train_step.sh.

The model is the reference trainer's (SPEC section 4), written out here: its ResNet-18 variant
(or the torchvision-layout `resnet-small` of our README's main job), the two split projectors
(Linear+BN1d+ReLU, last Linear without bias), the linear hypernetwork predictor as the reference's
ParametrizedNet computes it (per-sample (d, d) matrices from the latent, then bmm), the SIE loss
with the reference's coefficients, the online evaluator (linear classifiers, quaternion MLPs on
detached representations) and Adam (lr 1e-3, weight decay 1e-6) over every parameter. Parameter
names equal our trainer's, so our initial weights load strictly.

Modes:
  (default)   time WARMUP + STEPS steps on a random batch; one summary line on stdout.
  --check DIR load what `bench_step --dump DIR` wrote (initial weights, batch), run the same step
              and compare the losses, every gradient and the weights after one Adam step; exit 1
              when they differ beyond float tolerance.
  --data DIR  the loader too: a torch DataLoader (NUM_WORKERS processes) reading the rendered
              dataset as `train` does (two distinct random views per object, PIL decode, bilinear
              antialiased resize, normalisation, the relative quaternion), EPOCHS epochs.
"""

import argparse
import copy
import json
import math
import re
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN = (0.5016, 0.5037, 0.5060)
STD = (0.1030, 0.0999, 0.0969)


def pad_hw(x, before, after, value=0.0):
    return F.pad(x, (before, after, before, after), value=value)


class BasicBlock(nn.Module):
    """`reference`: stride on conv2 after an explicit (0, 1) pad; else torchvision's layout."""

    def __init__(self, inp, out, stride, shortcut, reference):
        super().__init__()
        self.stride, self.reference = stride, reference
        if reference:
            self.conv1 = nn.Conv2d(inp, out, 3, 1, 1, bias=False)
            self.conv2 = nn.Conv2d(out, out, 3, stride, 1 if stride == 1 else 0, bias=False)
        else:
            self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
            self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.bn2 = nn.BatchNorm2d(out)
        nn.init.zeros_(self.bn2.weight)
        self.downsample = (
            nn.Sequential(nn.Conv2d(inp, out, 1, stride, 0, bias=False), nn.BatchNorm2d(out)) if shortcut else None
        )

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.reference and self.stride != 1:
            h = pad_hw(h, 0, 1)
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    """`resnet18`: the reference's ResNet-18. `resnet-small`: 3x3/2 stem, no pool, one block per
    stage, widths 32-64-128-256, torchvision layout (trainer/model/src/backbone.rs); `resnet-tiny`:
    the same with a 3x3/1 stem and widths 16-32-64-128 (the test fixture's)."""

    def __init__(self, arch):
        super().__init__()
        self.arch = arch
        if arch == "resnet18":
            widths, blocks, reference = [64, 128, 256, 512], 2, True
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 0, bias=False)
        elif arch in ("resnet-small", "resnet-tiny"):
            small = arch == "resnet-small"
            widths, blocks, reference = ([32, 64, 128, 256] if small else [16, 32, 64, 128]), 1, False
            self.conv1 = nn.Conv2d(3, widths[0], 3, 2 if small else 1, 1, bias=False)
        else:
            raise SystemExit(f"--arch {arch}: resnet18, resnet-small or resnet-tiny")
        self.bn1 = nn.BatchNorm2d(widths[0])
        inp = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            layer = []
            for b in range(blocks):
                shortcut = b == 0 and (reference or stride != 1 or inp != w)
                layer.append(BasicBlock(inp, w, stride if b == 0 else 1, shortcut, reference))
                inp = w
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.repr_dim = inp
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        if self.arch == "resnet18":
            h = F.relu(self.bn1(self.conv1(pad_hw(x, 2, 3))))
            h = F.max_pool2d(pad_hw(h, 0, 1, -1e4), 3, 2, 0)
        else:
            h = F.relu(self.bn1(self.conv1(x)))
        for i in range(1, 5):
            h = getattr(self, f"layer{i}")(h)
        return h.mean(dim=(2, 3))


def projector(inp, sizes):
    dims, layers = [inp] + sizes, []
    for i in range(len(dims) - 2):
        layers += [nn.Linear(dims[i], dims[i + 1]), nn.BatchNorm1d(dims[i + 1]), nn.ReLU(True)]
    layers.append(nn.Linear(dims[-2], dims[-1], bias=False))
    return nn.Sequential(*layers)


class HyperNet(nn.Module):
    def __init__(self, latent, d):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, d * d, bias=False))


class ParametrizedNet(nn.Module):
    """The reference's linear hypernetwork predictor: W(z) = hypernet(z).view(N, d, d)."""

    def __init__(self, d, latent):
        super().__init__()
        self.d = d
        self.hypernet = HyperNet(latent, d)

    def forward(self, x, z):
        w = self.hypernet.net(z).view(-1, self.d, self.d)
        return torch.bmm(w, x.unsqueeze(2)).squeeze(2)


def mlp(dims):
    layers = []
    for i in range(len(dims) - 1):
        layers.append(nn.Linear(dims[i], dims[i + 1]))
        if i + 2 < len(dims):
            layers.append(nn.ReLU(True))
    return nn.Sequential(*layers)


class OnlineEvaluator(nn.Module):
    def __init__(self, repr_dim, inv, classes):
        super().__init__()
        self.inv, equi = inv, repr_dim - inv
        self.classifier_repr = nn.Linear(repr_dim, classes)
        self.classifier_inv_repr = nn.Linear(inv, classes)
        self.predictor_angles_repr = mlp([2 * repr_dim] * 3 + [4])
        self.predictor_angles_equi_repr = mlp([2 * equi] * 3 + [4])

    def forward(self, r1, r2, labels, quat):
        r1, r2 = r1.detach(), r2.detach()
        both, labels2 = torch.cat([r1, r2]), torch.cat([labels, labels])
        loss = F.cross_entropy(self.classifier_repr(both), labels2)
        loss = loss + F.cross_entropy(self.classifier_inv_repr(both[:, : self.inv]), labels2)
        loss = loss + F.mse_loss(self.predictor_angles_repr(torch.cat([r1, r2], 1)), quat)
        e1, e2 = r1[:, self.inv :], r2[:, self.inv :]
        return loss + F.mse_loss(self.predictor_angles_equi_repr(torch.cat([e1, e2], 1)), quat)


def std_term(v):
    v = v - v.mean(dim=0)
    return torch.mean(F.relu(1 - torch.sqrt(v.var(dim=0) + 1e-4)))


def cov_term(v):
    n, d = v.shape
    v = v - v.mean(dim=0)
    cov = (v.T @ v) / (n - 1)
    off = cov.pow(2).sum() - cov.diagonal().pow(2).sum()
    return off / d


class SIE(nn.Module):
    def __init__(self, arch, mlp_sizes, equi, classes, latent=4):
        super().__init__()
        self.backbone = ResNet(arch)
        r = self.backbone.repr_dim
        self.inv, self.equi = r - equi, equi
        scaled = lambda part: [max(1, round(s * part / r)) for s in mlp_sizes]  # noqa: E731
        self.projector_inv = projector(self.inv, scaled(self.inv))
        self.projector_equi = projector(equi, scaled(equi))
        self.predictor = ParametrizedNet(scaled(equi)[-1], latent)
        self.evaluator = OnlineEvaluator(r, self.inv, classes)

    def forward(self, x1, x2, latent, labels, sim=10.0, std=10.0, cov=1.0, equi_factor=0.45):
        r1, r2 = self.backbone(x1), self.backbone(x2)
        eval_loss = self.evaluator(r1, r2, labels, latent[:, :4])
        i1, e1 = self.projector_inv(r1[:, : self.inv]), self.projector_equi(r1[:, self.inv :])
        i2, e2 = self.projector_inv(r2[:, : self.inv]), self.projector_equi(r2[:, self.inv :])
        pred = self.predictor(e1, latent)
        x, y = torch.cat([i1, e1], 1), torch.cat([i2, e2], 1)
        loss = sim * F.mse_loss(i1, i2) + equi_factor * sim * F.mse_loss(pred, e2)
        loss = loss + std * (std_term(x) / 2 + std_term(y) / 2 + std_term(pred) / 2)
        loss = loss + cov * (cov_term(x) + cov_term(y))
        return loss, eval_loss


def build(a):
    model = SIE(a.arch, [int(s) for s in a.mlp.split("-")], a.equi, a.num_classes).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-6)
    return model, opt


def step(model, opt, x1, x2, latent, labels, amp=False):
    # --amp: autocast to bfloat16 (convolutions and matmuls), f32 weights and loss, as candle's
    # --precision bf16.
    with torch.autocast(x1.device.type, dtype=torch.bfloat16, enabled=amp):
        loss, eval_loss = model(x1, x2, latent, labels)
    opt.zero_grad(set_to_none=True)
    (loss + eval_loss).backward()
    opt.step()
    return loss


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def describe(a, model):
    n_params = sum(q.numel() for q in model.parameters())
    precision = "bf16-amp" if a.amp else "f32"
    return (
        f"pytorch-{torch.__version__} {a.device} {precision} SIE {a.arch} {a.resolution}px batch {a.batch}x2 "
        f"mlp {a.mlp} params {n_params}"
    )


def time_steps(a):
    torch.manual_seed(0)
    model, opt = build(a)
    dev = torch.device(a.device)
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-6)
    n, r = a.batch, a.resolution
    x1, x2 = torch.randn(n, 3, r, r, device=dev), torch.randn(n, 3, r, r, device=dev)
    latent = F.normalize(torch.randn(n, 4, device=dev), dim=1)
    labels = torch.randint(0, a.num_classes, (n,), device=dev)
    times, cpu = [], []
    for i in range(a.warmup + a.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = step(model, opt, x1, x2, latent, labels, a.amp)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        secs = time.perf_counter() - start
        print(f"step {i}: {secs:.3f} s, loss {loss.item():.5f}", file=sys.stderr)
        if i >= a.warmup:
            times.append(secs)
            cpu.append(time.process_time() - cpu_start)
    med = statistics.median(times)
    gpu_mem = ""
    if dev.type == "cuda":
        gpu_mem = f", peak GPU memory {torch.cuda.max_memory_allocated(dev) / 2**20:.0f} MiB"
    print(
        f"{describe(a, model)}: median {med:.3f} s/step, {2 * n / med:.1f} images/s{gpu_mem}, "
        f"cpu {statistics.median(cpu):.2f} s/step, peak RSS {peak_rss_mib():.0f} MiB, threads {torch.get_num_threads()}"
    )
    if a.profile:
        profile_step(model, opt, (x1, x2, latent, labels), a.amp, dev)


def profile_step(model, opt, batch, amp, dev):
    """One more step under torch.profiler: its 15 most expensive ops (device time on a GPU), for
    the GPU run's comparison with candle's per-op times."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step(model, opt, *batch, amp)
        if dev.type == "cuda":
            torch.cuda.synchronize()
    key = "cuda_time_total" if dev.type == "cuda" else "cpu_time_total"
    print("torch.profiler top ops:")
    print(prof.key_averages().table(sort_by=key, row_limit=15))


def load_safetensors(path):
    from safetensors.torch import load_file

    return load_file(path)


def rel_err(a, b):
    return (a - b).norm().item() / max(b.norm().item(), 1e-12)


def check(a):
    """Our initial weights and batch in; the same losses, gradients and updated weights out."""
    d = a.check
    model, opt = build(a)
    init = load_safetensors(os.path.join(d, "init.safetensors"))
    missing, unexpected = model.load_state_dict(init, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"check: names differ: missing {missing[:5]}, unexpected {unexpected[:5]}")
    b = load_safetensors(os.path.join(d, "batch.safetensors"))
    ours = json.load(open(os.path.join(d, "losses.json")))
    loss, eval_loss = model(b["x1"], b["x2"], b["latent"], b["labels"])
    opt.zero_grad(set_to_none=True)
    (loss + eval_loss).backward()
    rows, ok = [], True

    def row(what, err, tol):
        nonlocal ok
        ok &= err <= tol
        rows.append(f"  {what:<58} {err:10.2e}  (tolerance {tol:.0e}){'' if err <= tol else '  FAILED'}")

    row("loss, step 0 (relative)", abs(loss.item() - ours["step0"]["ssl"]) / abs(loss.item()), 1e-4)
    row("evaluator loss, step 0 (relative)", abs(eval_loss.item() - ours["step0"]["eval"]) / abs(eval_loss.item()), 1e-4)
    grads = load_safetensors(os.path.join(d, "grads.safetensors"))
    named = dict(model.named_parameters())
    absent = [k for k, p in named.items() if p.grad is not None and k not in grads]
    if absent:
        raise SystemExit(f"check: no candle gradient for {absent[:5]}")
    # The float noise floor: the same step in float64 (PyTorch); both f32 steps are compared with
    # it. A deep net's f32 gradients carry more than rounding: a ReLU input within rounding of 0
    # (2 of 65,536 in ResNet-18's last block here) flips its mask on one side, which moves that
    # channel's gradient by one element's share (1/128 of layer4's batch-norm sums: 0.8% of
    # `layer4.1.bn2.bias` in the resnet18 shape). Hence 2e-2, or 20x PyTorch's own f32 distance
    # where that is larger; a wrong stride, padding, layout or coefficient gives errors of order 1.
    exact = copy.deepcopy(model).double()
    exact.zero_grad(set_to_none=True)
    l64, e64 = exact(*(b[k].double() for k in ("x1", "x2", "latent")), b["labels"])
    (l64 + e64).backward()
    exact_grads = {k: p.grad for k, p in exact.named_parameters() if p.grad is not None}
    # A Linear's bias before a BatchNorm (a projector's layers 0, 3, ...) has a zero gradient in
    # exact arithmetic: both sides hold rounding noise there, which must stay tiny.
    norms = [g.norm().item() for g in exact_grads.values() if g.norm() > 0]
    floor = 1e-3 * statistics.median(norms)
    noise = {k for k in named if re.fullmatch(r"projector\w*\.\d+\.bias", k) and int(k.split(".")[1]) % 3 == 0}

    def dist(g, k):
        return (g.double() - exact_grads[k]).norm().item() / max(exact_grads[k].norm().item(), floor)

    compared = [k for k in exact_grads if k not in noise]
    torch_noise = statistics.median(dist(named[k].grad, k) for k in compared)
    tol = max(2e-2, 20 * torch_noise)
    errs = sorted(((dist(grads[k], k), dist(named[k].grad, k), k) for k in compared), reverse=True)
    rows.append(f"  gradients, distance to the float64 step: PyTorch f32 median {torch_noise:.1e}, tolerance {tol:.0e}")
    for key in ["backbone.conv1.weight", "backbone.layer1.0.conv1.weight", "projector_equi.0.weight", "predictor.hypernet.net.0.weight", "evaluator.classifier_repr.weight"]:
        if key in exact_grads:
            row(f"grad {key} (PyTorch f32: {dist(named[key].grad, key):.1e})", dist(grads[key], key), tol)
    worst = errs[0]
    row(f"worst of {len(errs)} gradients: {worst[2]} (PyTorch f32: {worst[1]:.1e})", worst[0], tol)
    blind = [k for k in exact_grads if exact_grads[k].norm() == 0]
    row(f"gradients that are exactly 0 (nothing compared there){': ' + blind[0] if blind else ''}", len(blind), 0)
    largest = max(max(grads[k].norm().item(), named[k].grad.norm().item()) for k in noise) / (floor * 1e3) if noise else 0.0
    row(f"{len(noise)} pre-BN bias gradients (0 exactly): largest / median norm", largest, 1e-4)
    opt.step()
    after = load_safetensors(os.path.join(d, "after.safetensors"))
    state = model.state_dict()
    # Adam's first step moves every weight by about lr * sign(gradient), whatever the gradient's
    # size, so a gradient element within rounding of 0 can step either way (2 lr apart): every
    # element is held to that bound, and all weights and BN statistics together to 1e-3.
    keys = [k for k in after if after[k].is_floating_point()]
    flat = lambda t: torch.cat([t[k].flatten().double() for k in keys])  # noqa: E731
    row("weights and BN stats after one Adam step (all, relative)", rel_err(flat(after), flat(state)), 1e-3)
    bound = max((after[k] - state[k]).abs().max().item() for k in keys)
    row("largest difference of one weight after the step (2 lr = 2e-3)", bound, 2.2e-3)
    with torch.no_grad():
        loss1, eval1 = model(b["x1"], b["x2"], b["latent"], b["labels"])
    row("loss after the step (relative)", abs(loss1.item() - ours["step1"]["ssl"]) / abs(loss1.item()), 1e-3)
    print(f"same computation check ({a.arch}, {a.resolution}px, batch {a.batch}): loss {loss.item():.6f} (candle {ours['step0']['ssl']:.6f})")
    print("\n".join(rows))
    print("same computation: " + ("PASS" if ok else "FAIL"))
    if a.write_fixture and ok:
        write_fixture(a, loss.item(), eval_loss.item(), loss1.item(), named, grads)
    sys.exit(0 if ok else 1)


def write_fixture(a, loss, eval_loss, loss1, named, candle_grads):
    """PyTorch's numbers for trainer/tests/torch_step.rs: the losses and, for a few parameters,
    the gradient's norm and first values (what our test recomputes from the same seed)."""
    # Every kind of layer, inside and outside the residual branches; none whose gradient is 0.
    wanted = ["backbone.conv1.weight", "backbone.bn1.weight", "backbone.layer1.0.conv1.weight", "backbone.layer1.0.bn1.bias",
              "backbone.layer1.0.conv2.weight", "backbone.layer1.0.bn2.weight", "backbone.layer2.0.conv1.weight",
              "backbone.layer2.0.conv2.weight", "backbone.layer2.0.downsample.0.weight", "backbone.layer3.0.conv2.weight",
              "backbone.layer4.0.conv1.weight", "backbone.layer4.0.bn2.weight", "projector_inv.0.weight", "projector_equi.3.weight",
              "projector_equi.6.weight", "predictor.hypernet.net.0.weight", "evaluator.classifier_repr.weight",
              "evaluator.predictor_angles_equi_repr.0.weight"]
    pick = [k for k in wanted if k in named and named[k].grad is not None and named[k].grad.norm() > 0]
    out = {
        "made_by": f"bench/train_step.py --write-fixture, PyTorch {torch.__version__}",
        "shape": {"arch": a.arch, "resolution": a.resolution, "batch": a.batch, "mlp": a.mlp, "equi": a.equi, "num_classes": a.num_classes},
        "loss": loss,
        "eval_loss": eval_loss,
        "loss_after_adam_step": loss1,
        "grads": {k: {"norm": named[k].grad.norm().item(), "head": named[k].grad.flatten()[:8].tolist()} for k in pick},
    }
    with open(a.write_fixture, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {a.write_fixture}")


# --- the loader: the rendered dataset as `train` reads it ---


def euler_xyz_to_matrix(a, b, c):
    ca, sa, cb, sb, cc, sc = math.cos(a), math.sin(a), math.cos(b), math.sin(b), math.cos(c), math.sin(c)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    rz = np.array([[cc, -sc, 0], [sc, cc, 0], [0, 0, 1]])
    return rz @ ry @ rx


def matrix_to_quat(m):
    """The quaternion (x, y, z, w) of a rotation matrix, by SciPy's from_matrix branches. Its sign
    can differ from SciPy's `r1.inv() * r2` product (which `train` matches); for timing the loader
    that does not matter."""
    tr = np.trace(m)
    choices = [m[0, 0], m[1, 1], m[2, 2], tr]
    i = int(np.argmax(choices))
    q = np.empty(4)
    if i == 3:
        q[3] = 1 + tr
        q[0], q[1], q[2] = m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]
    else:
        j, k = (i + 1) % 3, (i + 2) % 3
        q[i] = 1 - tr + 2 * m[i, i]
        q[j] = m[j, i] + m[i, j]
        q[k] = m[k, i] + m[i, k]
        q[3] = m[k, j] - m[j, k]
    return q / np.linalg.norm(q)


class PairDataset(torch.utils.data.Dataset):
    def __init__(self, root, resolution):
        self.root, self.res = root, resolution
        self.objects = np.load(os.path.join(root, "train_images.npy"))
        self.labels = np.load(os.path.join(root, "train_labels.npy"))
        first = os.path.join(root, self.objects[0].strip("/"))
        self.views = len([f for f in os.listdir(first) if f.startswith("image_")])

    def __len__(self):
        return len(self.objects)

    def image(self, folder, k):
        from PIL import Image

        img = Image.open(os.path.join(folder, f"image_{k}.jpg")).convert("RGB")
        img = img.resize((self.res, self.res), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)

    def __getitem__(self, i):
        folder = os.path.join(self.root, self.objects[i].strip("/"))
        v1, v2 = np.random.choice(self.views, 2, replace=False)
        l1, l2 = (np.load(os.path.join(folder, f"latent_{v}.npy")) for v in (v1, v2))
        r1, r2 = euler_xyz_to_matrix(*l1[:3]), euler_xyz_to_matrix(*l2[:3])
        q = torch.tensor(matrix_to_quat(r1.T @ r2), dtype=torch.float32)
        return self.image(folder, v1), self.image(folder, v2), q, int(self.labels[i])


def train_loop(a):
    torch.manual_seed(0)
    ds = PairDataset(a.data, a.resolution)
    a.num_classes = int(ds.labels.max()) + 1 if a.num_classes <= 0 else a.num_classes
    model, opt = build(a)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=a.batch, shuffle=True, num_workers=a.num_workers, drop_last=False, persistent_workers=a.num_workers > 0
    )
    rates = []
    for epoch in range(a.epochs):
        start, images = time.perf_counter(), 0
        for x1, x2, q, labels in loader:
            if len(labels) < 2:
                continue
            step(model, opt, x1, x2, q, labels)
            images += 2 * len(labels)
        secs = time.perf_counter() - start
        rates.append(images / secs)
        print(f"epoch {epoch}: {images / secs:.1f} images/s", file=sys.stderr)
    print(
        f"{describe(a, model)} train loop, DataLoader {a.num_workers} workers: "
        f"median {statistics.median(rates):.1f} images/s over {a.epochs} epochs, peak RSS {peak_rss_mib():.0f} MiB, "
        f"threads {torch.get_num_threads()}"
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--mlp", default="2048-2048-2048")
    p.add_argument("--equi", type=int, default=None, help="default: half the representation")
    p.add_argument("--num-classes", type=int, default=55)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--check", default=None)
    p.add_argument("--write-fixture", default=None, help="with --check: PyTorch's losses and gradients as JSON")
    p.add_argument("--data", default=None)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (timing only)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast (timing only)")
    p.add_argument("--profile", action="store_true", help="after timing: torch.profiler's top ops of one more step")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.equi is None:
        a.equi = {"resnet18": 256, "resnet-small": 128, "resnet-tiny": 64}.get(a.arch, 256)
    if a.check:
        check(a)
    elif a.data:
        train_loop(a)
    else:
        time_steps(a)


if __name__ == "__main__":
    main()
