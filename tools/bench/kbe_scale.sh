#!/usr/bin/env bash
# The Freebase-scale pretraining pipeline end to end, for the figures in docs/SCALING.md:
#   synth PRESET -> prepare -> pretrain (negative sampling, dim 200, lazy Adam, --max-steps)
#   on 1 and 2 ranks -> pretrain --resume for RESUME_STEPS more steps -> eval-kbe (sampled
#   candidates on a seeded subset), and the per-rank export measured alone (kbe_bench --export).
# Prints peak resident memory per process (GNU time), triples/s and the time of each phase.
#
#   tools/bench/kbe_scale.sh [PRESET=kb-3m] [MAX_STEPS=200]
#   WORK=runs/scale RANKS="1 2" DIM=32 VALIDATE=1 tools/bench/kbe_scale.sh kb-30m 50
# DIM (default 200) is the embedding size; VALIDATE=1 makes pretrain validate every epoch
# (2,000 sampled valid triples), so its peak includes the filter it builds at start-up.
# REUSE_DATA=1 keeps an earlier prepared store; RESUME_STEPS (default 10; 0 skips) is the
# length of the resumed call, which reads the checkpoint and writes a new one and the export.
set -euo pipefail
cd "$(dirname "$0")/../.."
hrere=${HRERE:-build/hrere}
bench=${KBE_BENCH:-build/tools/bench/kbe_bench}
preset=${1:-kb-3m}
steps=${2:-200}
work=${WORK:-runs/scale-$preset}
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
peak() { /usr/bin/time -f "$1: %e s wall, peak resident %M KiB" "${@:2}"; }

mkdir -p "$work"
[ -f "$work/world/kb/train.txt" ] || "$hrere" synth --preset "$preset" --out "$work/world"
world=$work/world
data=(--config configs/synth.yaml --set "data.train=$world/train.txt" --set "data.test=$world/test.txt"
      --set "data.relations=$world/relation2id.txt" --set "data.kb_train=$world/kb/train.txt"
      --set "data.kb_valid=$world/kb/valid.txt" --set "data.kb_test=$world/kb/test.txt")
if [ -n "${REUSE_DATA:-}" ] && [ -f "$work/data/prepare.json" ]; then
  echo "prepare: reusing $work/data (REUSE_DATA)"
else
  rm -rf "$work/data"
  peak "prepare" "$hrere" prepare "${data[@]}" --out "$work/data" | tail -1
fi

entities=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['entities'])" "$work/data/prepare.json")
dim=${DIM:-200}
resume_steps=${RESUME_STEPS:-10}
kbe=("${data[@]}" --set "data.prepared=$work/data" --set kbe.loss=negative --set kbe.negatives=10
     --set kbe.dim="$dim" --set kbe.optimizer=adam --set kbe.lr=0.001 --set kbe.batch_size=1000
     --set kbe.eval_every="${VALIDATE:-0}" --set kbe.threads=1 --set kbe.log_every=50
     --set kbe.eval_candidates=1000 --set kbe.eval_max_triples=2000)
for ranks in ${RANKS:-1 2}; do
  run=$work/pretrain-$ranks
  rm -rf "$run"
  echo "== $ranks rank(s): pretrain --max-steps $steps"
  peak "pretrain rank" "${mpi[@]}" -np "$ranks" /usr/bin/time -f "  a rank of $ranks: peak resident %M KiB" \
    "$hrere" pretrain "${kbe[@]}" --out "$run" --max-steps "$steps" 2>&1 | grep -v "^\[" | tail -4
  python3 - "$run/metrics.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
last = lines[-3:]  # steady state: the last reports
rate = sum(l["triples_per_second"] for l in last) / len(last)
print(f"  triples/s (mean of the last {len(last)} reports): {rate:.0f}; "
      f"comm share {lines[-1]['comm_seconds'] / lines[-1]['seconds']:.2f} of {lines[-1]['seconds']:.0f} s")
PY
  if [ "$resume_steps" -gt 0 ]; then
    echo "== $ranks rank(s): pretrain --resume --max-steps $resume_steps"
    peak "resumed pretrain rank" "${mpi[@]}" -np "$ranks" /usr/bin/time -f "  a rank of $ranks: peak resident %M KiB" \
      "$hrere" pretrain --out "$run" --resume --max-steps "$resume_steps" 2>&1 | grep -v "^\[" | tail -3
  fi
  peak "eval-kbe (1000 sampled candidates, 2000 test triples)" "${mpi[@]}" -np "$ranks" \
    "$hrere" eval-kbe --run "$run" --split test | tail -1
  echo "== $ranks rank(s): the export alone"
  rm -rf "$work/export-$ranks"
  mkdir -p "$work/export-$ranks"
  "${mpi[@]}" -np "$ranks" "$bench" --mode sharded --entities "$entities" --dim "$dim" --batch 1000 \
    --steps 2 --threads 1 --export "$work/export-$ranks" | grep "^export"
done
