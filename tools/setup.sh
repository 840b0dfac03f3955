#!/usr/bin/env bash
# Installs every Debian 12 package that hrere's build, tests and benchmarks need. Run as root
# (it calls apt-get); as another user it lists what is missing and how to install it.
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libtorch-dev
  libopenblas0-openmp   # without it Debian's LibTorch uses the reference BLAS (~7x slower LSTM)
  libopenmpi-dev openmpi-bin
  libhdf5-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  python3 python3-h5py  # the store layout test reads bags.h5 the way Python users will
  python3-matplotlib    # PR-curve plots (tools/plot_pr.py, called by hrere eval)
  libspdlog-dev libfmt-dev  # rank-tagged, levelled logging
  slurmctld slurmd slurm-client munge  # the Slurm test runs the sbatch templates (tests/slurm)
  clang-format          # the format check of changed files in .ci/run
  clang-14 libclang-rt-14-dev  # libFuzzer and the sanitizers of tools/fuzz.sh
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
