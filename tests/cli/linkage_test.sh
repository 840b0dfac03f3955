#!/usr/bin/env bash
# One configuration for CPU and GPU: the binary is linked against LibTorch's CUDA library
# and NCCL, every library it needs resolves, and all of LibTorch comes from one place (the
# Python environment CMake was given), never a second LibTorch elsewhere on the machine.
# Usage: linkage_test.sh HRERE_BINARY TORCH_LIB_DIR
set -euo pipefail
hrere=$1 torch_lib=$(realpath "$2")
libs=$(ldd "$hrere")
fail() { echo "FAIL: $*" >&2; printf '%s\n' "$libs" >&2; exit 1; }
missing=$(grep 'not found' <<<"$libs" || true)
[ -z "$missing" ] || fail "unresolved libraries: $missing"
for lib in libtorch_cuda.so libtorch_cpu.so libc10.so libc10_cuda.so; do
  path=$(awk -v l="$lib" '$1 == l { print $3 }' <<<"$libs")
  [ -n "$path" ] || fail "$hrere does not load $lib"
  [ "$(dirname "$(realpath "$path")")" = "$torch_lib" ] || fail "$lib comes from $path, not $torch_lib"
done
nccl=$(awk '$1 == "libnccl.so.2" { print $3 }' <<<"$libs")
[ -n "$nccl" ] || fail "$hrere does not load libnccl.so.2 (the NCCL communicator is not linked)"
echo "linked: LibTorch (CUDA) from $torch_lib, NCCL from $nccl"
