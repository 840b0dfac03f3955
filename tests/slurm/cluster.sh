# A throw-away Slurm cluster for tests (source it; Debian's slurm-wlm and munge, as root):
# munged, slurmctld and one slurmd per node, all state in a scratch folder, every daemon
# stopped by stop_cluster. Used by tests/slurm/slurm_test.sh (one node: this machine) and
# tests/multihost/slurm_nodes_test.sh (nodes in network namespaces).
#
#   cluster_can_run || skip "$cluster_why"
#   start_cluster TMP CTLD_ADDR NODE:ADDR[:RUN_PREFIX]...   # sets SLURM_CONF; 0 when all idle
#   stop_cluster                                            # cancels jobs, stops daemons
#
# RUN_PREFIX, when given, is a command that runs a node's slurmd on that node (for example
# "tools/netns_hosts.sh run hm1"); without it slurmd runs here and must find its node by -N.

cluster_pids=()

cluster_can_run() {
  cluster_why=
  [ "$(id -u)" -eq 0 ] || { cluster_why="needs root (starts slurmctld, slurmd and munged)"; return 1; }
  local tool
  for tool in munged slurmctld slurmd sbatch scancel sinfo scontrol; do
    command -v "$tool" >/dev/null ||
      { cluster_why="$tool not found: install Debian's slurm-wlm and munge"; return 1; }
  done
}

cluster_logs() {
  local log
  for log in "$cluster_dir"/log/*.log; do
    echo "--- $log"
    tail -n 15 "$log" 2>/dev/null | sed 's/^/    /'
  done
}

# Waits up to 5 s for a daemon's pid file and remembers the pid.
cluster_track() {
  local _
  for _ in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] && cluster_pids+=("$(cat "$1")")
}

start_cluster() {
  cluster_dir=$1
  local ctld_addr=$2
  shift 2
  local specs=("$@") spec name addr names=() cpus
  mkdir -p "$cluster_dir/munge" "$cluster_dir/log" "$cluster_dir/state" "$cluster_dir/spool"
  chmod 755 "$cluster_dir"
  # munged checks that its key is private to the user it runs as (root owns all of this).
  chmod 700 "$cluster_dir/munge"
  dd if=/dev/urandom of="$cluster_dir/munge/munge.key" bs=1 count=1024 status=none
  chmod 400 "$cluster_dir/munge/munge.key"
  local socket=$cluster_dir/munge/munge.socket
  munged --force --key-file="$cluster_dir/munge/munge.key" --socket="$socket" \
    --pid-file="$cluster_dir/munge/munged.pid" --seed-file="$cluster_dir/munge/munged.seed" \
    --log-file="$cluster_dir/log/munged.log" 2>"$cluster_dir/log/munged.err" ||
    { cat "$cluster_dir/log/munged.err"; echo "FAIL: munged did not start"; return 1; }
  cluster_track "$cluster_dir/munge/munged.pid"

  # MinJobAge=4 keeps sbatch --wait polling every 2 s (it backs off to 8 s and more when
  # finished jobs are kept longer). Two CPUs a node at least, so two tasks fit a node on any
  # machine (config_overrides: slurmd takes this count instead of refusing a node with fewer
  # cores); ports away from a real Slurm's.
  cpus=$(nproc)
  [ "$cpus" -lt 2 ] && cpus=2
  export SLURM_CONF=$cluster_dir/slurm.conf
  cat >"$SLURM_CONF" <<EOF
ClusterName=hrere-ci
SlurmctldHost=$(hostname -s)($ctld_addr)
SlurmctldPort=26817
SlurmdPort=26818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$cluster_dir/state
SlurmdSpoolDir=$cluster_dir/spool/%n
SlurmctldPidFile=$cluster_dir/slurmctld.pid
SlurmdPidFile=$cluster_dir/slurmd-%n.pid
SlurmctldLogFile=$cluster_dir/log/slurmctld.log
SlurmdLogFile=$cluster_dir/log/slurmd-%n.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=4
InactiveLimit=0
EOF
  for spec in "${specs[@]}"; do
    IFS=: read -r name addr _ <<<"$spec"
    echo "NodeName=$name NodeAddr=$addr CPUs=$cpus State=UNKNOWN" >>"$SLURM_CONF"
    names+=("$name")
  done
  local nodes
  nodes=$(IFS=,; echo "${names[*]}")
  echo "PartitionName=ci Nodes=$nodes Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES" \
    >>"$SLURM_CONF"

  slurmctld -i -f "$SLURM_CONF" 2>"$cluster_dir/log/slurmctld.err" ||
    { cat "$cluster_dir/log/slurmctld.err"; cluster_logs; echo "FAIL: slurmctld did not start"; return 1; }
  cluster_track "$cluster_dir/slurmctld.pid"
  local run_prefix
  for spec in "${specs[@]}"; do
    IFS=: read -r name addr run_prefix <<<"$spec"
    mkdir -p "$cluster_dir/spool/$name"
    if [ -n "$run_prefix" ]; then
      $run_prefix slurmd -f "$SLURM_CONF" 2>"$cluster_dir/log/slurmd-$name.err"
    else
      slurmd -N "$name" -f "$SLURM_CONF" 2>"$cluster_dir/log/slurmd-$name.err"
    fi || { cat "$cluster_dir/log/slurmd-$name.err"; cluster_logs; echo "FAIL: slurmd of $name did not start"; return 1; }
    cluster_track "$cluster_dir/slurmd-$name.pid"
  done

  local state _
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$nodes" -o %t 2>/dev/null | sort -u | tr '\n' ' ')
    [ "$state" = "idle " ] && break
    sleep 1
  done
  if [ "$state" != "idle " ]; then
    cluster_logs
    echo "FAIL: nodes $nodes are '$state', not idle, 60 s after their slurmd started"
    return 1
  fi
  echo "slurm: nodes $nodes idle with $cpus CPUs each; srun --mpi=list: $(srun --mpi=list 2>&1 | tr -s '\n ' ' ')"
}

stop_cluster() {
  # Jobs first, so no step outlives its slurmd.
  [ ${#cluster_pids[@]} -gt 0 ] && scancel --full --quiet --user=root 2>/dev/null
  local pid _
  for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${cluster_pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  cluster_pids=()
}
