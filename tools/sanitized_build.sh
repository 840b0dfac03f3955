# Sourced by tools/fuzz.sh and tools/sanitize.sh (docs/RELIABILITY.md): configures the one
# clang build they share, build-fuzz/ (HRERE_FUZZ_BUILD overrides it): clang 14, every target
# checked by ASan and UBSan and instrumented for libFuzzer, the tests included. Sets $build
# and the sanitizers' options. Run from the repository root.
for tool in clang-14 clang++-14; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found (run tools/setup.sh)" >&2; exit 1; }
done
build=$(realpath -m "${HRERE_FUZZ_BUILD:-build-fuzz}")
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DHRERE_FUZZ=ON -DHRERE_BUILD_BENCHMARKS=OFF >/dev/null
# Leaks inside libhdf5 that no caller can free (fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$(pwd)/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
