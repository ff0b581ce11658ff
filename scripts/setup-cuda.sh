#!/usr/bin/env bash
# Installs what building the trainer's `cuda` feature needs, without a GPU and without NVIDIA's
# installer: the CUDA 13.0 compiler, headers and libraries from PyPI's NVIDIA wheels, plus a
# link-time stub of the driver library (libcuda.so; the real one comes with the driver on the GPU
# machine). Writes `.cuda-env` in the repository root; `source .cuda-env` before
# `cargo build --release -p trainer -p eval --no-default-features --features cuda`.
#
# Why 13.0 exactly: the PTX that nvcc writes is JIT-compiled by the driver at start, and a driver
# only reads PTX from toolkits up to its own version. 13.0 is what NVIDIA's 580 drivers (CUDA 13.0)
# and PyTorch's cu130 wheels ship, so a binary built here runs on those machines and on newer ones.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${SIE_CUDA_PREFIX:-/opt/sie-cuda13}"
SITE="$PREFIX/site"
CU="$SITE/nvidia/cu13"
WHEELS=(
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96 nvidia-cuda-nvrtc==13.0.88 nvidia-cuda-cccl==13.0.85
  nvidia-cublas==13.1.0.3 nvidia-curand==10.4.0.35 nvidia-nccl-cu13==2.28.9
)

if [ ! -x "$CU/bin/nvcc" ] || [ ! -e "$PREFIX/.complete" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && [ ! -w "$(dirname "$PREFIX")" ] && SUDO="sudo"
  apt_install() {
    echo "setup-cuda: installing $*" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
  }
  command -v gcc >/dev/null || apt_install gcc g++ # nvcc's host compiler
  command -v python3 >/dev/null || apt_install python3
  $SUDO mkdir -p "$PREFIX"
  # pip from a virtual environment: Debian's own python3 refuses installs outside one (PEP 668).
  if [ ! -x "$PREFIX/venv/bin/pip" ]; then
    $SUDO python3 -m venv "$PREFIX/venv" 2>/dev/null || { apt_install python3-venv python3-pip && $SUDO python3 -m venv "$PREFIX/venv"; }
  fi
  echo "setup-cuda: installing the CUDA 13.0 toolkit wheels into $PREFIX" >&2
  $SUDO "$PREFIX/venv/bin/pip" install -q --disable-pip-version-check --no-warn-script-location \
    --target "$SITE" --upgrade "${WHEELS[@]}"
fi

# The wheels ship versioned sonames only; the linker asks for lib<name>.so.
LINK="$PREFIX/link"
mkdir -p "$LINK"
for lib in "$CU"/lib/lib*.so.* "$SITE"/nvidia/nccl/lib/libnccl.so.*; do
  name=$(basename "$lib"); ln -sf "$lib" "$LINK/${name%%.so.*}.so"
done

# Link-time stub of the driver API: every cu* name cuda.h mentions, as an empty function in a
# library whose soname is the driver's. At run time the driver's own libcuda.so.1 is loaded instead.
if [ ! -e "$LINK/libcuda.so" ] || [ "$CU/include/cuda.h" -nt "$LINK/libcuda.so" ]; then
  grep -oE '\bcu[A-Z][A-Za-z0-9_]*' "$CU/include/cuda.h" | sort -u \
    | sed 's/.*/void &(void) {}/' >"$PREFIX/cuda_stub.c"
  gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$LINK/libcuda.so" "$PREFIX/cuda_stub.c"
fi
touch "$PREFIX/.complete"

cat >.cuda-env.tmp <<EOF
# Written by scripts/setup-cuda.sh: the CUDA 13.0 build environment (source it before cargo).
export CUDA_HOME="$CU"
export CUDA_PATH="$CU"
export NCCL_HOME="$SITE/nvidia/nccl"
export PATH="$CU/bin:\$PATH"
export LIBRARY_PATH="$LINK\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
export CPATH="$CU/include:$SITE/nvidia/nccl/include\${CPATH:+:\$CPATH}"
# No GPU here to ask: build PTX for Hopper (H100/H200, sm_90). Override for other cards.
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
EOF
mv .cuda-env.tmp .cuda-env
echo "setup-cuda: ready; nvcc $("$CU/bin/nvcc" --version | grep -oE 'release [0-9.]+')" >&2
