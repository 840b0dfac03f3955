#!/usr/bin/env bash
# The paper's Table 2 on any prepared data: pretrains ComplEx once, then trains over K seeds
# each row of the table and writes OUT/table.md with the mean and standard deviation of
# P@10/30/50% and PR-AUC (sentence protocol, as the paper), and OUT/pr.png with the PR curves
# of each row's first seed (as the paper's Figure 2). The rows:
#
#   base, naive, full, weston   the variants (train.variant)
#   full-matched                full with train.kb_relations: matched
#   cnn, pcnn                   the CNN+ATT and PCNN+ATT baselines (base with model.encoder)
#   full-cnn, full-pcnn         full with those encoders
#
#   tools/variants_table.sh OUT CONFIG K [--set key=value ...]
#
# The --set overrides go to every command (data.prepared must name a prepared folder);
# ROWS="base full" restricts the table to some rows. CNN_SETTINGS="--set train.epochs=20"
# adds settings to the four rows with a CNN encoder only: on NYT10 the CNNs' dev-best length
# is about twice the BiLSTM's (docs/RESULTS.md, "The dev-chosen setup"). With PAIRS=FILE in the environment each
# run is also evaluated on the entity pairs listed in FILE (e.g. the uninformative test
# pairs of `hrere synth`), reported in a second table.
set -euo pipefail
out=$1 config=$2 seeds=$3
shift 3
hrere=${HRERE:-build/hrere}
read -r -a rows <<<"${ROWS:-base naive full full-matched weston cnn pcnn full-cnn full-pcnn}"
# The settings that make each row what it is.
row_settings() {
  case $1 in
    base | naive | full | weston) echo "--set train.variant=$1" ;;
    full-matched) echo "--set train.variant=full --set train.kb_relations=matched" ;;
    cnn | pcnn) echo "--set train.variant=base --set model.encoder=$1 ${CNN_SETTINGS:-}" ;;
    full-cnn | full-pcnn) echo "--set train.variant=full --set model.encoder=${1#full-} ${CNN_SETTINGS:-}" ;;
    *) echo "variants_table.sh: unknown row '$1'" >&2; return 1 ;;
  esac
}
# A row's run folders: seed-* under it (K > 1), or the row's folder itself (K = 1).
runs_of() {
  if [ -f "$out/$1/config.yaml" ]; then echo "$out/$1"; else find "$out/$1" -maxdepth 1 -name 'seed-*' | sort; fi
}
mkdir -p "$out"
if [ ! -f "$out/kbe/embeddings.h5" ]; then
  "$hrere" pretrain --config "$config" "$@" --out "$out/kbe"
fi
for row in "${rows[@]}"; do
  settings=$(row_settings "$row")
  if [ ! -f "$out/$row/runs_summary.json" ] && [ ! -f "$out/$row/eval/summary.json" ]; then
    # shellcheck disable=SC2086 # the row's settings are words
    "$hrere" train --config "$config" "$@" $settings \
      --set "train.kbe_embeddings=$out/kbe/embeddings.h5" --runs "$seeds" --out "$out/$row"
  fi
  if [ -n "${PAIRS:-}" ]; then
    for run in $(runs_of "$row"); do "$hrere" eval --run "$run" --pairs "$PAIRS" >/dev/null; done
  fi
done
/usr/bin/python3 - "$out" "${PAIRS:-}" "${rows[@]}" <<'PY'
import glob, json, os, statistics, sys
out, pairs, variants = sys.argv[1], sys.argv[2], sys.argv[3:]
metrics = [("P@10%", ("p_at_percent", "10")), ("P@30%", ("p_at_percent", "30")),
           ("P@50%", ("p_at_percent", "50")), ("PR-AUC (AP)", ("average_precision",))]

def table(title, summary_path):
    lines = ["### " + title, "", "| variant | " + " | ".join(m for m, _ in metrics) + " | seeds |",
             "|---" * (len(metrics) + 2) + "|"]
    for v in variants:
        runs = sorted(glob.glob(os.path.join(out, v, "seed-*"))) or [os.path.join(out, v)]
        values = {m: [] for m, _ in metrics}
        for run in runs:
            with open(os.path.join(run, summary_path)) as f:
                s = json.load(f)["sentence"]
            for m, keys in metrics:
                x = s
                for k in keys:
                    x = x[k]
                values[m].append(x)
        cells = ["%.3f ± %.3f" % (statistics.mean(values[m]), statistics.pstdev(values[m]))
                 for m, _ in metrics]
        lines.append("| %s | %s | %d |" % (v, " | ".join(cells), len(runs)))
    return "\n".join(lines) + "\n"

text = table("All test sentences", "eval/summary.json")
if pairs:
    stem = os.path.splitext(os.path.basename(pairs))[0]
    text += "\n" + table("Test sentences of the pairs in " + os.path.basename(pairs),
                         os.path.join("eval", stem, "summary.json"))
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(text)
print(text)
PY
first=() labels=()
for row in "${rows[@]}"; do
  first+=("$(runs_of "$row" | head -1)")
  labels+=(--label "$row")
done
/usr/bin/python3 tools/plot_pr.py "${first[@]}" "${labels[@]}" --out "$out/pr.png"
echo "table: $out/table.md, figure: $out/pr.png"
