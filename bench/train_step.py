"""PyTorch CPU twin of trainer/src/bin/bench_step.rs: the same ResNet-18 (reference trainer's
layout), the same SIE-shaped step (two views of BATCH images, MSE between the 512-d
representations, backward, Adam(lr 1e-3, weight_decay 1e-6)). images/s counts both views.

Usage: python bench/train_step.py [--batch 32] [--resolution 64] [--warmup 2] [--steps 7] [--threads 2]
"""

import argparse
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def pad_hw(x, before, after):
    return F.pad(x, (before, after, before, after))


class Block(nn.Module):
    def __init__(self, inp, out, stride, shortcut):
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(inp, out, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, stride, 1 if stride == 1 else 0, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = (
            nn.Sequential(nn.Conv2d(inp, out, 1, stride, 0, bias=False), nn.BatchNorm2d(out)) if shortcut else None
        )

    def forward(self, x):
        r = F.relu(self.bn1(self.conv1(x)))
        if self.stride != 1:
            r = pad_hw(r, 0, 1)
        r = self.bn2(self.conv2(r))
        s = self.downsample(x) if self.downsample is not None else x
        return F.relu(r + s)


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        blocks, inp = [], 64
        for stage, width in enumerate([64, 128, 256, 512]):
            for b in range(2):
                stride = 2 if b == 0 and stage > 0 else 1
                blocks.append(Block(inp, width, stride, b == 0))
                inp = width
        self.blocks = nn.Sequential(*blocks)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(pad_hw(x, 2, 3))))
        h = F.max_pool2d(pad_hw(h, 0, 1), 3, 2, 0)
        return self.blocks(h).mean(dim=(2, 3))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = ResNet18().train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-6)
    x1 = torch.randn(a.batch, 3, a.resolution, a.resolution)
    x2 = torch.randn(a.batch, 3, a.resolution, a.resolution)
    times, cpu_times = [], []
    for step in range(a.warmup + a.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        loss = (net(x1) - net(x2)).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        secs = time.perf_counter() - start
        print(f"step {step}: {secs:.3f} s, loss {loss.item():.5f}", file=sys.stderr)
        if step >= a.warmup:
            times.append(secs)
            cpu_times.append(time.process_time() - cpu_start)
    med = statistics.median(times)
    n_params = sum(q.numel() for q in net.parameters())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"pytorch-{torch.__version__} resnet18 {a.resolution}px batch {a.batch}x2 params {n_params}: "
        f"median {med:.3f} s/step, {2 * a.batch / med:.1f} images/s, cpu {statistics.median(cpu_times):.2f} s/step, "
        f"peak RSS {peak_mib:.0f} MiB, "
        f"threads {torch.get_num_threads()}"
    )


if __name__ == "__main__":
    main()
