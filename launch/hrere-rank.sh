#!/usr/bin/env bash
# Per-rank wrapper for hrere under mpirun or srun: binds each rank to one GPU chosen by its
# local rank (when GPUs exist) and sets the thread count, then runs the command.
#
#   mpirun -np 8 launch/hrere-rank.sh build/hrere pretrain --config F --out RUN
#   srun launch/hrere-rank.sh build/hrere pretrain --config F --out RUN
#
# HRERE_THREADS sets OMP_NUM_THREADS (default: the cores Slurm gave the task, else 1 per rank
# on a shared node); the config's `threads` keys still set LibTorch's own pool.
set -euo pipefail
local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${SLURM_LOCALID:-${MPI_LOCALRANKID:-0}}}
if [ -z "${CUDA_VISIBLE_DEVICES:-}" ] && command -v nvidia-smi >/dev/null 2>&1; then
  gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
  if [ "$gpus" -gt 0 ]; then
    export CUDA_VISIBLE_DEVICES=$((local_rank % gpus))
  fi
fi
export OMP_NUM_THREADS=${HRERE_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
exec "$@"
