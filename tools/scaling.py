#!/usr/bin/python3
"""A scaling experiment in one command: `hrere pretrain` or `hrere train` over a list of rank
counts P and threads per rank, each for a fixed number of steps, measured by the runs
themselves (metrics.jsonl) and by GNU time (peak resident memory of every rank).

  tools/scaling.py pretrain --prepared DATA --ranks 1 2 --threads 1 --steps 60
  tools/scaling.py train --prepared DATA --ranks 1 2 --threads 1 2 --weak --batch 64 \
      --set train.variant=full --set train.kbe_embeddings=RUN/embeddings.h5

Strong scaling (default) keeps the global batch (`--batch`, else the config's) as P grows;
`--weak` makes `--batch` the batch per rank (global batch = batch x P). Writes to --out:
  MODE.csv          one row per run: throughput (triples/s or bags/s, global), speed-up and
                    efficiency against the first layout (throughput / (P x throughput at that
                    layout's P), ideal 1), the step time and its parts, peak memory per rank;
  MODE_scaling.png  throughput against the ideal, efficiency, the step time by part, peak
                    memory per rank, all against P (one line per threads-per-rank value);
  metrics/          each run's metrics.jsonl (the run folders are removed: a pretraining
                    checkpoint of a large KB is gigabytes).
Step-time parts (seconds per step, over the reports after the first, which is warm-up):
  pretrain: compute (the rest), exchange (entity-row all-to-alls), all_reduce (the other
            collectives: relation gradients, counts), checkpoint (writing checkpoints),
            validation; the start-up (reading the KB, drawing the table) is its own column;
  train:    data (waiting for the loader), compute (forward + backward + optimizer),
            all_reduce (gradients), exchange (entity rows of the joint variants).
Time in a collective includes waiting for the slowest rank.
"""
import argparse
import csv
import getpass
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEAK = re.compile(r"^scaling-peak-kib (\d+)$", re.M)
PARTS = {
    "pretrain": ["compute", "exchange", "all_reduce", "checkpoint", "validation"],
    "train": ["data", "compute", "all_reduce", "exchange"],
}
UNIT = {"pretrain": "triples/s", "train": "bags/s"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["pretrain", "train"])
    p.add_argument("--prepared", required=True, help="a `hrere prepare` output folder")
    p.add_argument("--config", default=os.path.join(ROOT, "configs", "nyt10.yaml"))
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    p.add_argument("--threads", type=int, nargs="+", default=[1], help="threads per rank")
    p.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    p.add_argument("--reports", type=int, default=6, help="metrics lines per run")
    p.add_argument("--batch", type=int, help="global batch; per rank with --weak")
    p.add_argument("--weak", action="store_true", help="batch per rank fixed (weak scaling)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (a GPU per rank)")
    p.add_argument("--repeats", type=int, default=1, help="runs per layout, taken in turn")
    p.add_argument("--launcher", default="mpirun --oversubscribe --bind-to none -np {P}",
                   help="command prefix starting P ranks ({P} is replaced)")
    p.add_argument("--hrere", default=os.path.join(ROOT, "build", "hrere"))
    p.add_argument("--out", default="runs/scaling")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    args = p.parse_args()
    if args.weak and args.batch is None:
        p.error("--weak needs --batch (the batch per rank)")
    if min(args.ranks + args.threads + [args.steps, args.reports]) < 1:
        p.error("--ranks, --threads, --steps and --reports must be positive")
    return args


def launcher(args, ranks):
    command = shlex.split(args.launcher.replace("{P}", str(ranks)))
    if command and os.path.basename(command[0]) == "mpirun" and getpass.getuser() == "root":
        command.insert(1, "--allow-run-as-root")
    return command


