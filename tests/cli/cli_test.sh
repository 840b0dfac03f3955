#!/usr/bin/env bash
# End-to-end checks of the hrere command line: exit codes (0 ok, 2 bad input), error
# messages that name file, line and key, and outputs of prepare/inspect/config.
# Usage: cli_test.sh HRERE_BINARY  (run from the repository root)
set -u
hrere=$1
source "$(dirname "$0")/expect.sh"

expect help 0 "prepare" -- "$hrere" --help
expect prepare-help 0 "--skip-bad-lines" -- "$hrere" prepare --help
expect no-subcommand 2 "subcommand" -- "$hrere"
expect config-override 0 "epochs: 3" -- \
  "$hrere" config --config configs/nyt10-paper.yaml --set train.epochs=3
expect config-table1 0 "lr_knowledge: 1.0000000000000001e-05|lr_knowledge: 1e-05" -- \
  "$hrere" config --config configs/nyt10-paper.yaml

printf 'data:\n  bag_size: 5\n  bagsize: 5\n' >"$work/unknown.yaml"
expect unknown-key 2 "unknown.yaml:3: unknown key 'data.bagsize'" -- \
  "$hrere" config --config "$work/unknown.yaml"
printf 'train:\n  epochs: 3\nmodel:\n  lstm_hidden: big\n' >"$work/type.yaml"
expect wrong-type 2 "type.yaml:4: model.lstm_hidden: expected an integer, found 'big'" -- \
  "$hrere" config --config "$work/type.yaml"
printf 'trainer:\n  epochs: 3\n' >"$work/section.yaml"
expect unknown-section 2 "section.yaml:1: unknown section 'trainer'" -- \
  "$hrere" config --config "$work/section.yaml"
expect bad-set 2 "--set data.nope=1: unknown key 'data.nope'" -- \
  "$hrere" config --config configs/nyt10.yaml --set data.nope=1
expect bad-set-value 2 "train.variant" -- \
  "$hrere" config --config configs/nyt10.yaml --set train.variant=fancy

# Devices and transports: printed by `config`; a GPU this build or machine lacks stops any
# command with exit 2 naming the key, before any work.
expect config-device-keys 0 "device: \"cpu\"" -- "$hrere" config
expect config-dist-backend 0 "backend: \"auto\"" -- "$hrere" config
expect config-dist-overlap 0 "overlap: true" -- "$hrere" config
if ! "$hrere" config --set train.device=cuda >/dev/null 2>&1; then
  expect train-device-cuda 2 "train.device: 'cuda' asks for a GPU" -- \
    "$hrere" config --set train.device=cuda
  expect kbe-device-cuda 2 "kbe.device: 'cuda:1' asks for a GPU" -- \
    "$hrere" config --set kbe.device=cuda:1
fi
expect bad-device 2 "train.device: 'gpu' is not a device" -- "$hrere" config --set train.device=gpu
expect bad-backend 2 "dist.backend: expected auto, mpi or nccl, found 'gloo'" -- \
  "$hrere" config --set dist.backend=gloo

# The resolved config is itself a valid config that resolves to the same text.
"$hrere" config --config configs/nyt10-paper.yaml --set data.bag_size=7 >"$work/resolved.yaml"
expect resolved-round-trip 0 "bag_size: 7" -- "$hrere" config --config "$work/resolved.yaml"
if ! diff -q <("$hrere" config --config "$work/resolved.yaml") "$work/resolved.yaml" >/dev/null; then
  failed=$((failed + 1))
  echo "FAILED: resolved config does not resolve to itself"
else
  passed=$((passed + 1))
fi

expect prepare-unknown-relation 2 "train.txt:1165: unknown relation '/people/ethnicity/people'" -- \
  "$hrere" prepare --config configs/nyt10.yaml --set "data.relation_map={}" --out "$work/strict"
if [ -e "$work/strict" ]; then
  failed=$((failed + 1))
  echo "FAILED: a failed prepare left $work/strict behind"
else
  passed=$((passed + 1))
fi
expect prepare-skip 0 "skipped lines: 32" -- \
  "$hrere" prepare --config configs/nyt10.yaml --set "data.relation_map={}" --skip-bad-lines \
  --out "$work/skip"
expect prepare-writes-config 0 "skip_bad_lines: true" -- cat "$work/skip/config.yaml"
expect inspect-json 0 '"format": "hrere-bag-store"' -- "$hrere" inspect --json "$work/skip/bags.h5"
expect inspect-kb 0 "hrere-kb-store" -- "$hrere" inspect "$work/skip/kb.h5"
echo "not hdf5" >"$work/fake.h5"
expect inspect-foreign 2 "fake.h5: not an HDF5 file" -- "$hrere" inspect "$work/fake.h5"
head -c 20000 "$work/skip/bags.h5" >"$work/cut.h5"
expect inspect-truncated 2 "cut.h5" -- "$hrere" inspect "$work/cut.h5"
expect missing-config 2 "config" -- "$hrere" prepare --config "$work/none.yaml" --out "$work/x"

