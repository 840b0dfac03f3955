#!/usr/bin/env bash
# A full disk (docs/RELIABILITY.md, Full disk): `prepare` over an existing output folder,
# `pretrain --resume` and `train --resume` run with writes capped (`ulimit -f`, with SIGXFSZ
# ignored, so a write past the cap fails with an error as on a full disk). Each must stop with
# exit code 5 and a message naming the file it could not write; the outputs written before
# (stores, committed checkpoints, the export, the saved model) stay byte for byte as they were;
# and once space is back the same command runs to the end from them.
# Usage: disk_full_test.sh HRERE_BINARY  (run from the repository root)
set -u
hrere=$1
source "$(dirname "$0")/expect.sh"

# capped KIB COMMAND...: COMMAND with every file it writes capped at KIB KiB. Open MPI's
# singleton start-up keeps its key-value store in shared-memory files, which the cap would
# break before hrere writes anything: PMIx keeps it in its process instead (gds=hash).
capped() {
  local kib=$1
  shift
  (trap '' XFSZ && ulimit -f "$kib" && PMIX_MCA_gds=hash exec "$@")
}
# The checksums of every file of folder $1 whose path matches the regex $2, staging folders
# (FOLDER.tmp, which the next checkpoint's pruning removes) left out.
digest() { (cd "$1" && find . -type f | grep -E "$2" | grep -v '\.tmp/' | sort | xargs -r sha256sum); }

"$hrere" synth --out "$work/world" >/dev/null
prepare=(prepare --config configs/synth.yaml --set "data.train=$work/world/train.txt"
         --set "data.test=$work/world/test.txt" --set "data.relations=$work/world/relation2id.txt"
         --set "data.kb_train=$work/world/kb/train.txt" --set "data.kb_valid=$work/world/kb/valid.txt"
         --set "data.kb_test=$work/world/kb/test.txt" --out "$work/data")
"$hrere" "${prepare[@]}" >/dev/null 2>&1
before=$(digest "$work/data" .)
expect prepare-disk-full 5 "$work/data/(bags|kb)\.h5\.tmp\.[^ :]+\.[0-9]+: cannot (write|finish writing|create)" -- \
  capped 64 "$hrere" "${prepare[@]}"
expect prepare-disk-full-intact 0 "intact" -- \
  bash -c '[ "$1" = "$2" ] && echo intact' _ "$before" "$(digest "$work/data" .)"
expect prepare-after-disk-full 0 "test pairs" -- "$hrere" "${prepare[@]}"

# Pretraining stopped at a committed checkpoint, then resumed with no room for the next one.
kbe=(--config configs/synth.yaml --set "data.prepared=$work/data" --set kbe.dim=16
     --set kbe.epochs=3 --set kbe.threads=1 --set kbe.checkpoint_every_steps=2 --out "$work/kbe")
"$hrere" pretrain "${kbe[@]}" --max-steps 2 >/dev/null 2>&1
before=$(digest "$work/kbe" '^\./(checkpoint/|embeddings)')
expect pretrain-disk-full 5 "$work/kbe/.*: cannot (write|finish writing|create)" -- \
  capped 8 "$hrere" pretrain "${kbe[@]}" --resume
expect pretrain-disk-full-intact 0 "intact" -- bash -c '[ "$1" = "$2" ] && echo intact' _ \
  "$before" "$(digest "$work/kbe" '^\./(checkpoint/|embeddings)')"
expect pretrain-after-disk-full 0 "resuming .*step 2.*|test \(filtered" -- \
  "$hrere" pretrain "${kbe[@]}" --resume

# Training stopped after its first checkpoint, then resumed with no room for the next one.
train=(--config configs/synth.yaml --set "data.prepared=$work/data" --set train.variant=base
       --set train.epochs=2 --set train.batch_size=32 --set train.threads=1
       --set model.word_dim=8 --set model.position_dim=2 --set model.lstm_hidden=8
       --set model.classifier_hidden=8 --set train.checkpoint_every=2 --no-eval --out "$work/run")
"$hrere" train "${train[@]}" --max-steps 2 >/dev/null 2>&1
before=$(digest "$work/run" '^\./(checkpoints|model)/')
expect train-disk-full 5 "$work/run/.*: cannot (write|finish writing|create)" -- \
  capped 4 "$hrere" train "${train[@]}" --resume
expect train-disk-full-intact 0 "intact" -- bash -c '[ "$1" = "$2" ] && echo intact' _ \
  "$before" "$(digest "$work/run" '^\./(checkpoints|model)/')"
expect train-after-disk-full 0 "trained [0-9]+ steps" -- "$hrere" train "${train[@]}" --resume

finish
