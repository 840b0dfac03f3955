#!/usr/bin/env bash
# The Slurm templates over two nodes: hosts in network namespaces (tools/netns_hosts.sh),
# one slurmd on each, slurmctld on this machine (tests/slurm/cluster.sh), on a tiny synthetic
# world:
#   - launch/pretrain.sbatch with --nodes=2, two tasks a node: its ranks sit on both nodes
#     and its epoch losses equal a 4-rank mpirun on one host;
#   - launch/train.sbatch with --nodes=2 and a one-minute time limit that ends it mid-run
#     (state TIMEOUT); the same command resubmitted resumes from the last checkpoint on both
#     nodes and finishes.
# Usage: slurm_nodes_test.sh HRERE_BINARY [NET]  (exit 77: cannot run here, see stderr)
set -u
hrere=$(realpath "${1:?usage: slurm_nodes_test.sh HRERE_BINARY [NET]}")
net=${2:-32}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
skip() { echo "slurm_nodes_test: SKIP: $*" >&2; exit 77; }
source tests/slurm/cluster.sh
cluster_can_run || skip "$cluster_why"
source tests/multihost/hosts.sh
before_hosts_down=stop_cluster
make_hosts "ms$net" "$net" "$hrere"

start_cluster "$work/cluster" "10.213.$net.254" \
  "${prefix}1:10.213.$net.1:$hosts run ${prefix}1" \
  "${prefix}2:10.213.$net.2:$hosts run ${prefix}2" || exit 1

export HRERE_BIN=$hrere

# submit NAME TEMPLATE SBATCH_OPTIONS... -- ARGS...: runs TEMPLATE as job NAME over both
# nodes, two 1-CPU tasks on each, and waits; prints the job's output and its Slurm state.
submit() {
  local name=$1 template=$2 options=()
  shift 2
  while [ "$1" != -- ]; do options+=("$1"); shift; done
  shift
  local job
  job=$(sbatch --wait --parsable --nodes=2 --ntasks-per-node=2 --cpus-per-task=1 \
    --job-name="$name" --output="$work/$name.out" "${options[@]}" "$template" "$@" 2>&1)
  echo "sbatch --wait: exit $? (job $job)"
  # sbatch --wait can return while the job is still COMPLETING (its steps being cleaned up);
  # the final state (COMPLETED, TIMEOUT, ...) follows within seconds.
  local state
  for _ in $(seq 60); do
    state=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*')
    [ "$state" != JobState=COMPLETING ] && break
    sleep 0.5
  done
  echo "state: $state"
  cat "$work/$name.out"
}
epoch_losses() {
  python3 -c '
import json, sys
for m in map(json.loads, open(sys.argv[1] + "/metrics.jsonl")):
    if m.get("event") == "epoch_end":
        print(m["epoch"], "%.6g" % m["loss"])' "$1"
}

kbe=(--set "data.prepared=$work/data" --set kbe.dim=8 --set kbe.epochs=2 --set kbe.batch_size=500
     --set kbe.eval_candidates=50 --set kbe.eval_max_triples=40
     --set dist.heartbeat_s=0.5 --set dist.lost_after_s=5)
expect pretrain-2-nodes 0 "pretrained 2 epochs on 4 rank" -- \
  submit pretrain launch/pretrain.sbatch --time=5 -- configs/synth.yaml "$work/kbe" "${kbe[@]}"
expect pretrain-ranks-on-both-nodes 0 "^2 ${prefix}1 2 ${prefix}2$" -- rank_hosts "$work/kbe"
mpirun --allow-run-as-root --oversubscribe -np 4 launch/hrere-rank.sh "$hrere" pretrain \
  --config configs/synth.yaml --out "$work/kbe-one" "${kbe[@]}" --set kbe.threads=1 >/dev/null 2>&1
same_losses() { [ -n "$(epoch_losses "$1")" ] && [ "$(epoch_losses "$1")" = "$(epoch_losses "$2")" ] && echo same; }
expect pretrain-2-nodes-equals-one-host 0 "^same$" -- same_losses "$work/kbe" "$work/kbe-one"

# A run far longer than the limit, checkpointed every 10 steps; Slurm ends it at 1 minute.
tiny=(--set "data.prepared=$work/data" --set train.variant=base --set train.epochs=500
      --set train.batch_size=32 --set model.word_dim=8 --set model.position_dim=2
      --set model.lstm_hidden=8 --set model.classifier_hidden=8 --set train.checkpoint_every=10
      --set dist.heartbeat_s=0.5 --set dist.lost_after_s=5)
expect train-time-limit 0 "state: JobState=TIMEOUT" -- \
  submit train-limited launch/train.sbatch --time=1 -- configs/synth.yaml "$work/run" "${tiny[@]}" --no-eval
expect train-time-limit-checkpoint 0 "step-" -- ls "$work/run/checkpoints"
# Resubmitted: resumes on both nodes; 20 more steps (--max-steps) so it ends in seconds.
submit train-resumed launch/train.sbatch --time=5 -- configs/synth.yaml "$work/run" \
  --no-eval --max-steps 20 >"$work/resumed.txt" 2>&1
expect train-resubmitted-completes 0 "state: JobState=COMPLETED" -- cat "$work/resumed.txt"
expect train-resubmitted-resumes 0 "resuming .*step-[0-9]+ at step [0-9]+" -- cat "$work/resumed.txt"
expect train-resubmitted-on-4-ranks 0 "data parallel: 4 ranks" -- cat "$work/resumed.txt"
expect train-resubmitted-steps 0 "stopped after 20 steps \(--max-steps\)" -- cat "$work/resumed.txt"
expect train-ranks-on-both-nodes 0 "^2 ${prefix}1 2 ${prefix}2$" -- rank_hosts "$work/run"
[ "$failed" -eq 0 ] || cluster_logs
finish
