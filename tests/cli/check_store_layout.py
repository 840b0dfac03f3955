"""Opens a prepared bags.h5 / kb.h5 with h5py, as Python users will, and checks the layout
documented in data_pipeline/bag_store.h and kb_store.h against prepare.json."""
import json
import sys

import h5py

prepare_dir = sys.argv[1]
report = json.load(open(f"{prepare_dir}/prepare.json"))
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


with h5py.File(f"{prepare_dir}/bags.h5", "r") as f:
    T, L = int(f.attrs["T"]), int(f.attrs["L"])
    # String attributes are fixed-width UTF-8, which h5py returns as bytes.
    check(f.attrs["format"].decode() == "hrere-bag-store", "format attribute")
    check(int(f.attrs["version"]) == 2, "version attribute")
    check("train" in json.loads(f.attrs["sources"].decode()), "sources attribute")
    vocab = f["vocabulary"].asstr()[:]
    check(len(vocab) == report["vocabulary"], "vocabulary size")
    check(list(vocab[:2]) == ["<pad>", "<unk>"], "padding and unknown ids")
    check(f["relations"].asstr()[0] == "NA", "NA is relation 0")
    n = report["bags"]["train"]
    for name, shape in [("words", (n, T, L)), ("lengths", (n, T)), ("head_spans", (n, T, 2)),
                        ("tail_spans", (n, T, 2)), ("heads", (n,)), ("tails", (n,)),
                        ("labels", (n,))]:
        check(f["train"][name].shape == shape, f"/train/{name} shape {f['train'][name].shape}")
        check(f["train"][name].dtype == "int32", f"/train/{name} dtype")
    check(f["train/words"].chunks is not None and f["train/words"].compression == "gzip",
          "/train/words is chunked and compressed")
    check(f["train/words"].fletcher32 and f["vocabulary"].fletcher32, "chunks are checksummed")
    words, lengths = f["train/words"][:50], f["train/lengths"][:50]
    for b in range(words.shape[0]):
        for t in range(T):
            check((words[b, t, lengths[b, t]:] == 0).all(), "padding after length is 0")
            check((words[b, t, :lengths[b, t]] > 0).all(), "real tokens are not padding")
    check(f["test/words"].shape == (report["bags"]["test_sentences"], 1, L), "/test/words shape")
    pairs = report["bags"]["test_pairs"]
    check(f["test_pairs/offsets"].shape == (pairs + 1,), "/test_pairs/offsets shape")
    check(f["test_pairs/offsets"][-1] == report["bags"]["test_sentences"], "offsets end")
    check(f["test_pairs/labels"].shape == (pairs, report["relations"]), "/test_pairs/labels")

if report["kb"] is not None:
    with h5py.File(f"{prepare_dir}/kb.h5", "r") as f:
        check(f.attrs["format"].decode() == "hrere-kb-store", "KB format attribute")
        for split, kept in report["kb"]["triples_kept"].items():
            check(f["triples"][split].shape == (kept, 3), f"/triples/{split} shape")
            check(int(f.attrs[f"removed_{split}"]) == report["kb"]["triples_removed"][split],
                  f"removed_{split}")
        check(len(f["entities"]) == report["entities"], "entity table")
        check(f["triples/train"][:, 0].max() < len(f["entities"]), "entity ids in range")

for message in failures:
    print("FAILED:", message)
print("store layout:", "all checks passed" if not failures else f"{len(failures)} checks failed")
sys.exit(1 if failures else 0)
