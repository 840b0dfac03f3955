#!/usr/bin/env bash
# The long kill loop (docs/RELIABILITY.md, Kill loops): tests/cli/kill_loop_test.sh with
# ITERATIONS kills of each of prepare, pretrain and train (default 50), on build/hrere.
#   tools/kill_loop.sh [ITERATIONS] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash tests/cli/kill_loop_test.sh "${HRERE_BIN:-build/hrere}" "${1:-50}" "${2:-7}"
