#!/usr/bin/python3
"""Precision/recall curves of one or more hrere runs in one figure (as the paper's Figure 2).

    python3 tools/plot_pr.py RUN [RUN ...] --out pr.png [--protocol sentence|pair]
                             [--label NAME ...]

Reads RUN/eval/pr_<protocol>.csv (written by `hrere eval`) and RUN/eval/summary.json for the
legend; `hrere eval` calls this for its own run.
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def read_curve(run, protocol):
    path = os.path.join(run, "eval", "pr_%s.csv" % protocol)
    recall, precision = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            recall.append(float(row["recall"]))
            precision.append(float(row["precision"]))
    return recall, precision


def legend_score(run, protocol):
    with open(os.path.join(run, "eval", "summary.json")) as f:
        summary = json.load(f)[protocol]
    key = "average_precision" if protocol == "sentence" else "auc"
    return "%s %.3f" % ("AP" if protocol == "sentence" else "AUC", summary[key])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders evaluated by hrere eval")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--protocol", choices=["sentence", "pair"], default="sentence")
    parser.add_argument("--label", action="append", help="legend name per run (default: folder)")
    args = parser.parse_args()
    labels = args.label or [os.path.basename(os.path.normpath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        sys.exit("plot_pr: give one --label per run")

    plt.figure(figsize=(6, 4.5), dpi=120)
    for run, label in zip(args.runs, labels):
        try:
            recall, precision = read_curve(run, args.protocol)
            score = legend_score(run, args.protocol)
        except (OSError, KeyError, ValueError) as e:
            sys.exit("plot_pr: %s: %s (run `hrere eval --run %s` first)" % (run, e, run))
        plt.plot(recall, precision, label="%s (%s)" % (label, score), linewidth=1.5)
    plt.xlabel("Recall")
    plt.ylabel("Precision")
    plt.xlim(0, 1)
    plt.ylim(0, 1.02)
    plt.grid(alpha=0.3)
    plt.title("Held-out precision/recall (%s protocol)" % args.protocol)
    plt.legend(loc="upper right", fontsize=8)
    plt.tight_layout()
    plt.savefig(args.out)


if __name__ == "__main__":
    main()
