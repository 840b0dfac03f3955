"""tools/compare_runs.py on hand-made run folders with known figures: the per-row mean and
population std, the per-run table with the best dev epoch, differences paired by seed (not
by order), and clear errors for a missing evaluation or an unknown --pair row."""
import json
import os
import subprocess
import sys
import tempfile

tool = sys.argv[1]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def make_run(folder, seed, ap, p10, dev_curve):
    os.makedirs(os.path.join(folder, "eval"))
    with open(os.path.join(folder, "config.yaml"), "w") as f:
        # kbe.seed comes first, as in hrere's resolved config: only train.seed may be read.
        f.write("kbe:\n  seed: 1\ntrain:\n  variant: base\n  seed: %d\n" % seed)
    summary = {"sentence": {"p_at_percent": {"10": p10, "30": 0.5, "50": 0.4},
                            "average_precision": ap},
               "pair": {"auc": 0.3}}
    with open(os.path.join(folder, "eval", "summary.json"), "w") as f:
        json.dump(summary, f)
    with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
        for epoch, dev in enumerate(dev_curve, start=1):
            f.write(json.dumps({"event": "interval", "epoch": epoch}) + "\n")
            f.write(json.dumps({"event": "epoch_end", "epoch": epoch,
                                "dev_average_precision": dev}) + "\n")


def run(*args):
    return subprocess.run([sys.executable, tool, *args], capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    # Folder names sort the seeds of row b in the opposite order from row a.
    make_run(os.path.join(tmp, "a-1"), 2017, 0.50, 0.80, [0.1, 0.3, 0.2])
    make_run(os.path.join(tmp, "a-2"), 2018, 0.60, 0.90, [0.4, 0.5])
    make_run(os.path.join(tmp, "b-1"), 2018, 0.55, 0.90, [0.2])
    make_run(os.path.join(tmp, "b-2"), 2017, 0.40, 0.70, [0.3, 0.1])

    result = run("a=" + os.path.join(tmp, "a-*"), "b=%s,%s" % (os.path.join(tmp, "b-1"),
                                                              os.path.join(tmp, "b-2")),
                 "--pair", "a", "b")
    out = result.stdout
    check(result.returncode == 0, "exit %d: %s" % (result.returncode, result.stderr))
    check("| a | 2 | 0.850 ± 0.050 | 0.500 ± 0.000 | 0.400 ± 0.000 | 0.550 ± 0.050 | "
          "0.300 ± 0.000 |" in out, "row a's mean and std:\n" + out)
    check("| b | 2 | 0.800 ± 0.100 |" in out and "| 0.475 ± 0.075 |" in out,
          "row b's mean and std:\n" + out)
    check("| a | 2017 | 0.800 | 0.500 | 0.400 | 0.500 | 0.300 | 2 (3) | 0.300 |" in out,
          "a run with its best dev epoch and epochs run:\n" + out)
    # Paired by seed: a(2017) - b(2017) = 0.10 and a(2018) - b(2018) = 0.05 in AP.
    check("a - b, paired by seed (2017, 2018):" in out, "the pairing's seeds:\n" + out)
    check("- PR-AUC (AP): +0.075 ± 0.025 (+0.100, +0.050)" in out,
          "the paired AP differences:\n" + out)
    check("- P@10%: +0.050 ± 0.050 (+0.100, +0.000)" in out,
          "the paired P@10% differences:\n" + out)

    os.remove(os.path.join(tmp, "b-1", "eval", "summary.json"))
    result = run("b=" + os.path.join(tmp, "b-*"))
    check(result.returncode != 0 and "b-1: no eval/summary.json" in result.stderr,
          "an unevaluated run is an error naming it: " + result.stderr)
    result = run("a=" + os.path.join(tmp, "a-*"), "--pair", "a", "c")
    check(result.returncode != 0 and "no row named 'c'" in result.stderr,
          "an unknown --pair row is an error: " + result.stderr)
    result = run("a=" + os.path.join(tmp, "missing-*"))
    check(result.returncode != 0 and "no run folder matches" in result.stderr,
          "a pattern matching nothing is an error: " + result.stderr)

if failures:
    print("FAIL:\n" + "\n".join(failures))
    sys.exit(1)
print("compare_runs.py: means, runs, paired differences and errors as expected")
