#!/usr/bin/env bash
# Runs every libFuzzer harness of fuzz/ for SECONDS each (docs/RELIABILITY.md, Fuzzing).
#
#   tools/fuzz.sh SECONDS [HARNESS...]
#
# Builds the harnesses with clang 14 (-fsanitize=fuzzer,address,undefined over the whole
# project) into build-fuzz/ (tools/sanitized_build.sh), then fuzzes each one in turn, one process at a time, starting
# from the committed seeds fuzz/corpus/<harness>/. New corpus entries and crash inputs go to
# build-fuzz/fuzz-out/<harness>/ (the committed corpus is never written). A harness keeps
# fuzzing after a crash (libFuzzer's fork mode), so one known fault does not hide others.
# Every crash input is replayed once and matched against fuzz/known_crashes.txt.
# Prints, per harness, the executions, CPU seconds, crash inputs, those that are known
# findings and those that do not fail again when replayed alone; exits 1 on any crash input
# that fails again and is not a known finding.
#
# Environment: HRERE_FUZZ_BUILD (build folder, default build-fuzz), HRERE_BUILD_JOBS
# (parallel compiles, default: all cores), HRERE_FUZZ_RSS_MB (memory limit per input
# process, default 2560), HRERE_FUZZ_SCRATCH (where inputs and fork-mode jobs are written,
# default /dev/shm).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: tools/fuzz.sh SECONDS [HARNESS...]}
shift
all=(nyt10 jsonl kb_triples word_vectors relation2id predict config bag_store kb_store embeddings
     checkpoint_shard)
harnesses=("$@")
[ $# -gt 0 ] || harnesses=("${all[@]}")
root=$(pwd)
jobs=${HRERE_BUILD_JOBS:-$(nproc)}
rss_mb=${HRERE_FUZZ_RSS_MB:-2560}
source tools/sanitized_build.sh
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

dict_of() {
  case $1 in
    nyt10) echo fuzz/dict/nyt10.dict ;;
    jsonl | predict) echo fuzz/dict/json.dict ;;
    config) echo fuzz/dict/config.dict ;;
  esac
}

out=$build/fuzz-out
# Every execution writes its input to a temporary file and fork mode keeps its job folders
# in the working directory: both go to memory (HRERE_FUZZ_SCRATCH, default /dev/shm) where
# it is writable, else a disk-bound fuzzer spends much of its time waiting (docs/RELIABILITY.md).
scratch=${HRERE_FUZZ_SCRATCH:-/dev/shm}
[ -d "$scratch" ] && [ -w "$scratch" ] || scratch=$out
scratch=$(mktemp -d "$scratch/hrere-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch
summary=()
failed=0
for h in "${harnesses[@]}"; do
  dir=$out/$h
  work=$scratch/$h
  rm -rf "$dir/artifacts"
  mkdir -p "$dir/corpus" "$dir/artifacts" "$work"
  bin=$build/fuzz/fuzz_$h
  flags=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -timeout=5 -fork=1
         -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -print_final_stats=1
         -artifact_prefix="$dir/artifacts/")
  dict=$(dict_of "$h")
  [ -z "$dict" ] || flags+=(-dict="$root/$dict")
  echo "fuzz: $h for ${seconds}s"
  # Fork mode writes its temporary folders into the working directory.
  TIMEFORMAT='%U %S'
  { time (cd "$work" && "$bin" "${flags[@]}" "$dir/corpus" \
      "$root/fuzz/corpus/$h" >"$dir/fuzz.log" 2>&1) || true; } 2>"$dir/cpu"
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$dir/cpu")
  execs=$(grep -oE '^#[0-9]+' "$dir/fuzz.log" | tail -n 1 | tr -d '#')
  crashes=0 known=0 unrepro=0
  for artifact in "$dir"/artifacts/*; do
    [ -f "$artifact" ] && [ "${artifact%.log}" = "$artifact" ] || continue
    crashes=$((crashes + 1))
    # Fork mode may save an input that does not fail again alone (e.g. an empty one after a
    # fault outside any input): counted, listed, not a failure.
    if "$bin" -timeout=5 "$artifact" >"$artifact.log" 2>&1; then
      unrepro=$((unrepro + 1))
      echo "fuzz: $h: $artifact does not fail when replayed alone"
      continue
    fi
    is_known=0
    while read -r harness pattern; do
      [ "$harness" = "$h" ] && grep -qF -- "$pattern" "$artifact.log" && is_known=1
    done < <(grep -v '^#' fuzz/known_crashes.txt | grep -v '^[[:space:]]*$')
    if [ $is_known -eq 1 ]; then
      known=$((known + 1))
    else
      echo "fuzz: $h: NEW CRASH $artifact (replay log $artifact.log)"
      failed=1
    fi
  done
  summary+=("$(printf '%-17s %11s %6s %8s %6s %8s' "$h" "${execs:-?}" "$cpu" "$crashes" "$known" \
    "$unrepro")")
done

printf '\nfuzz: %ss per harness; outputs in %s\n' "$seconds" "$out"
printf '%-17s %11s %6s %8s %6s %8s\n' harness executions cpu_s crashes known unrepro
printf '%s\n' "${summary[@]}"
exit $failed
