#!/usr/bin/env bash
# The Slurm templates under a real single-node Slurm (Debian's slurm-wlm and munge): starts
# munged, slurmctld and slurmd on this machine with all state in a scratch folder, then runs
# launch/pretrain.sbatch and launch/train.sbatch through `sbatch --wait` as 2 MPI tasks on a
# tiny synthetic world:
#   - pretrain stopped by --max-steps, resubmitted: resumes and finishes, with the same
#     epoch losses as an uninterrupted 2-task run;
#   - train stopped by --max-steps, resubmitted: resumes at that step and finishes;
#   - pretrain cancelled with scancel after a mid-epoch checkpoint, resubmitted: resumes
#     from the checkpoint and finishes.
# Every daemon it started is stopped on exit, pass or fail.
# Usage: slurm_test.sh BUILD_DIR_OR_HRERE_BINARY  (exit 77: cannot run here, see stderr)
set -u
arg=${1:?usage: slurm_test.sh BUILD_DIR_OR_HRERE_BINARY}
hrere=$arg
[ -d "$arg" ] && hrere=$arg/hrere
hrere=$(realpath -m "$hrere")
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1

skip() { echo "slurm_test: SKIP: $*" >&2; exit 77; }
source tests/slurm/cluster.sh
cluster_can_run || skip "$cluster_why"
[ -x "$hrere" ] || { echo "slurm_test: FAIL: $hrere is not an executable" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hrere-slurm.XXXXXX)
chmod 755 "$tmp"
cleanup() {
  stop_cluster
  [ -n "${keep:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failed=0
fail() {
  failed=$((failed + 1))
  echo "FAIL: $*"
}
show() { echo "--- $1"; tail -n "${2:-30}" "$1" 2>/dev/null | sed 's/^/    /'; }

host=$(hostname -s)
start_cluster "$tmp/cluster" 127.0.0.1 "$host:127.0.0.1" || exit 1

# The tiny synthetic world (seconds per run).
w=$tmp/world
if ! "$hrere" synth --out "$w" --seed 3 >"$tmp/synth.log" 2>&1 ||
   ! "$hrere" prepare --config configs/synth.yaml --set "data.train=$w/train.txt" \
       --set "data.test=$w/test.txt" --set "data.relations=$w/relation2id.txt" \
       --set "data.kb_train=$w/kb/train.txt" --set "data.kb_valid=$w/kb/valid.txt" \
       --set "data.kb_test=$w/kb/test.txt" --out "$tmp/data" >"$tmp/prepare.log" 2>&1; then
  show "$tmp/synth.log"; show "$tmp/prepare.log"
  echo "FAIL: synth/prepare"
  exit 1
fi

export HRERE_BIN=$hrere
# The templates' per-node and time directives are for a cluster; 2 tasks of 1 CPU here.
sb=(--wait --parsable --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --time=10
    --output="$tmp/%x-%j.out")

# submit NAME TEMPLATE ARGS...: runs the template as job NAME; sets $rc, $job and $out.
submit() {
  local name=$1 template=$2
  shift 2
  local t0=$SECONDS
  sbatch "${sb[@]}" --job-name="$name" "$template" "$@" >"$tmp/$name.id" 2>"$tmp/$name.err"
  rc=$?
  job=$(head -1 "$tmp/$name.id")
  out=$tmp/$name-$job.out
  echo "job $job $name: exit $rc in $((SECONDS - t0)) s"
}
# expect_out PATTERN WHAT: the last job's output matches the extended regex PATTERN.
expect_out() {
  grep -Eq -- "$1" "$out" || { fail "$2 (no '$1' in the job output)"; show "$out"; }
}
expect_ok() {
  [ "$rc" -eq 0 ] || { fail "$1: sbatch --wait exited $rc"; show "$tmp/$2.err" 5; show "$out"; }
}
# epoch_losses RUN: "epoch loss" per epoch_end line of RUN/metrics.jsonl.
epoch_losses() {
  python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("event") == "epoch_end":
        print(m["epoch"], "%.6g" % m["loss"])' "$1/metrics.jsonl"
}

kbe=(--set "data.prepared=$tmp/data" --set kbe.dim=8 --set kbe.epochs=2
     --set kbe.batch_size=500 --set kbe.eval_candidates=50 --set kbe.eval_max_triples=40)

# (a) pretrain: stopped by --max-steps, resubmitted, finishes as an uninterrupted run does.
submit pretrain-straight launch/pretrain.sbatch configs/synth.yaml "$tmp/kbe-straight" "${kbe[@]}"
expect_ok "uninterrupted pretrain" pretrain-straight
expect_out "pretrained 2 epochs on 2 rank\(s\)" "uninterrupted pretrain ran as one 2-rank MPI job"

submit pretrain-stop launch/pretrain.sbatch configs/synth.yaml "$tmp/kbe" "${kbe[@]}" \
  --set kbe.checkpoint_every_steps=2 --max-steps 3
expect_ok "pretrain --max-steps" pretrain-stop
expect_out "stopped after 3 steps \(--max-steps\) at step 3" "pretrain stopped by --max-steps"
[ -f "$tmp/kbe/checkpoint/state.h5" ] || fail "pretrain --max-steps left no checkpoint/state.h5"
[ -f "$tmp/kbe/checkpoint/entities.1-of-2.h5" ] ||
  fail "pretrain --max-steps left no shard of rank 1 (checkpoint/entities.1-of-2.h5)"
submit pretrain-resume launch/pretrain.sbatch configs/synth.yaml "$tmp/kbe" "${kbe[@]}" \
  --set kbe.checkpoint_every_steps=2
expect_ok "resubmitted pretrain" pretrain-resume
expect_out "^resuming from " "resubmitted pretrain resumes"
expect_out "pretrained 2 epochs on 2 rank\(s\)" "resubmitted pretrain finishes on 2 ranks"
expect_out "test \(filtered, 50 sampled candidates per batch\): MRR" "resumed pretrain's test metrics"
[ -f "$tmp/kbe/embeddings.h5" ] || fail "resumed pretrain wrote no embeddings.h5"
if [ "$(epoch_losses "$tmp/kbe")" != "$(epoch_losses "$tmp/kbe-straight")" ] ||
   [ "$(epoch_losses "$tmp/kbe" | wc -l)" -ne 2 ]; then
  fail "stopped-and-resumed pretrain's epoch losses differ from the uninterrupted run's:"
  paste <(epoch_losses "$tmp/kbe") <(epoch_losses "$tmp/kbe-straight") | sed 's/^/    /'
fi

# (b) train: stopped by --max-steps, resubmitted, resumes at that step and finishes.
tiny=(--set "data.prepared=$tmp/data" --set train.variant=base --set train.epochs=1
      --set train.batch_size=32 --set model.word_dim=8 --set model.position_dim=2
      --set model.lstm_hidden=8 --set model.classifier_hidden=8)
submit train-stop launch/train.sbatch configs/synth.yaml "$tmp/run" "${tiny[@]}" --max-steps 5
expect_ok "train --max-steps" train-stop
expect_out "data parallel: 2 ranks" "train ran as one 2-rank MPI job"
expect_out "stopped after 5 steps \(--max-steps\)" "train stopped by --max-steps"
[ -d "$tmp"/run/checkpoints/step-0000000005 ] ||
  fail "train --max-steps left no checkpoints/step-0000000005/"
submit train-resume launch/train.sbatch configs/synth.yaml "$tmp/run"
expect_ok "resubmitted train" train-resume
expect_out "resuming .*step-0000000005 at step 5" "resubmitted train resumes at step 5"
expect_out "data parallel: 2 ranks" "resumed train runs on 2 ranks"
expect_out "trained 25 steps" "resumed train reaches the end of its epoch"
expect_out "sentence protocol .*AP [0-9.]+" "resumed train's evaluation"
[ -f "$tmp/run/model/state.pt" ] || fail "resumed train wrote no model/"
grep -q '"event":"epoch_end".*"ranks":2' "$tmp/run/metrics.jsonl" ||
  fail "train's metrics.jsonl has no epoch_end line with \"ranks\":2"

# (c) pretrain cancelled with scancel after a mid-epoch checkpoint, then resubmitted. Small
# batches and checkpoints every 20 steps make it run ~8 s, long enough to cancel mid-way.
long=(--set "data.prepared=$tmp/data" --set kbe.dim=8 --set kbe.epochs=6 --set kbe.batch_size=100
      --set kbe.eval_candidates=50 --set kbe.eval_max_triples=40 --set kbe.checkpoint_every=0
      --set kbe.checkpoint_every_steps=20)
submit_bg() { # like submit, in the background; $job is known once sbatch has printed it
  sbatch "${sb[@]}" --job-name=pretrain-cancel launch/pretrain.sbatch configs/synth.yaml \
    "$tmp/kbe-cancel" "${long[@]}" >"$tmp/pretrain-cancel.id" 2>"$tmp/pretrain-cancel.err" &
  waiter=$!
}
submit_bg
job=
for _ in $(seq 100); do
  job=$(head -1 "$tmp/pretrain-cancel.id" 2>/dev/null)
  [ -n "$job" ] && [ -f "$tmp/kbe-cancel/checkpoint/state.h5" ] && break
  sleep 0.2
done
out=$tmp/pretrain-cancel-$job.out
if [ ! -f "$tmp/kbe-cancel/checkpoint/state.h5" ]; then
  fail "pretrain wrote no checkpoint within 20 s"
  show "$out"
fi
scancel "$job"
wait "$waiter"
rc=$?
echo "job $job pretrain-cancel: cancelled, sbatch --wait exited $rc"
# Not asserted: sbatch --wait's status for a cancelled job (1 or 0: both seen here).
if grep -q "pretrained" "$out"; then
  fail "the cancelled pretrain finished before scancel; nothing was tested (make it longer)"
fi
grep -q "JOB $job ON .* CANCELLED" "$out" || { fail "job $job was not cancelled"; show "$out"; }
submit pretrain-cancel-resume launch/pretrain.sbatch configs/synth.yaml "$tmp/kbe-cancel" "${long[@]}"
expect_ok "pretrain resubmitted after scancel" pretrain-cancel-resume
expect_out "^resuming from " "pretrain resubmitted after scancel resumes from its checkpoint"
expect_out "pretrained 6 epochs on 2 rank\(s\)" "pretrain resubmitted after scancel finishes"
# Epochs that ended after the checkpoint and before scancel are logged twice.
epochs=$(epoch_losses "$tmp/kbe-cancel" | cut -d' ' -f1 | sort -un | tr '\n' ' ')
[ "$epochs" = "1 2 3 4 5 6 " ] ||
  fail "the resumed run's metrics.jsonl has epoch_end lines for epochs '$epochs', not 1 to 6"

if [ "$failed" -ne 0 ]; then
  cluster_logs
  echo "slurm_test: $failed check(s) failed"
  exit 1
fi
echo "slurm_test: all checks passed"
