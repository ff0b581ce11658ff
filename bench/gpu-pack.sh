#!/usr/bin/env bash
# Prepares the one GPU run of bench/gpu.sh on a CPU machine (the GPU machine has nvcc and
# PyTorch but no Rust): builds the CUDA binaries (train, eval, bench_step, cuda_check) and the
# renderer, strips them into .gpu/bin, and renders on lavapipe the small reference set the GPU
# renderer is compared with (.gpu/lavapipe-ref). Everything under .gpu (git-ignored through
# .git/info/exclude) travels with the run; it must stay under 64 MiB with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODEVICE_SELECT=1
bash scripts/setup.sh
bash scripts/setup-cuda.sh
# shellcheck disable=SC1091
source .cuda-env
CARGO_TARGET_DIR=target/cuda cargo build --release -p trainer -p eval --no-default-features --features cuda,trainer/render --bins
cargo build --release -p renderer
rm -rf .gpu && mkdir -p .gpu/bin
# Each CUDA binary embeds candle's kernels (about 56 MB stripped, mostly PTX text): xz makes
# them about 7 MB, so three fit the 64 MiB that travels. (eval runs on CUDA too, but the GPU
# check does not need it.)
for b in train bench_step cuda_check; do cp target/cuda/release/$b .gpu/bin/; done
cp target/release/render .gpu/bin/
strip .gpu/bin/*
# The renderer's comparison set, from the very binary that travels: two views of two objects per
# class, with masks, on lavapipe.
.gpu/bin/render --per-class 2 --views 2 --mask --library .gpu/synth --out .gpu/lavapipe-ref >/dev/null
rm -rf .gpu/synth
xz -T0 -6 .gpu/bin/*
du -sh .gpu/bin/* .gpu/lavapipe-ref
du -sh .gpu
