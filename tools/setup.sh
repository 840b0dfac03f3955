#!/usr/bin/env bash
# Installs what hrere's build, tests and benchmarks need: Debian 12 packages (run as root:
# it calls apt-get; as another user it lists what is missing and how to install it), and the
# project's Python environment .venv with the pinned torch of tools/python-requirements.txt,
# whose LibTorch, CUDA libraries and NCCL the build uses (about 2.6 GB downloaded, 4.8 GB
# unpacked; reused while the requirements file is unchanged). The CUDA toolkit 13 LibTorch's
# CMake package asks for is expected in /usr/local/cuda (or CUDAToolkit_ROOT).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ccache pkg-config
  python3 python3-venv  # the .venv that holds PyTorch's wheel (LibTorch, CUDA libraries, NCCL)
  libopenmpi-dev openmpi-bin
  libhdf5-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  python3-h5py          # the store layout test reads bags.h5 the way Python users will
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
elif [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

# The Python environment: made afresh when the requirements changed (a stamp inside it
# records the requirements it was made from), so a half-made one is never reused.
venv=.venv
requirements=tools/python-requirements.txt
stamp=$venv/hrere-requirements.txt
if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp"; then
  echo "setup: $venv up to date ($(grep -E '^torch' "$requirements"))"
  exit 0
fi
echo "setup: making $venv with $(grep -E '^torch' "$requirements") (about 2.6 GB from PyPI)"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
"$venv/bin/python" -c 'import torch; print("setup: torch", torch.__version__, "CUDA", torch.version.cuda)'
