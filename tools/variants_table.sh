#!/usr/bin/env bash
# The paper's Table 2 on any prepared data: pretrains ComplEx once, then trains over K seeds
# each row of the table and writes OUT/table.md with the mean and standard deviation of
# P@10/30/50% and PR-AUC (sentence protocol, as the paper), every run's figures and full
# minus naive paired by seed (tools/compare_runs.py), and OUT/pr.png with the PR curves of
# each row's first seed (as the paper's Figure 2). The rows:
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
# is about twice the BiLSTM's (docs/RESULTS.md, "The dev-chosen setup"). With PAIRS=FILE in
# the environment each run is also evaluated on the entity pairs listed in FILE (e.g. the
# uninformative test pairs of `hrere synth`), reported in a second table.
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
# The table (tools/compare_runs.py): mean and std per row, every run, and full - naive
# paired by seed.
specs=() paired=()
for row in "${rows[@]}"; do specs+=("$row=$(runs_of "$row" | paste -sd,)"); done
if [[ " ${rows[*]} " == *" full "* && " ${rows[*]} " == *" naive "* ]]; then
  paired=(--pair full naive)
fi
{
  echo "### All test sentences"
  echo
  /usr/bin/python3 tools/compare_runs.py "${specs[@]}" "${paired[@]}"
  if [ -n "${PAIRS:-}" ]; then
    stem=$(basename "$PAIRS")
    stem=${stem%.*}
    echo
    echo "### Test sentences of the pairs in $(basename "$PAIRS")"
    echo
    /usr/bin/python3 tools/compare_runs.py "${specs[@]}" "${paired[@]}" \
      --summary "eval/$stem/summary.json"
  fi
} | tee "$out/table.md"
first=() labels=()
for row in "${rows[@]}"; do
  first+=("$(runs_of "$row" | head -1)")
  labels+=(--label "$row")
done
/usr/bin/python3 tools/plot_pr.py "${first[@]}" "${labels[@]}" --out "$out/pr.png"
echo "table: $out/table.md, figure: $out/pr.png"
