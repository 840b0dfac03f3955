#!/usr/bin/env bash
# The whole CTest suite under AddressSanitizer and UndefinedBehaviorSanitizer
# (docs/RELIABILITY.md, Sanitizers): builds every target, tests included, with clang 14 into
# build-fuzz/ (tools/sanitized_build.sh, shared with tools/fuzz.sh) and runs CTest there.
#
#   tools/sanitize.sh [CTEST ARGS...]      e.g. tools/sanitize.sh -R core_tests
#
# Every report aborts its process (-fno-sanitize-recover, halt_on_error), so a finding fails the
# test that met it; the multi-rank tests run their ranks instrumented under mpirun too.
# Environment: HRERE_FUZZ_BUILD (build folder), HRERE_BUILD_JOBS (parallel compiles, default:
# all cores), HRERE_TEST_JOBS (parallel tests, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/sanitized_build.sh
cmake --build "$build" -j "${HRERE_BUILD_JOBS:-$(nproc)}"
# LeakSanitizer is off here: Open MPI allocates at MPI_Init, in components it loads and
# unloads, and never frees, and the frames of unloaded components cannot be named for a
# suppression. Leaks in the parsers and stores are checked by the fuzz build (tools/fuzz.sh).
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Instrumented code runs a few times slower: the per-test limit grows with it.
ctest --test-dir "$build" --output-on-failure -j "${HRERE_TEST_JOBS:-2}" --timeout 1800 "$@"
