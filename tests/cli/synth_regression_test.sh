#!/usr/bin/env bash
# The paper's mechanism as a regression guard (docs/RESULTS.md, the synthetic world): on the
# synthetic world's test pairs whose sentences say nothing but whose relation the KB implies,
# full (J_L + J_G + J_D, knowledge at inference) must beat base (the language model alone)
# by a wide AP margin, and the margin must come from the knowledge side at inference: full
# scored by its language model alone (`eval --alpha 1`) must fall back by as much. One seed,
# a small model and few epochs, so it runs in CTest; the full-size table gives full 0.90
# against base 0.23 there.
# Usage: synth_regression_test.sh HRERE_BINARY [MIN_AP_GAIN]  (run from the repository root)
set -euo pipefail
hrere=$1 min_gain=${2:-0.3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$hrere" synth --out "$work/world" >/dev/null
common=(--config configs/synth.yaml --set "data.prepared=$work/data" --set kbe.dim=64
        --set kbe.epochs=6 --set kbe.batch_size=256 --set kbe.regularization=0.1
        --set kbe.entity_tanh=true --set kbe.threads=1 --set model.word_dim=16
        --set model.position_dim=3 --set model.lstm_hidden=16 --set model.classifier_hidden=16
        --set train.epochs=4 --set train.batch_size=64 --set train.threads=1)
"$hrere" prepare --config configs/synth.yaml --set "data.train=$work/world/train.txt" \
  --set "data.test=$work/world/test.txt" --set "data.relations=$work/world/relation2id.txt" \
  --set "data.kb_train=$work/world/kb/train.txt" --set "data.kb_valid=$work/world/kb/valid.txt" \
  --set "data.kb_test=$work/world/kb/test.txt" --out "$work/data" >/dev/null 2>&1
"$hrere" pretrain "${common[@]}" --out "$work/kbe" >/dev/null 2>&1
pairs=$work/world/test_uninformative_pairs.txt
for variant in base full; do
  "$hrere" train "${common[@]}" --set "train.variant=$variant" \
    --set "train.kbe_embeddings=$work/kbe/embeddings.h5" --no-eval --out "$work/$variant" \
    >/dev/null 2>&1
  "$hrere" eval --run "$work/$variant" --pairs "$pairs" >/dev/null 2>&1
done
# full's language model alone (alpha 1: no knowledge side at inference)
"$hrere" eval --run "$work/full" --pairs "$pairs" --alpha 1 >/dev/null 2>&1
python3 - "$work" "$min_gain" <<'PY'
import json, sys
work, min_gain = sys.argv[1], float(sys.argv[2])
def ap(run, scope=""):
    with open(f"{work}/{run}/eval/test_uninformative_pairs/{scope}summary.json") as f:
        summary = json.load(f)
    return summary["sentence"]["average_precision"], summary.get("alpha")
(base, _), (full, alpha), (text_only, one) = ap("base"), ap("full"), ap("full", "alpha-1/")
gain = full - base
print(f"uninformative test pairs: AP base {base:.3f}, full {full:.3f} (alpha {alpha}), "
      f"gain {gain:.3f} (at least {min_gain} required); full's language model alone "
      f"(alpha {one}) {text_only:.3f}")
# The gain comes from the knowledge side at inference: without it full is no better than
# the gain allows (eval --alpha really reweighs the mixture).
sys.exit(0 if gain >= min_gain and one == 1 and full - text_only >= min_gain else 1)
PY
