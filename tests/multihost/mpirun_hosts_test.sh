#!/usr/bin/env bash
# hrere under mpirun across two hosts (network namespaces made by tools/netns_hosts.sh):
# Open MPI launched with a hostfile and an rsh agent standing in for ssh, TCP between the
# hosts (shared memory only within one), on a tiny synthetic world.
#   - pretrain and train at P = 2 (one rank a host) and P = 4 (two a host) give the same
#     epoch losses and held-out scores as the same P on one host;
#   - a run folder that is not shared (under /tmp, each host's own) stops every rank at
#     start, naming the ranks that cannot see it;
#   - faults after a checkpoint of a 4-rank training: host 2's link cut, host 2's ranks
#     stopped (SIGSTOP), host 2's ranks killed. Every rank must be gone within
#     dist.lost_after_s (5 s) + 25 s, mpirun ended non-zero in that time (except after the
#     cut: mpirun then waits for host 2's Open MPI daemon until TCP gives up, minutes; the
#     test kills it), and the checkpoint must resume.
# At the end it prints whether each run equalled one host exactly and the seconds each
# fault took to end the ranks and mpirun.
# Usage: mpirun_hosts_test.sh HRERE_BINARY [NET]  (exit 77: cannot make hosts here)
# NET (default 31) picks the hosts' subnet 10.213.NET.0/24 and their names.
set -u
hrere=$(realpath "${1:?usage: mpirun_hosts_test.sh HRERE_BINARY [NET]}")
net=${2:-31}
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
skip() { echo "mpirun_hosts_test: SKIP: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root to make network namespaces"
command -v mpirun >/dev/null || skip "mpirun not found"
source tests/multihost/hosts.sh
make_hosts "mh$net" "$net" "$hrere"

# on_hosts NP PER_HOST COMMAND...: COMMAND as NP ranks, PER_HOST on each host, mpirun on
# host 1. The rsh agent enters host 2; TCP over the hosts' eth0 only.
on_hosts() {
  local np=$1 per_host=$2
  shift 2
  printf '%s1 slots=%s\n%s2 slots=%s\n' "$prefix" "$per_host" "$prefix" "$per_host" \
    >"$work/hostfile"
  "$hosts" run "${prefix}1" mpirun --allow-run-as-root -np "$np" --hostfile "$work/hostfile" \
    --mca plm_rsh_agent "$repo/$hosts rsh" --mca btl self,vader,tcp \
    --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 \
    launch/hrere-rank.sh "$@"
}
# on_one_host NP COMMAND...: the same ranks on this machine.
on_one_host() {
  local np=$1
  shift
  mpirun --allow-run-as-root --oversubscribe -np "$np" launch/hrere-rank.sh "$@"
}

dist=(--set dist.heartbeat_s=0.5 --set dist.lost_after_s=5)
kbe=(pretrain --config configs/synth.yaml --set "data.prepared=$work/data" --set kbe.dim=8
     --set kbe.epochs=2 --set kbe.batch_size=500 --set kbe.threads=1 --set kbe.entity_tanh=true
     --set kbe.eval_candidates=50 --set kbe.eval_max_triples=40 "${dist[@]}")
tiny=(train --config configs/synth.yaml --set "data.prepared=$work/data" --set train.variant=base
      --set train.epochs=2 --set train.batch_size=32 --set train.threads=1
      --set model.word_dim=8 --set model.position_dim=2 --set model.lstm_hidden=8
      --set model.classifier_hidden=8 "${dist[@]}")

# same_run A B: the same logged losses (relative 1e-6) and, for train, held-out scores (1e-6).
same_run() {
  python3 - "$1" "$2" <<'PY'
import json, math, os, sys
def epochs(run):
    return [(m.get("step", m.get("epoch")), m["loss"])
            for m in map(json.loads, open(run + "/metrics.jsonl")) if "loss" in m]
a, b = sys.argv[1:]
ea, eb = epochs(a), epochs(b)
assert ea and len(ea) == len(eb), (ea, eb)
for (n, x), (m, y) in zip(ea, eb):
    assert n == m and math.isclose(x, y, rel_tol=1e-6), ("step or epoch", n, x, y)
summary = "/eval/summary.json"
if os.path.exists(a + summary):
    sa, sb = (json.load(open(r + summary))["sentence"] for r in (a, b))
    assert abs(sa["average_precision"] - sb["average_precision"]) < 1e-6, (sa, sb)
print("same as one host:", "identical" if ea == eb else "within 1e-6", ea)
PY
}

# A command (kbe or tiny) at P = 2 and 4 over the hosts, then on one host.
for np in 2 4; do
  per_host=$((np / 2))
  for command in kbe tiny; do
    declare -n args=$command
    name=${args[0]}-$np
    expect "$name-ranks-on-2-hosts" 0 "(pretrained 2 epochs on|data parallel:) $np rank" -- \
      on_hosts "$np" "$per_host" "$hrere" "${args[@]}" --out "$work/$name-hosts"
    expect "$name-ranks-placed" 0 "^$per_host ${prefix}1 $per_host ${prefix}2$" -- \
      rank_hosts "$work/$name-hosts"
    on_one_host "$np" "$hrere" "${args[@]}" --out "$work/$name-one" >/dev/null 2>&1
    expect "$name-ranks-equal" 0 "same as one host" -- same_run "$work/$name-hosts" "$work/$name-one"
    echo "${args[0]} P=$np: $(same_run "$work/$name-hosts" "$work/$name-one" 2>&1 | cut -c1-40)" \
      >>"$work/summary.txt"
    unset -n args
  done
done

# --out under /tmp: a node-local folder, each host sees its own.
expect run-folder-not-shared 2 "run folder /tmp/run is not shared by all ranks: rank\(s\) 1 do not see" -- \
  on_hosts 2 1 "$hrere" "${tiny[@]}" --set dist.lost_after_s=3 --out /tmp/run

# hrere processes still on host 2 (ranks, not Open MPI's daemon).
ranks_on_host2() {
  "$hosts" pids "$prefix" | while read -r host pid; do
    [ "$host" = "${prefix}2" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = hrere ] && echo "$pid"
  done
}
ranks_left() {
  "$hosts" pids "$prefix" | while read -r _ pid; do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = hrere ] && echo "$pid"
  done
}
# fault NAME ACTION [mpirun-may-hang]: a 4-rank training over both hosts, ACTION (a
# function) once its step-20 checkpoint exists; then every rank must be gone within 30 s,
# and mpirun too, exited non-zero, unless the third argument says it may hang. Prints
# "fault NAME: ..." with the seconds it took.
fault() {
  local name=$1 action=$2 may_hang=${3:-} run=$work/$1
  on_hosts 4 2 "$hrere" "${tiny[@]}" --set train.epochs=500 --set train.checkpoint_every=20 \
    --no-eval --out "$run" >"$run.log" 2>&1 &
  local job=$! _
  for _ in $(seq 600); do [ -d "$run/checkpoints/step-0000000020" ] && break; sleep 0.1; done
  [ -d "$run/checkpoints/step-0000000020" ] || { echo "no checkpoint in 60 s"; cat "$run.log"; return 1; }
  local start=$SECONDS ranks_gone=
  "$action"
  for _ in $(seq 300); do
    [ -z "$ranks_gone" ] && [ -z "$(ranks_left)" ] && ranks_gone=$((SECONDS - start))
    kill -0 "$job" 2>/dev/null || break
    [ -n "$may_hang" ] && [ -n "$ranks_gone" ] && [ $((SECONDS - start)) -gt $((ranks_gone + 5)) ] && break
    sleep 0.1
  done
  local job_s=$((SECONDS - start)) rc=running
  if kill -0 "$job" 2>/dev/null; then
    kill -9 "$job"
  else
    wait "$job"
    rc=$?
  fi
  echo "fault $name: every rank gone after ${ranks_gone:-more than $job_s} s, mpirun ended ($rc) after $job_s s"
  cat "$run.log"
  echo "fault $name: every rank gone after ${ranks_gone:-more than $job_s} s, mpirun ended ($rc) after $job_s s" >>"$work/summary.txt"
  [ -n "$ranks_gone" ] && [ "$ranks_gone" -le 30 ] || return 1
  [ "$rc" = running ] && [ -n "$may_hang" ] && return 0
  [ "$rc" != running ] && [ "$rc" -ne 0 ]
}
cut_link() { "$hosts" link "$prefix" 2 down; }
stop_host2() { kill -STOP $(ranks_on_host2); }
kill_host2() { kill -KILL $(ranks_on_host2); }
restore() { "$hosts" link "$prefix" 2 up; "$hosts" pids "$prefix" | while read -r _ pid; do kill -9 "$pid"; done; }

expect fault-link-cut 0 "blocked in a collective .*network between the ranks is down" -- \
  fault cut cut_link mpirun-may-hang
restore
expect fault-host-stopped 0 "has sent no heartbeat" -- fault stopped stop_host2
restore
expect fault-host-killed 0 "fault killed: every rank gone" -- fault killed kill_host2
restore
for name in cut stopped killed; do
  expect "resume-after-$name" 0 "resuming .*step-[0-9]+" -- \
    on_hosts 4 2 "$hrere" train --resume --set train.epochs=3 --no-eval --out "$work/$name"
done

cat "$work/summary.txt"
finish