def run_one(args, ranks, threads, run_dir):
    section = "kbe" if args.mode == "pretrain" else "train"
    sets = {"data.prepared": args.prepared, f"{section}.threads": threads,
            f"{section}.device": args.device,
            f"{section}.log_every": max(1, args.steps // args.reports)}
    if args.batch is not None:
        sets[f"{section}.batch_size"] = args.batch * (ranks if args.weak else 1)
    command = launcher(args, ranks) + ["/usr/bin/time", "-f", "scaling-peak-kib %M", args.hrere,
                                       args.mode, "--config", args.config]
    for key, value in sets.items():
        command += ["--set", f"{key}={value}"]
    for override in args.overrides:
        command += ["--set", override]
    command += ["--out", run_dir, "--max-steps", str(args.steps)]
    if args.mode == "train":
        command.append("--no-eval")
    print("$ " + " ".join(shlex.quote(c) for c in command), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.exit(f"scaling: the run failed (exit {done.returncode}):\n{done.stdout[-4000:]}")
    peaks = [int(k) / 1024 for k in PEAK.findall(done.stdout)]
    if len(peaks) != ranks:
        sys.exit(f"scaling: {len(peaks)} peak-memory lines from {ranks} ranks:\n{done.stdout[-2000:]}")
    return peaks


def pretrain_row(lines):
    """Per-step parts and throughput over the reports after the first (warm-up)."""
    first, last = lines[0], lines[-1]
    steps = last["step"] - first["step"]
    seconds = last["seconds"] - first["seconds"]
    delta = {k: last.get(k, 0) - first.get(k, 0) for k in
             ["comm_seconds", "exchange_seconds", "checkpoint_seconds", "validation_seconds"]}
    parts = {"exchange": delta["exchange_seconds"],
             "all_reduce": delta["comm_seconds"] - delta["exchange_seconds"],
             "checkpoint": delta["checkpoint_seconds"],
             "validation": delta["validation_seconds"]}
    parts["compute"] = seconds - sum(parts.values())
    rate = sum(l["triples_per_second"] for l in lines[1:]) / (len(lines) - 1)
    return rate, {k: v / steps for k, v in parts.items()}, last.get("startup_seconds", 0)


def train_row(lines):
    steady = lines[1:]
    mean = {k: sum(l["step_seconds"][k] for l in steady) / len(steady)
            for k in ["data", "forward", "backward", "all_reduce", "exchange", "optimizer"]}
    parts = {"data": mean["data"], "all_reduce": mean["all_reduce"], "exchange": mean["exchange"],
             "compute": mean["forward"] + mean["backward"] + mean["optimizer"]}
    rate = sum(l["bags_per_second"] for l in steady) / len(steady)
    return rate, parts, None  # train reports no start-up time


def measure(args):
    rows = []
    metrics_dir = os.path.join(args.out, "metrics")
    os.makedirs(metrics_dir, exist_ok=True)
    layouts = list(itertools.product(args.ranks, args.threads))
    for repeat, (ranks, threads) in itertools.product(range(1, args.repeats + 1), layouts):
        name = f"{args.mode}-P{ranks}-T{threads}-r{repeat}"
        run_dir = os.path.join(args.out, "run-" + name)
        shutil.rmtree(run_dir, ignore_errors=True)
        peaks = run_one(args, ranks, threads, run_dir)
        kept = os.path.join(metrics_dir, name + ".jsonl")
        shutil.copy(os.path.join(run_dir, "metrics.jsonl"), kept)
        shutil.rmtree(run_dir)
        key = "triples_per_second" if args.mode == "pretrain" else "step_seconds"
        lines = [json.loads(l) for l in open(kept)]
        lines = [l for l in lines if key in l]
        if len(lines) < 2:
            sys.exit(f"scaling: {kept} has {len(lines)} step reports; raise --steps or --reports")
        rate, parts, startup = (pretrain_row if args.mode == "pretrain" else train_row)(lines)
        row = {"mode": args.mode, "scaling": "weak" if args.weak else "strong", "ranks": ranks,
               "threads": threads, "repeat": repeat, "device": args.device,
               "global_batch": "" if args.batch is None else args.batch * (ranks if args.weak else 1),
               "throughput": rate, "unit": UNIT[args.mode],
               "step_seconds": sum(parts.values()), "startup_seconds": startup,
               "peak_mib_max": max(peaks), "peak_mib_mean": sum(peaks) / len(peaks)}
        row.update({f"{part}_seconds": parts[part] for part in PARTS[args.mode]})
        rows.append(row)
        print(f"  {name}: {rate:.0f} {UNIT[args.mode]}, step {row['step_seconds']:.4f} s, "
              f"peak {max(peaks):.0f} MiB per rank", flush=True)
    # Speed-up and efficiency against the first layout (its mean over the repeats).
    base = [r for r in rows if (r["ranks"], r["threads"]) == layouts[0]]
    base_rate = sum(r["throughput"] for r in base) / len(base)
    for r in rows:
        r["speedup"] = r["throughput"] / base_rate
        r["efficiency"] = r["speedup"] * layouts[0][0] / r["ranks"]
    return rows


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)


def mean_by_layout(rows, field):
    """{threads: [(ranks, mean of field over the repeats)]}, sorted by ranks."""
    groups = {}
    for r in rows:
        groups.setdefault((r["threads"], r["ranks"]), []).append(r[field])
    lines = {}
    for (threads, ranks), values in sorted(groups.items()):
        lines.setdefault(threads, []).append((ranks, sum(values) / len(values)))
    return lines


def plot(rows, mode, path):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    scaling = rows[0]["scaling"]
    ax = axes[0][0]
    for threads, points in mean_by_layout(rows, "throughput").items():
        ranks = [p for p, _ in points]
        ax.plot(ranks, [v for _, v in points], "o-", label=f"{threads} thread(s) per rank")
        base_ranks, base = points[0]
        ax.plot(ranks, [base * p / base_ranks for p in ranks], ":", color="gray")
    ax.set(title=f"{mode}, {scaling} scaling (dotted: ideal)", xlabel="ranks P",
           ylabel=UNIT[mode])
    ax.legend()
    ax = axes[0][1]
    for threads, points in mean_by_layout(rows, "efficiency").items():
        ax.plot([p for p, _ in points], [v for _, v in points], "o-", label=f"{threads} thread(s)")
    ax.axhline(1, color="gray", linestyle=":")
    ax.set(title="efficiency: throughput / (P x first layout's per rank)", xlabel="ranks P",
           ylim=(0, 1.2))
    ax.legend()
    ax = axes[1][0]
    layouts = sorted({(r["ranks"], r["threads"]) for r in rows})
    bottom = [0.0] * len(layouts)
    for part in PARTS[mode]:
        heights = []
        for ranks, threads in layouts:
            values = [r[f"{part}_seconds"] for r in rows if (r["ranks"], r["threads"]) == (ranks, threads)]
            heights.append(sum(values) / len(values))
        ax.bar(range(len(layouts)), heights, bottom=bottom, label=part)
        bottom = [b + h for b, h in zip(bottom, heights)]
    ax.set_xticks(range(len(layouts)), [f"P={p}\nT={t}" for p, t in layouts])
    ax.set(title="step time by part", ylabel="seconds per step")
    ax.legend()
    ax = axes[1][1]
    for threads, points in mean_by_layout(rows, "peak_mib_max").items():
        ax.plot([p for p, _ in points], [v for _, v in points], "o-", label=f"{threads} thread(s)")
    ax.set(title="peak resident memory of the largest rank", xlabel="ranks P", ylabel="MiB",
           ylim=(0, None))
    ax.legend()
    for ax in (axes[0][0], axes[0][1], axes[1][1]):
        ax.set_xticks(sorted({r["ranks"] for r in rows}))
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = measure(args)
    csv_path = os.path.join(args.out, f"{args.mode}.csv")
    png_path = os.path.join(args.out, f"{args.mode}_scaling.png")
    write_csv(rows, csv_path)
    plot(rows, args.mode, png_path)
    print(f"wrote {csv_path} and {png_path}")


if __name__ == "__main__":
    main()
