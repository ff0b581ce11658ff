#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: the software Vulkan driver (lavapipe)
# when no Vulkan adapter is present, and OpenMPI (with libclang, which the `mpi` crate's bindgen
# needs) for the trainer's data-parallel CPU ranks. Idempotent and quiet when everything is
# already there.
set -euo pipefail
need_vulkan() { ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; }
if need_vulkan || ! ldconfig -p | grep -q libvulkan.so.1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing mesa-vulkan-drivers libvulkan1 (software Vulkan)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
need_mpi() { ! dpkg -s libopenmpi-dev openmpi-bin libclang-dev >/dev/null 2>&1; }
if need_mpi; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing libopenmpi-dev openmpi-bin libclang-dev (MPI ranks for train)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenmpi-dev openmpi-bin libclang-dev >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust (rustup) first" >&2; exit 1; }
