#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz harnesses, fuzz/corpus/<harness>/ (see
# docs/RELIABILITY.md, Fuzzing): a few lines of the shared real data (../shared/data, next to
# the repository) and of a tiny synthetic world, crafted edge cases, and HDF5 stores prepared
# from a handful of lines. Every seed stays a few KB.
#
#   fuzz/make_corpus.sh [BUILD_DIR]    # default: build (it builds the seed tools there)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=../shared/data
[ -d "$data/nyt10-partial" ] && [ -d "$data/fb15k-237" ] ||
  { echo "make_corpus: $data (the shared real data) is missing" >&2; exit 1; }
cmake --build "$build" --target fuzz_seed_tool fuzz_seed_tool_kbe -j 1 >/dev/null
tool=$build/fuzz/fuzz_seed_tool

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$tool" synth "$tmp/synth"
s=$tmp/synth

corpus=fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus"/{nyt10,jsonl,kb_triples,word_vectors,relation2id,config,predict,bag_store,kb_store,embeddings,checkpoint_shard}

# NYT10 text: train lines (6 fields) and test lines (7 fields), real and synthetic.
head -n 3 "$data/nyt10-partial/train.txt" >"$corpus/nyt10/real_train.txt"
head -n 3 "$data/nyt10-partial/test.txt" >"$corpus/nyt10/real_test.txt"
head -n 3 "$s/train.txt" >"$corpus/nyt10/synth_train.txt"
head -n 3 "$s/test.txt" >"$corpus/nyt10/synth_test.txt"
printf 'm.01\tm.02\ta_b\tc\tNA\tx -lrb- a_b -rrb- met c , a_b . ###END###\r\n\r\n%s\n' \
  'm.03	m.04	new_york	york	/location/location/contains	york , new_york .	###END###' \
  >"$corpus/nyt10/crlf_brackets.txt"

# OpenNRE JSON lines, made from the same NYT10 lines.
to_jsonl() {
  python3 -c '
import json, sys
for line in sys.stdin:
    f = line.rstrip("\r\n").split("\t")
    text = f[5].replace(" ###END###", "")
    print(json.dumps({"text": text, "relation": f[4],
                      "h": {"id": f[0], "name": f[2]}, "t": {"id": f[1], "name": f[3]}}))'
}
head -n 3 "$data/nyt10-partial/train.txt" | to_jsonl >"$corpus/jsonl/real.jsonl"
head -n 3 "$s/train.txt" | to_jsonl >"$corpus/jsonl/synth.jsonl"
printf '%s\n' '{"text": "\u00e9l met b", "relation": "NA", "h": {"id": "/m/01", "name": "\u00e9l"}, "t": {"id": "m.02", "name": "b"}, "token": ["x"]}' \
  >"$corpus/jsonl/unicode.jsonl"

# KB triples: FB15k-237 (CRLF, /m/ mids), synthetic, NYT10-style mids with spaces.
head -n 4 "$data/fb15k-237/train.txt" >"$corpus/kb_triples/fb15k237.txt"
head -n 4 "$s/kb/train.txt" >"$corpus/kb_triples/synth.txt"
printf 'm.01 /people/person/nationality m.02\n\nm.02\t/location/location/contains\tm.03' \
  >"$corpus/kb_triples/spaces.txt"

# Word vectors: word2vec text (header `count dim`) and GloVe text (no header).
{ echo "3 3"; sed -n 2,4p "$s/vectors.txt"; } >"$corpus/word_vectors/word2vec.txt"
sed -n 2,4p "$s/vectors.txt" >"$corpus/word_vectors/glove.txt"
printf 'the 0.5 -1e-3 2\r\nof 1 2 3\r\n' >"$corpus/word_vectors/glove_crlf.txt"

# relation2id: the first relations of the real table (count line adjusted), synthetic.
{ echo 5; sed -n 2,6p "$data/nyt10-partial/relation2id.txt"; } >"$corpus/relation2id/real.txt"
cp "$s/relation2id.txt" "$corpus/relation2id/synth.txt"

# Configs: the shipped ones, and overrides after `#--set` (fuzz/config_fuzz.cc).
cp configs/synth.yaml "$corpus/config/synth.yaml"
{ cat configs/nyt10.yaml; printf '#--set\ntrain.epochs=3\ndata.relation_map={}\nkbe.eval_candidates=100\n'; } \
  >"$corpus/config/nyt10_overrides.yaml"
printf '#--set\ntrain.variant=weston\ndist.heartbeat_s=0.5\nmodel.input_keep=1\n' \
  >"$corpus/config/overrides_only.yaml"

# predict input: the documented example and synthetic sentences.
printf '%s\n' '{"head": "m.0abc", "tail": "m.0xyz", "head_name": "barack_obama", "tail_name": "hawaii", "sentences": ["barack_obama was born in hawaii .", "hawaii , the state of barack_obama"]}' \
  '' >"$corpus/predict/example.jsonl"
python3 -c '
import json, sys
for line in sys.stdin:
    f = line.rstrip("\r\n").split("\t")
    print(json.dumps({"head": f[0], "tail": f[1], "head_name": f[2], "tail_name": f[3],
                      "sentences": [f[5].replace(" ###END###", "")]}))' \
  < <(head -n 3 "$s/train.txt") >"$corpus/predict/synth.jsonl"

# Stores prepared from a handful of lines: synthetic with word vectors, real without. They
# are prepared inside the scratch folder from relative names, which the stores record.
head -n 3 "$s/train.txt" >"$tmp/train.txt"
head -n 2 "$s/test.txt" >"$tmp/test.txt"
head -n 3 "$s/kb/train.txt" >"$tmp/kb.txt"
cp "$s/relation2id.txt" "$tmp/relation2id.txt"
cp "$s/vectors.txt" "$tmp/vectors.txt"
head -n 2 "$data/nyt10-partial/train.txt" >"$tmp/real_train.txt"
head -n 2 "$data/nyt10-partial/test.txt" >"$tmp/real_test.txt"
head -n 3 "$data/fb15k-237/train.txt" >"$tmp/real_kb.txt"
cp "$data/nyt10-partial/relation2id.txt" "$tmp/real_relation2id.txt"
tool_path=$(realpath "$tool")
(cd "$tmp" && "$tool_path" prepare synth-store train.txt test.txt relation2id.txt kb.txt vectors.txt &&
  "$tool_path" prepare real-store real_train.txt real_test.txt real_relation2id.txt real_kb.txt)
cp "$tmp/synth-store/bags.h5" "$corpus/bag_store/synth_vectors.h5"
cp "$tmp/synth-store/kb.h5" "$corpus/kb_store/synth.h5"
cp "$tmp/real-store/bags.h5" "$corpus/bag_store/real.h5"
cp "$tmp/real-store/kb.h5" "$corpus/kb_store/real.h5"

# Embeddings exports: version 1 (the whole table inside) and a version 2 index alone.
"$tool" embeddings "$corpus/embeddings/v1.h5" 1
"$tool" embeddings "$corpus/embeddings/v2_index.h5" 2

# Entity shards of a checkpoint's knowledge folder.
"$build/fuzz/fuzz_seed_tool_kbe" "$corpus/checkpoint_shard"

du -sh "$corpus"/* | sed 's/^/make_corpus: /'
