#!/usr/bin/env bash
# The paper's Table 2 on any prepared data: pretrains ComplEx once, trains the variants
# base, naive, full and weston over K seeds each, and writes OUT/table.md with the mean and
# standard deviation of P@10/30/50% and PR-AUC (sentence protocol, as the paper), and
# OUT/pr.png with the PR curves of each variant's first seed (as the paper's Figure 2).
#
#   tools/variants_table.sh OUT CONFIG K [--set key=value ...]
#
# The --set overrides go to every command (data.prepared must name a prepared folder). With
# PAIRS=FILE in the environment each run is also evaluated on the entity pairs listed in
# FILE (e.g. the uninformative test pairs of `hrere synth`), reported in a second table.
set -euo pipefail
out=$1 config=$2 seeds=$3
shift 3
hrere=${HRERE:-build/hrere}
mkdir -p "$out"
if [ ! -f "$out/kbe/embeddings.h5" ]; then
  "$hrere" pretrain --config "$config" "$@" --out "$out/kbe"
fi
for variant in base naive full weston; do
  if [ ! -f "$out/$variant/runs_summary.json" ]; then
    "$hrere" train --config "$config" "$@" --set "train.variant=$variant" \
      --set "train.kbe_embeddings=$out/kbe/embeddings.h5" --runs "$seeds" --out "$out/$variant"
  fi
  if [ -n "${PAIRS:-}" ]; then
    for run in "$out/$variant"/seed-*; do "$hrere" eval --run "$run" --pairs "$PAIRS" >/dev/null; done
  fi
done
/usr/bin/python3 - "$out" "${PAIRS:-}" <<'PY'
import glob, json, os, statistics, sys
out, pairs = sys.argv[1], sys.argv[2]
variants = ["base", "naive", "full", "weston"]
metrics = [("P@10%", ("p_at_percent", "10")), ("P@30%", ("p_at_percent", "30")),
           ("P@50%", ("p_at_percent", "50")), ("PR-AUC (AP)", ("average_precision",))]

def table(title, summary_path):
    lines = ["### " + title, "", "| variant | " + " | ".join(m for m, _ in metrics) + " | seeds |",
             "|---" * (len(metrics) + 2) + "|"]
    for v in variants:
        runs = sorted(glob.glob(os.path.join(out, v, "seed-*")))
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
first=()
for variant in base naive full weston; do first+=("$(ls -d "$out/$variant"/seed-* | head -1)"); done
/usr/bin/python3 tools/plot_pr.py "${first[@]}" --label base --label naive --label full \
  --label weston --out "$out/pr.png"
echo "table: $out/table.md, figure: $out/pr.png"