expect synth 0 "uninformative" -- "$hrere" synth --out "$work/world" --seed 3
expect synth-bad-preset 2 "bench-1m" -- "$hrere" synth --preset huge --out "$work/w2"

# Train, evaluate, predict and pretrain on a synthetic world with tiny models (seconds).
world=(--set "data.train=$work/world/train.txt" --set "data.test=$work/world/test.txt"
       --set "data.relations=$work/world/relation2id.txt"
       --set "data.kb_train=$work/world/kb/train.txt" --set "data.kb_valid=$work/world/kb/valid.txt"
       --set "data.kb_test=$work/world/kb/test.txt")
expect prepare-synth 0 "test pairs" -- \
  "$hrere" prepare --config configs/synth.yaml "${world[@]}" --out "$work/synth-data"
tiny=(--config configs/synth.yaml --set "data.prepared=$work/synth-data" --set train.variant=base
      --set train.epochs=1 --set train.batch_size=32 --set train.threads=1 --set model.word_dim=8
      --set model.position_dim=2 --set model.lstm_hidden=8 --set model.classifier_hidden=8)
expect train 0 "sentence protocol .*AP [0-9.]+.*P@10%" -- "$hrere" train "${tiny[@]}" --out "$work/run"
expect train-metrics 0 '"loss_language"' -- cat "$work/run/metrics.jsonl"
expect train-eval-files 0 "pr.png" -- ls "$work/run/eval"
expect train-existing-run 2 "pass --resume" -- "$hrere" train "${tiny[@]}" --out "$work/run"
expect train-resume-finished 0 "trained [0-9]+ steps" -- "$hrere" train --resume --out "$work/run"
# The PCNN+ATT baseline runs the same pipeline (train, checkpoints, evaluation, predict).
expect train-pcnn 0 "sentence protocol .*AP [0-9.]+" -- \
  "$hrere" train "${tiny[@]}" --set model.encoder=pcnn --set model.conv_filters=8 --out "$work/pcnn"
expect eval-pcnn 0 "pair protocol" -- "$hrere" eval --run "$work/pcnn"
expect encoder-unknown 2 "model.encoder: expected bilstm, cnn or pcnn, found 'rnn'" -- \
  "$hrere" config --set model.encoder=rnn
expect conv-window-even 2 "model.conv_window must be a positive odd number" -- \
  "$hrere" config --set model.conv_window=4
# A wall-clock limit (a minute's 1/100000th: after the first step) stops it checkpointed;
# --resume finishes it. Log lines carry the rank and the level; --log-level warn hides info.
expect train-max-minutes 0 "\[rank 0\] \[info\] stopped after 1e-05 minutes \(--max-minutes\) at step 1" -- \
  "$hrere" train "${tiny[@]}" --no-eval --max-minutes 0.00001 --out "$work/timed"
expect train-max-minutes-resumed 0 "\[info\] resuming .*step-0000000001 at step 1" -- \
  "$hrere" train --resume --no-eval --out "$work/timed"
quiet_log=$("$hrere" --log-level warn train --resume --no-eval --out "$work/timed" 2>&1)
expect log-level-warn 0 "no info lines" -- \
  bash -c '! grep -q "\[info\]" <<<"$1" && grep -q "trained" <<<"$1" && echo "no info lines"' _ "$quiet_log"
expect log-level-bad 2 "--log-level verbose: expected debug, info, warn or error" -- \
  "$hrere" config --log-level verbose
# A learning rate far too large: the loss stops being finite within a few steps, and the run
# stops with exit code 4 naming the step and the loss term (train.on_nonfinite: stop).
expect train-nonfinite 4 "step [0-9]+: J_L is -?(nan|inf).*train.on_nonfinite: stop" -- \
  "$hrere" train "${tiny[@]}" --set train.lr_language=1e30 --no-eval --out "$work/diverged"
expect train-joint-variant 2 "variant 'full'" -- \
  "$hrere" train "${tiny[@]}" --set train.variant=full --out "$work/full"
expect eval 0 "pair protocol" -- "$hrere" eval --run "$work/run"
expect eval-alpha-base 2 "weighs the knowledge side, which a base run does not have" -- \
  "$hrere" eval --run "$work/run" --alpha 0.4
# The installed layout: the binary finds its PR-curve helper beside it, not in the source tree.
expect install 0 "plot_pr.py" -- cmake --install "$(dirname "$hrere")" --prefix "$work/prefix"
rm "$work/run/eval/pr.png"
expect installed-eval 0 "pair protocol" -- "$work/prefix/bin/hrere" eval --run "$work/run"
expect installed-eval-plot 0 "pr.png" -- ls "$work/run/eval"
# A python3 without matplotlib first on PATH (pyenv, a venv): the plot falls back to the
# system interpreter that tools/setup.sh equips.
mkdir -p "$work/fake-bin" && printf '#!/bin/sh\nexit 1\n' >"$work/fake-bin/python3"
chmod +x "$work/fake-bin/python3" && rm "$work/run/eval/pr.png"
expect eval-python-fallback 0 "pr.png" -- env -u HRERE_PYTHON PATH="$work/fake-bin:$PATH" \
  bash -c '"$1" eval --run "$2" >/dev/null && ls "$2/eval"' _ "$hrere" "$work/run"
