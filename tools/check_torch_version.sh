#!/usr/bin/env bash
# Builds hrere against another torch release and runs the whole test suite with it, in an
# environment and build folder of its own (.venv-torch-VERSION, build-torch-VERSION), so the
# project's .venv and build/ stay as they are. Use it before moving the pin in
# tools/python-requirements.txt, and to check the GPU machine's version from here.
#
#   tools/check_torch_version.sh VERSION [ctest arguments...]   # e.g. 2.15.0 -E '^slurm'
#
# The wheel must be a CUDA 13 build (the toolkit's major version, /usr/local/cuda): PyPI's
# default torch wheels are from 2.11 on (2.10's is CUDA 12.8). Heavy (a cold build and the
# whole suite), not part of CI; docs/DISTRIBUTED.md, Other torch versions, has the results.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: tools/check_torch_version.sh VERSION [ctest arguments...]}
shift
venv=.venv-torch-$version
build=build-torch-$version

if ! "$venv/bin/python" -c "import torch, sys; sys.exit(not torch.__version__.startswith('$version'))" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$version"
fi
"$venv/bin/python" -c 'import torch; print("check_torch_version: torch", torch.__version__, "CUDA", torch.version.cuda)'

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DHRERE_TORCH_PYTHON="$PWD/$venv/bin/python" >/dev/null
cmake --build "$build" -j "${HRERE_BUILD_JOBS:-$(nproc)}"
ctest --test-dir "$build" --output-on-failure -j "${HRERE_TEST_JOBS:-2}" "$@"
