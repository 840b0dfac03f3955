#!/usr/bin/env bash
# Starts P ranks of an hrere command on this machine, one per GPU when there are GPUs.
#
#   launch/mpirun.sh P build/hrere pretrain --config F --out RUN
#
# Adds --oversubscribe when P exceeds the cores, and --allow-run-as-root as root.
set -euo pipefail
ranks=$1
shift
extra=()
[ "$ranks" -gt "$(nproc)" ] && extra+=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && extra+=(--allow-run-as-root)
here=$(cd "$(dirname "$0")" && pwd)
exec mpirun -np "$ranks" "${extra[@]}" --bind-to none "$here/hrere-rank.sh" "$@"
