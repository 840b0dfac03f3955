#!/usr/bin/env bash
# The README's main job: installs what is missing, builds the hrere binary, prepares the
# HDF5 bag and KB stores and prints their summary. The data: the NYT10 slice and FB15k-237
# of ../shared/data when present, else the built-in synthetic world (nothing is downloaded
# either way). `tools/run_main_job.sh synth` forces the synthetic world.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh --target hrere
if [ "${1:-auto}" != synth ] && [ -f ../shared/data/nyt10-partial/train.txt ]; then
  build/hrere prepare --config configs/nyt10.yaml --out runs/nyt10-data
  build/hrere inspect runs/nyt10-data/bags.h5
else
  build/hrere synth --out runs/synth
  build/hrere prepare --config configs/synth.yaml --out runs/synth-data
  build/hrere inspect runs/synth-data/bags.h5
fi
