#!/usr/bin/env bash
# `hrere train` under mpirun: 2 ranks train and evaluate (as does `hrere eval`, equal to one
# process); an interrupted 2-rank run resumes
# exactly; a rank that hangs (SIGSTOP) or dies (SIGKILL) stops the job within 60 s with a
# message naming it (also in `hrere pretrain`); the last checkpoint then resumes on the same
# or another number of ranks.
# Usage: distributed_test.sh HRERE_BINARY  (run from the repository root)
set -u
hrere=$1
source "$(dirname "$0")/expect.sh"
mpi=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)

"$hrere" synth --out "$work/world" >/dev/null
world=(--set "data.train=$work/world/train.txt" --set "data.test=$work/world/test.txt"
       --set "data.relations=$work/world/relation2id.txt"
       --set "data.kb_train=$work/world/kb/train.txt" --set "data.kb_valid=$work/world/kb/valid.txt"
       --set "data.kb_test=$work/world/kb/test.txt")
"$hrere" prepare --config configs/synth.yaml "${world[@]}" --out "$work/data" >/dev/null
"$hrere" pretrain --config configs/synth.yaml --set "data.prepared=$work/data" --set kbe.dim=8 \
  --set kbe.epochs=1 --set kbe.threads=1 --set kbe.entity_tanh=true --out "$work/kbe" >/dev/null 2>&1
tiny=(--config configs/synth.yaml --set "data.prepared=$work/data" --set train.variant=full
      --set "train.kbe_embeddings=$work/kbe/embeddings.h5" --set train.epochs=2
      --set train.batch_size=32 --set train.threads=1 --set model.word_dim=8
      --set model.position_dim=2 --set model.lstm_hidden=8 --set model.classifier_hidden=8
      --set dist.heartbeat_s=0.5 --set dist.lost_after_s=5 --set dist.checksum_every=5)

expect train-2-ranks 0 "data parallel: 2 ranks .*global batch 32 = 2 x 16" -- \
  "${mpi[@]}" -np 2 "$hrere" train "${tiny[@]}" --out "$work/straight"
expect train-2-ranks-logs 0 '"global_batch":32.*"rank_batch":16.*"ranks":2' -- \
  cat "$work/straight/metrics.jsonl"
expect train-2-ranks-report 0 "summary.json" -- ls "$work/straight/eval"
expect train-uneven-batch 2 "train.batch_size 32 .* does not split evenly over 3 ranks" -- \
  "${mpi[@]}" -np 3 "$hrere" train "${tiny[@]}" --out "$work/uneven"

# Stopped after 7 steps and resumed on 2 ranks: the same losses and scores as straight through.
expect train-2-ranks-stop 0 "stopped after 7 steps" -- \
  "${mpi[@]}" -np 2 "$hrere" train "${tiny[@]}" --max-steps 7 --out "$work/resumed"
expect train-2-ranks-resume 0 "trained [0-9]+ steps" -- \
  "${mpi[@]}" -np 2 "$hrere" train --resume --out "$work/resumed"
same_run() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
def losses(run):
    lines = [json.loads(l) for l in open(run + "/metrics.jsonl")]
    for line in lines:
        for timing in ("seconds", "bags_per_second", "step_seconds"):
            line.pop(timing, None)
    return lines
def scores(run):
    s = json.load(open(run + "/eval/summary.json"))["sentence"]
    return s["average_precision"], s["p_at_percent"]
a, b = sys.argv[1:]
assert losses(a) == losses(b), "metrics.jsonl differs"
assert scores(a) == scores(b), "held-out scores differ"
print("identical")
PY
}
expect train-2-ranks-resume-exact 0 "identical" -- same_run "$work/straight" "$work/resumed"

# Evaluation on 2 ranks (each encodes half of the test sentences) == on one process.
"$hrere" eval --run "$work/straight" >/dev/null 2>&1 && cp "$work/straight/eval/summary.json" "$work/eval-1.json"
expect eval-2-ranks 0 "pair protocol" -- "${mpi[@]}" -np 2 "$hrere" eval --run "$work/straight"
same_scores() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for protocol, key in (("sentence", "average_precision"), ("sentence", "auc"), ("pair", "auc")):
    assert abs(a[protocol][key] - b[protocol][key]) < 1e-6, (protocol, key, a[protocol][key], b[protocol][key])
assert a["sentence"]["p_at_percent"] == b["sentence"]["p_at_percent"]
print("same scores")
PY
}
expect eval-2-ranks-equals-1 0 "same scores" -- same_scores "$work/eval-1.json" "$work/straight/eval/summary.json"

# interrupt RUN SIGNAL READY COMMAND...: runs COMMAND (its output in RUN.log), sends SIGNAL
# to rank 1 once the file READY exists, and prints how the job ended and how many seconds
# that took; fails unless it ended non-zero within 60 s.
interrupt() {
  local run=$1 signal=$2 ready=$3
  shift 3
  "$@" >"$run.log" 2>&1 &
  local job=$!
  for _ in $(seq 600); do [ -e "$ready" ] && [ -e "$run/.ranks/rank-1" ] && break; sleep 0.1; done
  local pid
  pid=$(cut -d' ' -f2 "$run/.ranks/rank-1")
  local start=$SECONDS
  kill "-$signal" "$pid"
  wait "$job"
  local rc=$?
  echo "exit $rc after $((SECONDS - start)) s"
  cat "$run.log"
  [ "$rc" -ne 0 ] && [ $((SECONDS - start)) -lt 60 ]
}
# interrupt_training NAME SIGNAL: 2-rank training, interrupted after its step-40 checkpoint.
interrupt_training() {
  interrupt "$work/$1" "$2" "$work/$1/checkpoints/step-0000000040" \
    "${mpi[@]}" -np 2 "$hrere" train "${tiny[@]}" --set train.epochs=200 \
    --set train.checkpoint_every=20 --no-eval --out "$work/$1"
}
expect rank-hangs 0 "\[error\] rank 1 of 2 \(pid [0-9]+ on host .*\) has sent no heartbeat" -- \
  interrupt_training hung STOP
# Open MPI 4 prints "process rank 1 ... exited on signal 9"; Open MPI 5 breaks the line
# before "signal 9".
expect rank-dies 0 "process rank 1 .*exited on( signal 9|$)" -- interrupt_training killed KILL
expect pretrain-rank-hangs 0 "\[error\] rank 1 of 2 .* has sent no heartbeat" -- \
  interrupt "$work/kbe-hung" STOP "$work/kbe-hung/metrics.jsonl" \
  "${mpi[@]}" -np 2 "$hrere" pretrain --config configs/synth.yaml --set "data.prepared=$work/data" \
  --set kbe.dim=8 --set kbe.epochs=500 --set kbe.threads=1 --set kbe.log_every=1 \
  --set dist.heartbeat_s=0.5 --set dist.lost_after_s=5 --out "$work/kbe-hung"
cp -r "$work/hung" "$work/hung-on-1"
expect resume-on-2-ranks 0 "resuming .*step-[0-9]+" -- \
  "${mpi[@]}" -np 2 "$hrere" train --resume --set train.epochs=3 --out "$work/hung"
expect resume-on-1-rank 0 "trained [0-9]+ steps" -- \
  "$hrere" train --resume --set train.epochs=3 --out "$work/hung-on-1"
expect resume-after-kill 0 "trained [0-9]+ steps" -- \
  "${mpi[@]}" -np 2 "$hrere" train --resume --set train.epochs=3 --out "$work/killed"

finish
