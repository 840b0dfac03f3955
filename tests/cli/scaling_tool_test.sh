#!/usr/bin/env bash
# tools/scaling.py end to end on the default data: pretrain (strong scaling) and train (weak
# scaling) at P = 1 and 2 for a few steps. The CSV has a row per layout with the run's own
# numbers (throughput, step-time parts, one peak per rank), the plots are PNGs, and a bad
# request or a failing run is an error that says why.
set -euo pipefail
hrere=$1 prepared=$2
python=${HRERE_PYTHON:-/usr/bin/python3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$python" tools/scaling.py pretrain --hrere "$hrere" --prepared "$prepared" --ranks 1 2 \
  --steps 8 --reports 4 --set kbe.dim=16 --set kbe.eval_every=0 --set kbe.batch_size=200 \
  --out "$out" >"$out/pretrain.log"
"$python" tools/scaling.py train --hrere "$hrere" --prepared "$prepared" --ranks 1 2 \
  --steps 6 --reports 3 --weak --batch 4 --set train.variant=base --out "$out" >"$out/train.log"

"$python" - "$out" <<'PY'
import csv, os, sys
out = sys.argv[1]
for mode, parts in [("pretrain", ["compute", "exchange", "all_reduce", "checkpoint", "validation"]),
                    ("train", ["data", "compute", "all_reduce", "exchange"])]:
    rows = list(csv.DictReader(open(os.path.join(out, mode + ".csv"))))
    assert [int(r["ranks"]) for r in rows] == [1, 2], rows
    for r in rows:
        step = float(r["step_seconds"])
        assert float(r["throughput"]) > 0 and step > 0, r
        assert abs(sum(float(r[p + "_seconds"]) for p in parts) - step) < 1e-6 * step, r
        assert float(r["compute_seconds"]) > 0, r
        assert float(r["peak_mib_max"]) >= float(r["peak_mib_mean"]) > 100, r
    assert float(rows[0]["speedup"]) == 1.0 and float(rows[0]["efficiency"]) == 1.0, rows[0]
    one, two = rows
    assert abs(float(two["efficiency"]) - float(two["throughput"]) / (2 * float(one["throughput"]))) < 1e-9
    png = open(os.path.join(out, mode + "_scaling.png"), "rb").read(8)
    assert png == b"\x89PNG\r\n\x1a\n", png
    assert len(os.listdir(os.path.join(out, "metrics"))) >= 2
pre = list(csv.DictReader(open(os.path.join(out, "pretrain.csv"))))
# One rank exchanges nothing; two exchange entity rows every step.
assert float(pre[0]["exchange_seconds"]) == 0 and float(pre[1]["exchange_seconds"]) > 0, pre
assert float(pre[0]["startup_seconds"]) > 0, pre[0]
train = list(csv.DictReader(open(os.path.join(out, "train.csv"))))
assert [r["global_batch"] for r in train] == ["4", "8"], train  # weak: 4 bags per rank
assert not any(name.startswith("run-") for name in os.listdir(out))  # run folders removed
print("scaling tool: CSV and plots checked")
PY

expect_failure() {  # expect_failure MESSAGE ARGS...: a non-zero exit whose output names MESSAGE
  local message=$1
  shift
  if "$python" tools/scaling.py "$@" >"$out/failure.log" 2>&1; then
    echo "FAIL: tools/scaling.py $* succeeded"
    exit 1
  fi
  grep -q -- "$message" "$out/failure.log" || { cat "$out/failure.log"; exit 1; }
}
expect_failure "--weak needs --batch" train --prepared "$prepared" --weak
expect_failure "unknown key" pretrain --hrere "$hrere" --prepared "$prepared" --ranks 1 \
  --set kbe.no_such_key=1 --out "$out/bad"
echo "scaling tool test passed"
