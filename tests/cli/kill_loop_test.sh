#!/usr/bin/env bash
# Kill loops (docs/RELIABILITY.md, Kill loops): SIGKILL at a random moment of `prepare` over
# an existing output folder (whose leftover temporaries the next prepare must remove), of
# `train` while it writes checkpoints and of `pretrain` while it writes its checkpoints and
# export, ITERATIONS times each. The runs are long enough (epochs
# grow with ITERATIONS) that most kills land mid-way, after the start-up of about 0.5 s. After every kill the previous
# outputs still load (`inspect` on the stores; the next `--resume` loads the newest
# checkpoint, or the command fails on its own and the test with it), and at the end each run
# finishes from where the kills left it.
# Usage: kill_loop_test.sh HRERE_BINARY [ITERATIONS] [SEED]  (run from the repository root)
set -u
hrere=$1 iterations=${2:-5}
RANDOM=${3:-7}  # the kill moments, reproducible
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  cat "$work/last.log" >&2
  exit 1
}

# run_then_kill MIN_MS MAX_MS COMMAND...: runs COMMAND and SIGKILLs it after MIN_MS..MAX_MS
# ms. Fails if COMMAND ended on its own with an error before the kill.
killed=0
run_then_kill() {
  local min_ms=$1 max_ms=$2
  shift 2
  "$@" >"$work/last.log" 2>&1 &
  local pid=$! delay=$((min_ms + RANDOM % (max_ms - min_ms)))
  sleep "$(awk -v ms="$delay" 'BEGIN { print ms / 1000 }')"
  if kill -KILL "$pid" 2>/dev/null; then
    killed=$((killed + 1))
    wait "$pid" 2>/dev/null
  else
    wait "$pid" || fail "$* failed before it was killed (after ${delay} ms)"
  fi
}

"$hrere" synth --out "$work/world" >/dev/null || fail "synth"
prepare=(prepare --config configs/synth.yaml --set "data.train=$work/world/train.txt"
         --set "data.test=$work/world/test.txt" --set "data.relations=$work/world/relation2id.txt"
         --set "data.kb_train=$work/world/kb/train.txt" --set "data.kb_valid=$work/world/kb/valid.txt"
         --set "data.kb_test=$work/world/kb/test.txt" --out "$work/data")
"$hrere" "${prepare[@]}" >"$work/last.log" 2>&1 || fail "first prepare"
left=0  # temporaries found after a kill, summed over the kills
for i in $(seq "$iterations"); do
  run_then_kill 100 1300 "$hrere" "${prepare[@]}"  # a whole prepare takes about 1.2 s
  left=$((left + $(ls "$work/data" | grep -c '\.tmp\.')))
  for store in bags.h5 kb.h5; do
    "$hrere" inspect "$work/data/$store" >"$work/last.log" 2>&1 ||
      fail "prepare killed (iteration $i): $store no longer loads"
  done
  [ -f "$work/data/prepare.json" ] && [ -f "$work/data/config.yaml" ] ||
    fail "prepare killed (iteration $i): prepare.json or config.yaml is gone"
done
# What the killed runs left under temporary names, the next prepare removes.
"$hrere" "${prepare[@]}" >"$work/last.log" 2>&1 || fail "prepare after the kills"
ls "$work/data" | grep -q '\.tmp\.' &&
  fail "temporary files of killed prepares are still in the output folder: $(ls "$work/data")"
echo "prepare: $iterations runs over an existing folder, killed or finished; stores load;" \
  "$left temporary file(s) seen after the kills, none after the next prepare"

kbe=(--config configs/synth.yaml --set "data.prepared=$work/data" --set kbe.dim=8
     --set kbe.epochs=$((2 * iterations)) --set kbe.threads=1 --set kbe.checkpoint_every_steps=2
     --out "$work/kbe")
run_then_kill 300 3000 "$hrere" pretrain "${kbe[@]}"
for i in $(seq 2 "$iterations"); do
  run_then_kill 300 3000 "$hrere" pretrain "${kbe[@]}" --resume
done
"$hrere" pretrain "${kbe[@]}" --resume >"$work/last.log" 2>&1 ||
  fail "pretrain did not finish after the kills"
[ -f "$work/kbe/embeddings.h5" ] || fail "pretrain finished without embeddings.h5"
echo "pretrain: $iterations runs killed or finished, then resumed to the end"

train=(--config configs/synth.yaml --set "data.prepared=$work/data" --set train.variant=base
       --set train.epochs=$((2 * iterations)) --set train.batch_size=32 --set train.threads=1
       --set model.word_dim=8 --set model.position_dim=2 --set model.lstm_hidden=8
       --set model.classifier_hidden=8 --set train.checkpoint_every=2
       --set train.keep_checkpoints=2 --no-eval --out "$work/run")
# Whether a train checkpoint was committed (a kill may leave only a staging step-N.tmp).
committed_checkpoint() { ls -d "$work/run/checkpoints/step-"* 2>/dev/null | grep -qv '\.tmp$'; }
for i in $(seq "$iterations"); do
  resume=()
  committed_checkpoint && resume=(--resume)
  run_then_kill 300 2500 "$hrere" train "${train[@]}" "${resume[@]}"
done
resume=()
committed_checkpoint && resume=(--resume)
"$hrere" train "${train[@]}" "${resume[@]}" >"$work/last.log" 2>&1 ||
  fail "train did not finish after the kills"
[ -f "$work/run/model/state.pt" ] || fail "train finished without model/"
echo "train: $iterations runs killed or finished, then resumed to the end"
echo "kill loop: $killed of $((3 * iterations)) runs were killed mid-way; nothing lost"
