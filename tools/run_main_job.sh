#!/usr/bin/env bash
# The README's main job on the default data (the NYT10 slice and FB15k-237 in ../shared/data,
# nothing to download): installs what is missing, builds the hrere binary, prepares the HDF5
# bag and KB stores into runs/nyt10-data and prints their summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh --target hrere
build/hrere prepare --config configs/nyt10.yaml --out runs/nyt10-data
build/hrere inspect runs/nyt10-data/bags.h5