expect eval-not-a-run 2 "not a run folder" -- "$hrere" eval --run "$work/world"
head -1 "$work/world/test.txt" | python3 -c '
import json, sys
f = sys.stdin.readline().rstrip("\n").split("\t")
print(json.dumps({"head": f[0], "tail": f[1], "head_name": f[2], "tail_name": f[3], "sentences": [f[5]]}))
' >"$work/requests.jsonl"
expect predict 0 '"relations":\[\{"probability"' -- \
  "$hrere" predict --run "$work/run" --input "$work/requests.jsonl" --top 3
printf '{"head": "m.1"\n' >"$work/bad.jsonl"
expect predict-bad-line 2 "bad.jsonl:1: not a JSON object" -- \
  "$hrere" predict --run "$work/run" --input "$work/bad.jsonl" --out "$work/never.jsonl"
expect predict-bad-writes-nothing 1 "" -- test -e "$work/never.jsonl"

kbe=(--config configs/synth.yaml --set "data.prepared=$work/synth-data" --set kbe.dim=8
     --set kbe.epochs=2 --set kbe.batch_size=500 --set kbe.threads=1)
expect pretrain 0 "test \(filtered, all candidates\): MRR [0-9.]+ .*Hits@10" -- "$hrere" pretrain "${kbe[@]}" --out "$work/kbe"
expect pretrain-metrics 0 '"valid"' -- cat "$work/kbe/metrics.jsonl"
expect eval-kbe 0 "valid \(filtered, all candidates, [0-9]+ queries\): MRR" -- \
  "$hrere" eval-kbe --run "$work/kbe" --split valid
# A Slurm-style run: stopped by --max-steps (checkpointed and exported), then resumed, with
# sampled-candidate evaluation on a subset of the triples.
expect pretrain-max-steps 0 "stopped after 3 steps \(--max-steps\) at step 3; exported" -- \
  "$hrere" pretrain "${kbe[@]}" --set kbe.eval_candidates=50 --set kbe.eval_max_triples=40 \
  --set kbe.checkpoint_every_steps=2 --out "$work/kbe-slurm" --max-steps 3
expect pretrain-resumed 0 "test \(filtered, 50 sampled candidates per batch\): MRR" -- \
  "$hrere" pretrain --out "$work/kbe-slurm" --resume
expect pretrain-max-minutes 0 "stopped after 1e-05 minutes \(--max-minutes\) at step 1; exported" -- \
  "$hrere" pretrain "${kbe[@]}" --out "$work/kbe-timed" --max-minutes 0.00001
expect eval-kbe-sampled 0 '"candidates": 50' -- cat "$work/kbe-slurm/eval_kbe_test_sampled-50_subset-40.json"
expect eval-kbe-exact 0 "test \(filtered, all candidates, [0-9]+ queries\)" -- \
  "$hrere" eval-kbe --run "$work/kbe-slurm" --set kbe.eval_candidates=all --set kbe.eval_max_triples=0
expect kbe-bad-candidates 2 "kbe.eval_candidates" -- "$hrere" config --set kbe.eval_candidates=some
expect kbe-bad-key 2 "kbe.loss" -- "$hrere" config --set kbe.loss=hinge
expect patience-needs-dev 2 "train.patience needs a dev split to watch" -- \
  "$hrere" config --set train.patience=3
expect dist-bad-value 2 "dist.lost_after_s must be more than twice dist.heartbeat_s" -- "$hrere" config --set dist.lost_after_s=1
expect dist-bad-type 2 "dist.checksum_every" -- "$hrere" config --set dist.checksum_every=often
if command -v mpirun >/dev/null; then
  as_root=()
  [ "$(id -u)" -eq 0 ] && as_root=(--allow-run-as-root)
  expect pretrain-2-ranks 0 "on 2 rank\(s\)" -- mpirun -np 2 --oversubscribe "${as_root[@]}" \
    "$hrere" pretrain "${kbe[@]}" --out "$work/kbe2"
  # Each rank wrote its rows; h5py reads the whole table through the index, from any folder.
  expect export-h5py 0 "rows ok" -- bash -c "cd / && ${HRERE_PYTHON:-python3} -c '
import h5py, numpy, sys
f = h5py.File(sys.argv[1], \"r\")
real = f[\"entity_real\"][:]
assert real.shape[0] == len(f[\"entities\"]) and numpy.isfinite(real).all(), real
print(\"rows ok\")' $work/kbe2/embeddings.h5"
fi

finish
