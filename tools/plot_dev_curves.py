#!/usr/bin/python3
"""Dev PR-AUC per epoch of hrere runs trained with a dev split, in one figure and a table.

    python3 tools/plot_dev_curves.py RUN [RUN ...] --out dev.png [--label NAME ...]

Reads the epoch-end lines of RUN/metrics.jsonl (`dev_average_precision`, written when
`train.dev_fraction` > 0) and prints, per run, the dev AP of every epoch, the best epoch and
its dev AP. The seed picks the dev bags: compare runs of one seed, not across seeds.
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def dev_curve(run):
    epochs, scores = [], []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record.get("event") == "epoch_end" and "dev_average_precision" in record:
                epochs.append(record["epoch"])
                scores.append(record["dev_average_precision"])
    if not epochs:
        sys.exit("%s/metrics.jsonl has no dev AP: was it trained with train.dev_fraction > 0?"
                 % run)
    return epochs, scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--label", nargs="*", default=[])
    args = parser.parse_args()
    if args.label and len(args.label) != len(args.runs):
        sys.exit("--label needs one name per run (%d runs, %d labels)"
                 % (len(args.runs), len(args.label)))
    labels = args.label or [os.path.basename(os.path.normpath(r)) for r in args.runs]

    figure, axes = plt.subplots(figsize=(7, 4.5))
    width = max(len(label) for label in labels)
    for run, label in zip(args.runs, labels):
        epochs, scores = dev_curve(run)
        best = max(range(len(scores)), key=lambda i: scores[i])
        axes.plot(epochs, scores, marker="o", markersize=3,
                  label="%s (best %.3f, epoch %d)" % (label, scores[best], epochs[best]))
        print("%-*s  best %.3f at epoch %2d | %s"
              % (width, label, scores[best], epochs[best], " ".join("%.3f" % s for s in scores)))
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("dev PR-AUC (AP)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
