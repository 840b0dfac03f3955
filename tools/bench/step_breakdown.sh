#!/usr/bin/env bash
# Where a data-parallel training step spends its time, at 1 and 2 ranks, measured by
# `hrere train` itself (the step_seconds of metrics.jsonl, rank 0's view): data (waiting for
# the loader), forward, backward, gradient all-reduce, entity-row exchange, optimizer.
#
#   tools/bench/step_breakdown.sh PREPARED_DIR KBE_EMBEDDINGS [STEPS] [--set key=value ...]
#
# Runs the variant `full` (Table 1 sizes, global batch 128 unless overridden) for STEPS steps
# (default 40; the first log interval is warm-up and left out) as: 1 rank x 1 thread,
# 1 rank x 2 threads and 2 ranks x 1 thread. Scaling efficiency = speed at P ranks /
# (P x speed at 1 rank), both with one thread per rank. REPEATS=K (default 2) runs the three
# layouts K times in turn, so a noisy minute of a shared machine hits all of them; the
# table averages the repeats. OVERLAP_COMPARE=1 adds 2 ranks x 1 thread with
# dist.overlap=false (the gradient all-reduce after backward instead of during it).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$1 kbe=$2 steps=${3:-40}
shift $(( $# >= 3 ? 3 : 2 ))
hrere=${HRERE:-build/hrere}
mpi=(mpirun --oversubscribe --bind-to none)  # Open MPI binds 1-2 ranks to one core each by default
[ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
layouts=("1 1 true" "1 2 true" "2 1 true")
[ -n "${OVERLAP_COMPARE:-}" ] && layouts+=("2 1 false")
for repeat in $(seq "${REPEATS:-2}"); do
  for layout in "${layouts[@]}"; do
    read -r ranks threads overlap <<<"$layout"
    "${mpi[@]}" -np "$ranks" "$hrere" train --config configs/nyt10.yaml --set "data.prepared=$data" \
      --set train.variant=full --set "train.kbe_embeddings=$kbe" --set "train.threads=$threads" \
      --set train.log_every=10 --set "dist.overlap=$overlap" "$@" --max-steps "$steps" --no-eval \
      --out "$out/ranks$ranks-threads$threads-overlap$overlap/$repeat" >/dev/null 2>&1
  done
done
/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, sys
parts = ["data", "forward", "backward", "all_reduce", "exchange", "optimizer"]
rows = {}
for run in sorted(glob.glob(os.path.join(sys.argv[1], "ranks*"))):
    lines = []
    for repeat in glob.glob(os.path.join(run, "*", "metrics.jsonl")):
        timed = [json.loads(l) for l in open(repeat)]
        lines += [l for l in timed if "step_seconds" in l][1:]  # the first interval warms up
    n = len(lines)
    mean = {p: sum(l["step_seconds"][p] for l in lines) / n for p in parts}
    bags = sum(l["bags_per_second"] for l in lines) / n
    rows[os.path.basename(run)] = (lines[0]["ranks"], mean, bags)
print("| ranks x threads | overlap | " + " | ".join(parts) + " | step (s) | bags/s |")
print("|---" * (len(parts) + 4) + "|")
for name, (ranks, mean, bags) in rows.items():
    threads, overlap = name.split("threads")[1].split("-overlap")
    cells = " | ".join("%.4f" % mean[p] for p in parts)
    print("| %d x %s | %s | %s | %.4f | %.1f |" % (ranks, threads, overlap, cells,
                                                  sum(mean.values()), bags))
one, two = rows["ranks1-threads1-overlaptrue"][2], rows["ranks2-threads1-overlaptrue"][2]
print("\nscaling efficiency at 2 ranks (1 thread each): %.2f (speed-up %.2f)" % (two / (2 * one), two / one))
print("2 ranks x 1 thread vs 1 rank x 2 threads: %.2f" % (two / rows["ranks1-threads2-overlaptrue"][2]))
if "ranks2-threads1-overlapfalse" in rows:
    after = rows["ranks2-threads1-overlapfalse"]
    print("2 ranks, overlap on vs off: %.3f x the bags/s; all-reduce %.4f vs %.4f s per step"
          % (two / after[2], rows["ranks2-threads1-overlaptrue"][1]["all_reduce"],
             after[1]["all_reduce"]))
PY
