#!/usr/bin/env bash
# The prepared check for a machine with one GPU (PyTorch with its CUDA LibTorch, the
# nvidia-nccl wheel, CMake and nvcc there, but no Debian -dev packages and no network):
# unpacks the .deb bundle of tools/gpu_bundle.sh into a prefix, builds hrere into build-gpu/
# the way every build does (cmake/torch_from_python.cmake: LibTorch and NCCL from a Python's
# torch, here the machine's own), and runs, each step with its own time limit and a
# PASS/FAIL/SKIP line:
#   (b) the NCCL collectives test on 1 rank
#   (d) hrere synth -> prepare -> pretrain -> train (variant full) on the GPU
#   (c) `hrere train` on 2 ranks sharing the GPU, with dist.backend=mpi
#   (e) lm_bench and kbe_bench
#   (a) the unit tests (CTest) with HRERE_TEST_DEVICE=cuda, with the time that is left
# and writes a report ($OUT/gpu_check_report.md when OUT is set, else
# build-gpu/gpu_check_report.md; the logs of failed steps in gpu_check_logs.txt beside it).
# It exits non-zero when a step failed.
#
#   tools/gpu_check.sh [--cpu] [--bundle DIR]
#
# --cpu: the same on CPU with the project's .venv (tools/setup.sh: the same CUDA LibTorch
#        and NCCL, no GPU), to test this script and the bundle on a Debian machine; the NCCL
#        test must then skip for want of a GPU. The bundle is used when present, else the
#        system's packages. --bundle: the bundle folder (default .gpu-bundle).
# HRERE_GPU_CHECK_BUDGET_S: seconds for the whole check (default 360 on the GPU, none with
# --cpu); a step is cut to the time left, and skipped when under 15 s are left.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$PWD

device=cuda
bundle=.gpu-bundle
while [ $# -gt 0 ]; do
  case $1 in
    --cpu) device=cpu ;;
    --bundle) bundle=${2:?--bundle needs a folder}; shift ;;
    -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
bundle=$(realpath -m "$bundle")

