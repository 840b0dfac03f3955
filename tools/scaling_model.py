#!/usr/bin/python3
"""The cost model of sharded pretraining (negative sampling), docs/SCALING.md:

  step(P) = c * B / P                                  compute: c seconds per triple, measured at P = 1
          + 3 * alpha_a2a + V(P) * beta_a2a            the entity rows: ids, rows and gradients
          + alpha_ar + 4 * 2 * R * D * beta_ar         the relation gradients' all-reduce
  V(P)    = b * (2 + k) * (P - 1) / P * (8 + 8 D)      bytes a rank sends per step, b = B / P

with alpha (latency) and beta (seconds per byte) of each collective from tools/bench/comm_bench.

  tools/scaling_model.py --scaling pretrain.csv --comm comm_bench.txt --dim D --negatives K \
      --relations R [--predict]

Checks the model against the measured runs of tools/scaling.py (every P > 1 of the CSV,
from its P = 1 compute and the comm_bench fit for that P), then, with --predict, gives one
epoch of Freebase-86M (86.1M entities, 304.7M train triples, 14.8K relations, D = 200,
k = 10, 1,000 triples per rank and step) on P = 8, 16, 64 GPUs from the stated GPU assumptions
(--gpu-triples-per-s, and alpha / bandwidth of NVLink within a node and InfiniBand across).
"""
import argparse
import csv
import re
import sys

FREEBASE = {"entities": 86.1e6, "train": 304.7e6, "relations": 14.8e3}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scaling", required=True, help="pretrain.csv of tools/scaling.py")
    p.add_argument("--comm", nargs="+", required=True,
                   help="comm_bench outputs (one per rank count)")
    p.add_argument("--dim", type=int, required=True)
    p.add_argument("--negatives", type=int, required=True)
    p.add_argument("--relations", type=int, required=True)
    p.add_argument("--predict", action="store_true")
    p.add_argument("--gpu-triples-per-s", type=float, default=1e6,
                   help="compute rate of one GPU (assumed, not measured)")
    return p.parse_args()


def read_comm(paths):
    """{(op, ranks): (alpha, beta)} from comm_bench's comment lines."""
    fits = {}
    line = re.compile(r"^# (\w+) on (\d+) rank\(s\), \w+: latency ([\d.]+) us, bandwidth ([\d.]+) GB/s")
    for path in paths:
        for text in open(path):
            m = line.match(text)
            if m:
                fits[(m.group(1), int(m.group(2)))] = (float(m.group(3)) * 1e-6,
                                                       1e-9 / float(m.group(4)))
    return fits


def exchange_seconds(batch, ranks, negatives, dim, relations, a2a, ar):
    per_rank = batch / ranks
    volume = per_rank * (2 + negatives) * (ranks - 1) / ranks * (8 + 8 * dim)
    rows = 3 * a2a[0] + volume * a2a[1]
    reduce = ar[0] + 4 * 2 * relations * dim * ar[1]
    return rows + reduce


def check(args, fits):
    rows = list(csv.DictReader(open(args.scaling)))
    one = [r for r in rows if int(r["ranks"]) == 1]
    if not one or not one[0]["global_batch"]:
        sys.exit("scaling_model: the CSV needs a P = 1 row run with --batch")
    batch = float(one[0]["global_batch"])
    per_triple = sum(float(r["compute_seconds"]) for r in one) / len(one) / batch
    print(f"compute per triple at P = 1: {per_triple * 1e6:.1f} us")
    print("| P | predicted step (s) | measured step (s) | error | predicted exchange | measured exchange + all-reduce |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ranks = int(r["ranks"])
        if ranks == 1:
            continue
        if ("all_to_all", ranks) not in fits or ("all_reduce", ranks) not in fits:
            sys.exit(f"scaling_model: no comm_bench output for {ranks} ranks")
        comm = exchange_seconds(float(r["global_batch"]), ranks, args.negatives, args.dim,
                                args.relations, fits[("all_to_all", ranks)],
                                fits[("all_reduce", ranks)])
        predicted = per_triple * float(r["global_batch"]) / ranks + comm
        measured = float(r["step_seconds"])
        print(f"| {ranks} | {predicted:.4f} | {measured:.4f} | {predicted / measured - 1:+.0%} | "
              f"{comm:.4f} | {float(r['exchange_seconds']) + float(r['all_reduce_seconds']):.4f} |")


def predict(args):
    # NVLink within a node of 8, InfiniBand across nodes (assumed, as in docs/SCALING.md).
    links = {8: (20e-6, 1 / 300e9), 16: (50e-6, 1 / 25e9), 64: (50e-6, 1 / 25e9)}
    dim, k, per_rank = 200, 10, 1000
    print(f"\nFreebase-86M, D = {dim}, k = {k}, {per_rank} triples per rank and step, "
          f"{args.gpu_triples_per_s:.0e} triples/s per GPU (assumed):")
    print("| P | steps per epoch | step (ms) | of it exchange (ms) | epoch (min) | table + Adam per GPU (GB) |")
    print("|---|---|---|---|---|---|")
    for ranks, link in links.items():
        batch = per_rank * ranks
        comm = exchange_seconds(batch, ranks, k, dim, FREEBASE["relations"], link, link)
        step = per_rank / args.gpu_triples_per_s + comm
        steps = FREEBASE["train"] / batch
        memory = FREEBASE["entities"] * (3 * dim * 4 + 8) / ranks / 1e9
        print(f"| {ranks} | {steps:,.0f} | {step * 1e3:.2f} | {comm * 1e3:.2f} | "
              f"{steps * step / 60:.1f} | {memory:.1f} |")


def main():
    args = parse_args()
    fits = read_comm(args.comm)
    check(args, fits)
    if args.predict:
        predict(args)


if __name__ == "__main__":
    main()
