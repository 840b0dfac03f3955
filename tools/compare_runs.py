#!/usr/bin/python3
"""Test figures of groups of hrere runs over seeds, and paired differences between groups.

    python3 tools/compare_runs.py ROW=RUNS [ROW=RUNS ...] [--pair A B ...] [--summary PATH]

Each ROW names a group of run folders, one per seed: RUNS is a comma-separated list of
folders or quoted globs (`'base=runs/t2-base-*'`). Prints, as markdown: the mean +- std
(population) of the sentence protocol's P@10/30/50% and PR-AUC (AP) and the pair protocol's
AUC per row; every run's figures with its seed, its best dev epoch and dev AP (runs trained
with train.dev_fraction) and the epochs it ran; and for each --pair A B the differences
A - B of runs with the same seed: mean +- std over seeds, the per-seed values, and a
two-sided paired t-test's p (scipy, where installed). --summary
reads another evaluation of the runs (default eval/summary.json; `hrere eval --pairs F`
writes eval/STEM/summary.json).
"""
import argparse
import glob
import json
import math
import os
import statistics
import sys

METRICS = [("P@10%", ("sentence", "p_at_percent", "10")),
           ("P@30%", ("sentence", "p_at_percent", "30")),
           ("P@50%", ("sentence", "p_at_percent", "50")),
           ("PR-AUC (AP)", ("sentence", "average_precision")),
           ("pair AUC", ("pair", "auc"))]


def train_seed(run):
    """train.seed from the config.yaml hrere writes into every run folder."""
    section = None
    with open(os.path.join(run, "config.yaml")) as f:
        for line in f:
            if line[:1].isalpha():
                section = line.split(":")[0]
            elif section == "train" and line.strip().startswith("seed:"):
                return int(line.split(":")[1])
    sys.exit("%s/config.yaml has no train.seed" % run)


def read_run(run, summary_path):
    if not os.path.isfile(os.path.join(run, summary_path)):
        sys.exit("%s: no %s (a run not finished, or not evaluated)" % (run, summary_path))
    with open(os.path.join(run, summary_path)) as f:
        summary = json.load(f)
    figures = {}
    for name, keys in METRICS:
        value = summary
        for key in keys:
            value = value[key]
        figures[name] = value
    epochs, dev = [], []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record.get("event") == "epoch_end":
                epochs.append(record["epoch"])
                if "dev_average_precision" in record:
                    dev.append((record["dev_average_precision"], record["epoch"]))
    best = max(dev) if dev else None
    return {"run": run, "seed": train_seed(run), "figures": figures, "best_dev": best,
            "epochs_run": max(epochs) if epochs else 0}


def mean_std(values):
    return "%.3f ± %.3f" % (statistics.mean(values), statistics.pstdev(values))


def paired_p(differences):
    """Two-sided paired t-test p, or None without scipy or with fewer than 2 pairs."""
    if len(differences) < 2:
        return None
    try:
        from scipy import stats
    except ImportError:
        return None
    sd = statistics.stdev(differences)
    if sd == 0:  # every pair differs by the same amount: no difference at all, or a sure one
        return 1.0 if differences[0] == 0 else 0.0
    t = statistics.mean(differences) / (sd / math.sqrt(len(differences)))
    return 2 * stats.t.sf(abs(t), len(differences) - 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="ROW=RUNS")
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("A", "B"))
    parser.add_argument("--summary", default=os.path.join("eval", "summary.json"))
    args = parser.parse_args()
    rows = {}
    for spec in args.rows:
        name, sep, runs = spec.partition("=")
        if not sep or not runs:
            sys.exit("'%s': expected ROW=RUNS" % spec)
        folders = [f for part in runs.split(",") for f in sorted(glob.glob(part))]
        if not folders:
            sys.exit("'%s': no run folder matches" % spec)
        rows[name] = [read_run(f, args.summary) for f in folders]
    for a, b in args.pair:
        for row in (a, b):
            if row not in rows:
                sys.exit("--pair: no row named '%s'" % row)

    names = [m for m, _ in METRICS]
    print("| row | seeds | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for row, runs in rows.items():
        cells = [mean_std([r["figures"][m] for r in runs]) for m in names]
        print("| %s | %d | %s |" % (row, len(runs), " | ".join(cells)))

    print("\n| row | seed | " + " | ".join(names) + " | best dev epoch (epochs run) | dev AP |")
    print("|---" * (len(names) + 4) + "|")
    for row, runs in rows.items():
        for r in sorted(runs, key=lambda r: r["seed"]):
            cells = ["%.3f" % r["figures"][m] for m in names]
            if r["best_dev"]:
                dev = "%d (%d) | %.3f" % (r["best_dev"][1], r["epochs_run"], r["best_dev"][0])
            else:
                dev = "- (%d) | -" % r["epochs_run"]
            print("| %s | %d | %s | %s |" % (row, r["seed"], " | ".join(cells), dev))

    for a, b in args.pair:
        by_seed = {r["seed"]: r for r in rows[b]}
        pairs = [(r, by_seed[r["seed"]]) for r in sorted(rows[a], key=lambda r: r["seed"])
                 if r["seed"] in by_seed]
        if not pairs:
            print("\n%s - %s: no seed in common" % (a, b))
            continue
        seeds = ", ".join(str(x["seed"]) for x, _ in pairs)
        print("\n%s - %s, paired by seed (%s):" % (a, b, seeds))
        for m in names:
            d = [x["figures"][m] - y["figures"][m] for x, y in pairs]
            p = paired_p(d)
            print("- %s: %+.3f ± %.3f (%s)%s" % (
                m, statistics.mean(d), statistics.pstdev(d), ", ".join("%+.3f" % v for v in d),
                "" if p is None else "; paired t-test p = %.3f" % p))


if __name__ == "__main__":
    main()