build=$root/build-gpu
prefix=$build/prefix
work=$build/check-runs
steplogs=$build/check-logs
report_dir=${OUT:-$build}
report=$report_dir/gpu_check_report.md
faillog=$report_dir/gpu_check_logs.txt
mkdir -p "$build" "$steplogs" "$report_dir"
rm -rf "$work" "${steplogs:?}"/*
rm -f "$faillog"
mkdir -p "$work"

cores=$(nproc)
jobs=${HRERE_BUILD_JOBS:-$cores}
threads=$((cores > 8 ? 8 : cores))
if [ "$device" = cpu ]; then
  # --cpu runs on shared development machines: yield to interactive work, allow more time.
  renice -n 10 -p $$ >/dev/null 2>&1 || true
  scale=4
  budget=${HRERE_GPU_CHECK_BUDGET_S:-0}
else
  scale=1
  budget=${HRERE_GPU_CHECK_BUDGET_S:-360}
fi
deadline=$((SECONDS + budget))
as_root=()
[ "$(id -u)" -eq 0 ] && as_root=(--allow-run-as-root)

# ---------------------------------------------------------------------------------------
# Steps, results and the report

names=() results=() secs=() cmds=() notes=()
failed=0
bench_text=""

# run_limited LIMIT CMD...: runs CMD (a command or a function) in its own process group and
# kills the whole group (mpirun's ranks too) after LIMIT seconds; then returns 124.
run_limited() {
  local limit=$1
  shift
  set -m
  "$@" &
  local pid=$! start=$SECONDS
  set +m
  while kill -0 "$pid" 2>/dev/null; do
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      kill -TERM -- "-$pid" 2>/dev/null
      sleep 3
      kill -KILL -- "-$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
      return 124
    fi
    sleep 0.2
  done
  wait "$pid"
}

record() {  # NAME RESULT SECONDS COMMAND NOTE
  names+=("$1") results+=("$2") secs+=("$3") cmds+=("$4") notes+=("$5")
  printf '%-4s %-22s %7s s  %s\n' "$2" "$1" "$3" "$5"
  [ "$2" = FAIL ] && failed=$((failed + 1))
  write_report
}

skip() {  # NAME REASON
  record "$1" SKIP - "" "$2"
}

# step NAME LIMIT NOTE_FUNCTION CMD...: runs CMD with the limit (times $scale, cut to the
# budget left), output in $steplogs/NAME.log; PASS when it exits 0. NOTE_FUNCTION (or -)
# prints the key line(s) of the log for the report; $shown, when set, is the command the
# report shows for a function. Returns CMD's exit status.
step() {
  local name=$1 limit=$(($2 * scale)) note_fn=$3
  shift 3
  if [ "$budget" -gt 0 ]; then
    local left=$((deadline - SECONDS))
    if [ "$left" -lt 15 ]; then
      skip "$name" "out of time (HRERE_GPU_CHECK_BUDGET_S=$budget)"
      return 1
    fi
    [ "$left" -lt "$limit" ] && limit=$left
  fi
  local log=$steplogs/$name.log cmd=${shown:-$(printf '%q ' "$@")}
  shown=""
  local start rc seconds note=""
  start=$(date +%s.%N)
  run_limited "$limit" "$@" >"$log" 2>&1
  rc=$?
  seconds=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  [ "$note_fn" != - ] && note=$("$note_fn" "$log" 2>/dev/null | tr '\n' ' ' | cut -c1-400)
  if [ "$rc" -eq 0 ]; then
    record "$name" PASS "$seconds" "$cmd" "$note"
  else
    [ "$rc" -eq 124 ] && note="timed out after $limit s. $note" || note="exit $rc. $note"
    record "$name" FAIL "$seconds" "$cmd" "$note"
    { echo "===== $name: FAIL ($note)"; echo "\$ $cmd"; tail -n 1500 "$log"; echo; } >>"$faillog"
  fi
  return "$rc"
}

# A check that is not a command: a failure message makes the step fail.
check() {  # NAME MESSAGE_OR_EMPTY NOTE
  if [ -n "$2" ]; then
    record "$1" FAIL - "" "$2"
    { echo "===== $1: FAIL"; echo "$2"; echo; } >>"$faillog"
    return 1
  fi
  record "$1" PASS - "" "$3"
}

env_text=""
write_report() {
  {
    echo "# hrere GPU check ($device)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), $cores cores, commit $commit, budget ${budget:-0} s"
    echo
    echo "| step | result | seconds | key output |"
    echo "|---|---|---|---|"
    local i
    for i in "${!names[@]}"; do
      local note=${notes[$i]//|/\\|}
      echo "| ${names[$i]} | ${results[$i]} | ${secs[$i]} | ${note//"$root/"/} |"
    done
    echo
    if [ -n "$bench_text" ]; then
      echo "## Benchmarks"
      echo
      echo '```'
      echo "$bench_text"
      echo '```'
      echo
    fi
    echo "## Commands"
    echo
    for i in "${!names[@]}"; do
      [ -n "${cmds[$i]}" ] && printf -- '- %s: `%s`\n' "${names[$i]}" "${cmds[$i]//"$root/"/}"
    done
    echo
    echo "## Environment"
    echo
    echo '```'
    echo "$env_text"
    echo '```'
    if [ "$failed" -gt 0 ]; then printf '\nLogs of the failed steps: %s\n' "$(basename "$faillog")"; fi
  } >"$report"
}

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

# ---------------------------------------------------------------------------------------
# The machine: Python's torch (asked before LD_LIBRARY_PATH points into the prefix, whose
# libraries must not shadow the system's for Python), CUDA, NCCL.

# first_python MODULE: the first python3 (PATH's, then /usr/bin's) that imports MODULE.
first_python() {
  local c
  for c in "$(command -v python3)" /usr/bin/python3; do
    [ -x "$c" ] && "$c" -c "import $1" >/dev/null 2>&1 && { echo "$c"; return; }
  done
}
if [ "$device" = cuda ]; then
  py=$(first_python torch)
else
  py=$root/.venv/bin/python
  [ -x "$py" ] || py=""
fi
tests_py=$(first_python h5py)
plot_py=$(first_python matplotlib)
env_text+="OS: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(uname -r)"$'\n'
env_text+="compiler: $(c++ --version 2>/dev/null | head -1)"$'\n'
env_text+="cmake: $(cmake --version | head -1); ninja: $(ninja --version 2>/dev/null || echo none)"$'\n'
env_text+="python3 with torch: ${py:-none}; with h5py: ${tests_py:-none}; with matplotlib: ${plot_py:-none}"$'\n'
# LibTorch's CMake package and FindCUDAToolkit (for NCCL) look for nvcc on the PATH.
[ -z "$(command -v nvcc)" ] && [ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
env_text+="nvcc: $(nvcc --version 2>/dev/null | tail -1 || echo none)"$'\n'
if [ -n "$py" ]; then
  env_text+=$("$py" - 2>&1 <<'PY'
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())
print("torch sees CUDA:", torch.cuda.is_available(), torch.cuda.device_count(), "device(s)",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
try:
    print("torch's NCCL:", ".".join(map(str, torch.cuda.nccl.version())))
except Exception as e:
    print("torch's NCCL: unknown", e)
try:
    from importlib.metadata import version
    print("nvidia-nccl wheel:", version("nvidia-nccl-cu13"))
except Exception:
    pass
PY
)$'\n'
fi
if command -v nvidia-smi >/dev/null; then
  env_text+=$'\n'"$(nvidia-smi 2>&1)"$'\n'
fi
write_report

# ---------------------------------------------------------------------------------------
# The bundle: unpacked into the prefix (never into /), with what its packages' maintainer
# scripts would have made and the environment docs/DISTRIBUTED.md, GPUs, lists.

arch=x86_64-linux-gnu
L=$prefix/usr/lib/$arch
use_prefix=0

unpack_bundle() {
  rm -rf "$prefix"
  mkdir -p "$prefix"
  local f
  for f in "$bundle"/*.deb; do dpkg -x "$f" "$prefix" || return 1; done
  # An alternatives link that dpkg -x does not make (libfabric needs it).
  local psm
  psm=$(cd "$prefix/usr/lib" && ls libpsm1/libpsm_infinipath.so.1.* 2>/dev/null | head -1)
  [ -n "$psm" ] && ln -sf "../$psm" "$L/libpsm_infinipath.so.1"
  # The shared data for the tests that read ../shared/data (when it is not beside the repo).
  if [ -f "$bundle/shared-data.tar.xz" ] && [ ! -d ../shared/data ]; then
    tar -C "$build" -xJf "$bundle/shared-data.tar.xz" || return 1
  fi
  # Debian's mpicxx has /usr built in: this one passes the prefix's paths, and answers the
  # -showme questions CMake's FindMPI asks.
  mkdir -p "$build/bin"
  cat >"$build/bin/mpicxx" <<EOF
#!/bin/sh
# mpicxx for the Open MPI unpacked in $prefix (written by tools/gpu_check.sh)
inc="-I$L/openmpi/include -I$L/openmpi/include/openmpi"
lib="-L$L/openmpi/lib -Wl,-rpath-link,$L -lmpi_cxx -lmpi"
case "\${1:-}" in
  -showme:compile|--showme:compile) echo "\$inc"; exit 0 ;;
  -showme:link|--showme:link) echo "\$lib"; exit 0 ;;
  -showme:incdirs|--showme:incdirs) echo "$L/openmpi/include $L/openmpi/include/openmpi"; exit 0 ;;
  -showme:libdirs|--showme:libdirs) echo "$L/openmpi/lib"; exit 0 ;;
  -showme|--showme) echo "\${OMPI_CXX:-c++} \$inc \$lib"; exit 0 ;;
esac
exec "\${OMPI_CXX:-c++}" \$inc "\$@" \$lib
EOF
  chmod +x "$build/bin/mpicxx"
  # Every library the prefix's Open MPI, HDF5 and yaml-cpp load must resolve.
  local missing
  missing=$(LD_LIBRARY_PATH=$L ldd "$prefix/usr/bin/orterun" "$L/libmpi.so.40" "$L/libmpi_cxx.so.40" \
    "$L"/libfabric.so.1 \
    "$L"/libhdf5_serial.so.* "$L"/libyaml-cpp.so.* 2>&1 | grep 'not found' | sort -u)
  if [ -n "$missing" ]; then
    echo "unresolved libraries:"
    echo "$missing"
    return 1
  fi
  echo "$(ls "$bundle"/*.deb | wc -l) packages unpacked into $prefix"
}

export_prefix_env() {
  export LD_LIBRARY_PATH=$L:$L/openmpi/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # Open MPI and PMIx find their components and help files under the moved prefix.
  export OPAL_PREFIX=$prefix/usr
  export PMIX_MCA_mca_base_component_path=$L/pmix2/lib/pmix
  # Debian's MCA defaults (no UCX/OFI/openib), normally read from /etc/openmpi.
  export OMPI_MCA_mca_base_param_files=$prefix/etc/openmpi/openmpi-mca-params.conf
  export HDF5_ROOT=$L/hdf5/serial
  export CMAKE_PREFIX_PATH=$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}
  mpirun=$prefix/usr/bin/orterun   # /usr/bin/mpirun is an alternatives link dpkg -x leaves out
  use_prefix=1
}

mpirun=$(command -v mpirun || true)
# Shared memory without the single-copy mechanism (CMA is refused in containers), the
# "isolated" launcher (one machine: no ssh needed), and root allowed (GPU machines run as root).
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_plm=isolated
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

stop_all=""
if compgen -G "$bundle/*.deb" >/dev/null; then
  shown="dpkg -x $bundle/*.deb $prefix"
  if step bundle 120 - unpack_bundle; then
    export_prefix_env
  else
    stop_all="the bundle did not unpack"
  fi
elif [ "$device" = cpu ]; then
  skip bundle "no .deb files in $bundle: Debian's installed packages are used"
else
  check bundle "no .deb files in $bundle: run tools/gpu_bundle.sh on Debian 12 and carry it" ""
  stop_all="no bundle"
fi
if [ -z "${HRERE_SHARED_DATA:-}" ] && [ ! -d ../shared/data ] && [ -d "$build/data" ]; then
  export HRERE_SHARED_DATA=$build/data
fi

# ---------------------------------------------------------------------------------------
# Configure and build into build-gpu.

cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null && cmake_args+=(-G Ninja)
# The Pythons that have h5py (store layout test) and matplotlib (PR plots): on the GPU
# machine the image's python3, not /usr/bin's.
[ -n "$tests_py" ] && cmake_args+=(-DHRERE_PYTHON="$tests_py")
[ -n "$plot_py" ] && cmake_args+=(-DHRERE_PLOT_PYTHON="$plot_py")
[ -n "$py" ] && cmake_args+=(-DHRERE_TORCH_PYTHON="$py")
if [ "$use_prefix" = 1 ]; then
  link="-Wl,-rpath-link,$L -Wl,-rpath-link,$L/openmpi/lib"
  cmake_args+=(-DMPI_CXX_COMPILER="$build/bin/mpicxx" -DMPIEXEC_EXECUTABLE="$mpirun"
               -DCMAKE_EXE_LINKER_FLAGS="$link" -DCMAKE_SHARED_LINKER_FLAGS="$link")
fi
# A cache from another mode or generator would mix LibTorches: start it afresh.
if [ -f "$build/CMakeCache.txt" ] && [ "$(cat "$build/.check-mode" 2>/dev/null)" != "$device $use_prefix" ]; then
  rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
fi
echo "$device $use_prefix" >"$build/.check-mode"

# After configuring: MPI and HDF5 must come from the prefix when one is used (on a Debian
# host the system's copies would also be found, and the check would prove nothing).
configured_from() {
  grep -E '^(MPI_mpi_LIBRARY|HDF5_C_LIBRARY_hdf5|HDF5_hdf5_LIBRARY_RELEASE|yaml-cpp_DIR|GTest_DIR|Torch_DIR|NCCL_LIBRARY)[:A-Z]*=' \
    "$build/CMakeCache.txt" | sed 's/:[A-Z]*=/=/'
  grep -o 'hrere: NCCL communicator [a-z]*' "$1" | tail -1
}
configure() {
  cmake "${cmake_args[@]}" || return 1
  if [ "$use_prefix" = 1 ]; then
    local outside
    outside=$(grep -E '^(MPI_mpi_LIBRARY|HDF5_C_LIBRARY_hdf5|yaml-cpp_DIR|GTest_DIR)[:A-Z]*=' \
      "$build/CMakeCache.txt" | grep -v "=$prefix/")
    if [ -n "$outside" ]; then
      echo "found outside the prefix $prefix:"
      echo "$outside"
      return 1
    fi
  fi
}
shown=""
if [ -z "$stop_all" ]; then
  shown="cmake $(printf '%q ' "${cmake_args[@]}")"
  step configure 240 configured_from configure || stop_all="configure failed"
fi
if [ -z "$stop_all" ]; then
  built_note() { grep -E '^\[[0-9]+/[0-9]+\]|Built target' "$1" | tail -1; grep -c 'error:' "$1" | sed 's/$/ compile error(s)/'; }
  # Keep going past a failed target: the steps whose programs were built still run.
  keep_going=(-k 0)
  command -v ninja >/dev/null || keep_going=(-k)
  step build 480 built_note cmake --build "$build" -j "$jobs" -- "${keep_going[@]}"
fi

# ---------------------------------------------------------------------------------------
# (a)-(e)

hrere=$build/hrere
mpi=("$mpirun" --oversubscribe "${as_root[@]}")
# built NAME PROGRAM: true when PROGRAM was built, else the step NAME is skipped.
built() {
  [ -x "$2" ] && return 0
  skip "$1" "${2#"$root"/} was not built"
  return 1
}

# --set flags for a config key only when this binary knows it: the device keys are new.
has_key() { "$hrere" config --set "$1=$2" >/dev/null 2>&1; }
device_sets=()
device_problem=""
for key in train.device kbe.device; do
  if [ -n "$stop_all" ] || [ ! -x "$hrere" ]; then break; fi
  if has_key "$key" "$device"; then
    device_sets+=(--set "$key=$device")
  elif [ "$device" = cuda ]; then
    device_problem+="$key unknown to this hrere (ran on CPU). "
  fi
done

ctest_note() { grep -E 'tests passed|Total Test time' "$1"; grep -A30 'The following tests FAILED' "$1" | grep -E '^\s+[0-9]+ - ' | head -20; }
nccl_note() { grep -E '^\[  (PASSED|SKIPPED|FAILED) |Skipped|SKIPPED' "$1" | head -3; }
train_note() { grep -E 'data parallel:|sentence protocol|trained [0-9]+ steps|device' "$1" | head -4; }
pretrain_note() { grep -E 'test \(filtered\)|device' "$1" | head -2; }
synth_note() { tail -2 "$1"; }
prepare_note() { grep -E 'bags|test pairs' "$1" | head -2; }
bench_note() { grep -E 'triples/s|ratio|speed-up|^ours|^straightforward|peak' "$1"; }

if [ -n "$stop_all" ]; then
  for s in nccl-1-rank smoke-synth smoke-prepare smoke-pretrain smoke-train-full \
           train-2-ranks-mpi lm_bench kbe_bench unit-tests; do
    skip "$s" "$stop_all"
  done
else
  # (b) NCCL on one rank (two ranks on one GPU need NCCL 2.30: see docs/DISTRIBUTED.md, GPUs).
  # On the GPU a skipped test fails: the GPU is there. With --cpu the test must skip (built,
  # and no GPU to run on).
  nccl_test() {
    "${mpi[@]}" -np 1 "$build/tests/comm_tests" --gtest_filter='Nccl.*' >"$work/nccl.out" 2>&1
    local rc=$? skipped=0
    cat "$work/nccl.out"
    grep -q '\[  SKIPPED \]' "$work/nccl.out" && skipped=1
    [ "$rc" -eq 0 ] && [ "$skipped" -eq "$([ "$device" = cpu ] && echo 1 || echo 0)" ]
  }
  shown="$(printf '%q ' "${mpi[@]}") -np 1 $build/tests/comm_tests --gtest_filter='Nccl.*'"
  built nccl-1-rank "$build/tests/comm_tests" && step nccl-1-rank 90 nccl_note nccl_test

  # (d) The chain on the device, with tiny models (seconds each).
  w=$work
  world=(--set "data.train=$w/world/train.txt" --set "data.test=$w/world/test.txt"
         --set "data.relations=$w/world/relation2id.txt"
         --set "data.kb_train=$w/world/kb/train.txt" --set "data.kb_valid=$w/world/kb/valid.txt"
         --set "data.kb_test=$w/world/kb/test.txt")
  tiny=(--config configs/synth.yaml --set "data.prepared=$w/data" --set train.epochs=1
        --set train.batch_size=32 --set model.word_dim=8 --set model.position_dim=2
        --set model.lstm_hidden=8 --set model.classifier_hidden=8)
  kbe=(--config configs/synth.yaml --set "data.prepared=$w/data" --set kbe.dim=8
       --set kbe.epochs=1 --set kbe.entity_tanh=true --set "kbe.threads=$threads")
  if [ -n "$device_problem" ]; then
    check device-keys "$device_problem" ""
  fi
  # chain NAME LIMIT NOTE_FUNCTION CMD...: a step of the chain, skipped after a failed one.
  chain_ok=1
  chain() {
    if [ "$chain_ok" = 1 ]; then
      step "$@" || chain_ok=0
    else
      skip "$1" "an earlier step of the chain failed"
    fi
  }
  [ -x "$hrere" ] || chain_ok=0
  chain smoke-synth 60 synth_note "$hrere" synth --out "$w/world"
  chain smoke-prepare 60 prepare_note "$hrere" prepare --config configs/synth.yaml "${world[@]}" \
    --out "$w/data"
  chain smoke-pretrain 90 pretrain_note "$hrere" pretrain "${kbe[@]}" "${device_sets[@]}" \
    --out "$w/kbe"
  chain smoke-train-full 120 train_note "$hrere" train "${tiny[@]}" --set train.variant=full \
    --set "train.kbe_embeddings=$w/kbe/embeddings.h5" --set "train.threads=$threads" \
    "${device_sets[@]}" --out "$w/full"

  # (c) Two ranks on the one GPU, gradients over MPI (NCCL refuses two ranks on one GPU).
  if [ -f "$w/kbe/embeddings.h5" ]; then
    dist=("${tiny[@]}" --set train.variant=full --set "train.kbe_embeddings=$w/kbe/embeddings.h5")
  else
    dist=("${tiny[@]}" --set train.variant=base)
  fi
  backend=()
  if [ ! -x "$hrere" ]; then
    :
  elif has_key dist.backend mpi; then
    backend=(--set dist.backend=mpi)
  elif [ "$device" = cuda ]; then
    check dist-backend-key "dist.backend unknown to this hrere" ""
  fi
  if [ ! -x "$hrere" ]; then
    skip train-2-ranks-mpi "build-gpu/hrere was not built"
  elif [ -f "$w/data/bags.h5" ]; then
    step train-2-ranks-mpi 120 train_note "${mpi[@]}" -np 2 "$hrere" train "${dist[@]}" \
      --set "train.threads=$((threads / 2 > 0 ? threads / 2 : 1))" "${backend[@]}" \
      "${device_sets[@]}" --out "$w/dist"
  else
    skip train-2-ranks-mpi "no prepared data"
  fi

  # (e) Benchmarks at small sizes (smaller on CPU, where the straightforward LSTM takes
  # seconds a step). A device flag only where the benchmark documents one (its usage
  # comment; kbe_bench has no --help and runs its defaults when given none). Line-buffered,
  # so that a benchmark stopped at its limit still shows what it printed.
  bench_device() { grep -q -- '--device' "tools/bench/$1.cc" && echo "--device $device"; }
  line_buffered=()
  command -v stdbuf >/dev/null && line_buffered=(stdbuf -oL -eL)
  if [ "$device" = cuda ]; then
    lm_sizes=(--steps 5 --eval-sentences 1024)
    kbe_sizes=(--entities 500000 --dim 200 --steps 20)
  else
    lm_sizes=(--steps 1 --eval-sentences 64)
    kbe_sizes=(--entities 100000 --dim 64 --steps 5)
  fi
  if ! built lm_bench "$build/tools/bench/lm_bench"; then
    :
  elif [ -f "$w/data/bags.h5" ]; then
    # shellcheck disable=SC2046
    step lm_bench 120 bench_note "${line_buffered[@]}" "$build/tools/bench/lm_bench" "$w/data" \
      "${lm_sizes[@]}" --threads "$threads" $(bench_device lm_bench)
    bench_text+="lm_bench (${results[-1]}):"$'\n'"$(cat "$steplogs/lm_bench.log" 2>/dev/null)"$'\n\n'
  else
    skip lm_bench "no prepared data"
  fi
  # shellcheck disable=SC2046
  if built kbe_bench "$build/tools/bench/kbe_bench"; then
    step kbe_bench 120 bench_note "${line_buffered[@]}" "$build/tools/bench/kbe_bench" \
      "${kbe_sizes[@]}" --batch 1000 --negatives 10 --threads "$threads" $(bench_device kbe_bench)
    bench_text+="kbe_bench (${results[-1]}):"$'\n'"$(cat "$steplogs/kbe_bench.log" 2>/dev/null)"
  fi

  # (a) The unit tests on the device, last: they take longest, and get what is left of the
  # budget after the targeted checks above. The CLI end-to-end scripts (cli,
  # cli_distributed) run on CPU only, take minutes and are covered by (c) and (d); the nyt10
  # store tests need ../shared/data beside the repository.
  exclude='^(cli|cli_distributed)$'
  [ -d ../shared/data ] || exclude='^(cli|cli_distributed|prepare_default_data|store_layout_h5py)$'
  step unit-tests 300 ctest_note env HRERE_TEST_DEVICE="$device" \
    ctest --test-dir "$build" -j "$cores" --timeout $((120 * scale)) -E "$exclude" --output-on-failure
fi

write_report
echo "gpu_check: $failed step(s) failed; report: $report"
[ "$failed" -eq 0 ]
