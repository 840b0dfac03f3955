#!/usr/bin/env bash
# Configures and builds hrere (Release) into ./build. Extra arguments go to the build tool,
# e.g. `tools/build.sh --target hrere`.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${HRERE_BUILD_JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs" "$@"
