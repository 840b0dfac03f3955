#!/usr/bin/env bash
# The same benchmarks against two builds of hrere (two LibTorch builds, say), run back to
# back in one call so their ratios are comparable on a shared machine. Each benchmark runs
# against build A, then build B, before the next starts.
#
#   tools/bench/torch_builds.sh BUILD_A BUILD_B PREPARED_NYT10 PREPARED_KB15K [OUT]
#
# PREPARED_NYT10: a store from `hrere prepare --config configs/nyt10.yaml`; PREPARED_KB15K:
# one from `hrere prepare --config configs/kbe-fb15k237.yaml` (pretraining reads it through
# data.prepared). Writes OUT/{A,B}-<benchmark>.log (default OUT: runs/torch-builds) and
# prints each log's key lines. Sizes: HRERE_BENCH_LM_STEPS (5), HRERE_BENCH_KBE_STEPS (20),
# HRERE_BENCH_1VSALL_STEPS (100).
set -euo pipefail
cd "$(dirname "$0")/../.."
a=${1:?usage: torch_builds.sh BUILD_A BUILD_B PREPARED_NYT10 PREPARED_KB15K [OUT]}
b=${2:?}
nyt=${3:?}
kb=${4:?}
out=${5:-runs/torch-builds}
rm -rf "$out/pretrain"   # pretrain resumes from a run folder it finds: start afresh
mkdir -p "$out"
lm_steps=${HRERE_BENCH_LM_STEPS:-5}
kbe_steps=${HRERE_BENCH_KBE_STEPS:-20}
onevsall_steps=${HRERE_BENCH_1VSALL_STEPS:-100}

# run NAME CMD...: CMD once with build A's programs, once with B's (@B@ stands for the build).
run() {
  local name=$1 build tag=A
  shift
  for build in "$a" "$b"; do
    local log=$out/$tag-$name.log
    tag=B
    "${@//@B@/$build}" >"$log" 2>&1 || { echo "torch_builds: $name failed with $build (see $log)" >&2; exit 1; }
    echo "== $name, $build"
    grep -E 'GEMM peak|^(ours|straightforward|bilstm|cnn|pcnn) |triples/s|steps in|wall' "$log" || tail -3 "$log"
  done
}

# The three encoders, training and evaluation, at 1 and 2 threads; then the Table 1 BiLSTM
# step against the straightforward computation, with its share of the GEMM peak (MFU).
for threads in 1 2; do
  run "lm-encoders-t$threads" @B@/tools/bench/lm_bench "$nyt" --steps "$lm_steps" \
    --eval-sentences 512 --threads "$threads" --encoders
done
run lm-mfu-t2 @B@/tools/bench/lm_bench "$nyt" --steps 3 --eval-sentences 512 --threads 2
run kbe-negative @B@/tools/bench/kbe_bench --mode sharded --entities 3000000 --dim 200 \
  --batch 1000 --negatives 10 --steps "$kbe_steps" --threads 2
# 1-vs-all: hrere pretrain itself (reciprocal relations, N3, Adagrad) on FB15k-237, timed.
run kbe-1vsall /usr/bin/time -f 'wall %e s, peak %M KiB' @B@/hrere pretrain \
  --config configs/kbe-fb15k237.yaml --set "data.prepared=$kb" --set kbe.threads=2 \
  --set kbe.eval_every=0 --max-steps "$onevsall_steps" --out "$out/pretrain/@B@"
