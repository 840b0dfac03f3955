#!/usr/bin/env bash
# The README's test command: installs what is missing, builds everything, runs every test
# (unit tests, multi-rank tests under mpirun, CLI and store-layout checks) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh
ctest --test-dir build --output-on-failure -j "${HRERE_TEST_JOBS:-2}"
