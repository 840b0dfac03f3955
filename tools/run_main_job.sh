#!/usr/bin/env bash
# The README's main job: installs what is missing, builds the hrere binary, prepares the
# HDF5 bag and KB stores, trains the relation extractor (variant base, Table 1 sizes, a few
# epochs) and prints its held-out P@N% and PR-AUC. The data: the NYT10 slice and FB15k-237
# of ../shared/data when present, else the built-in synthetic world (nothing is downloaded
# either way). `tools/run_main_job.sh synth` forces the synthetic world. HRERE_EPOCHS
# overrides the number of epochs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh --target hrere
epochs=${HRERE_EPOCHS:-3}
if [ "${1:-auto}" != synth ] && [ -f ../shared/data/nyt10-partial/train.txt ]; then
  config=configs/nyt10.yaml
  data=runs/nyt10-data
else
  config=configs/synth.yaml
  data=runs/synth-data
  build/hrere synth --out runs/synth
fi
build/hrere prepare --config "$config" --out "$data"
build/hrere inspect "$data/bags.h5"
rm -rf runs/main-base
build/hrere train --config "$config" --set "data.prepared=$data" --set train.variant=base \
  --set "train.epochs=$epochs" --out runs/main-base
