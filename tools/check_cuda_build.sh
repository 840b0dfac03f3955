#!/usr/bin/env bash
# Proves that hrere builds on Debian 13's LibTorch 2.6 on a machine without a GPU, inside a
# Debian 13 (trixie) chroot, so that the host's own packages stay as they are:
#   cpu   LibTorch 2.6 (CPU): configure, build everything, run the whole CTest suite.
#   cuda  LibTorch 2.6 built for CUDA 12.4 + NCCL: configure with the NCCL communicator
#         enabled, compile and link everything (nothing runs: there is no GPU, and no cuDNN).
#
# usage: bash tools/check_cuda_build.sh [cpu|cuda|all]      (default all; as root)
#   HRERE_TRIXIE_ROOT    the chroot (default /var/cache/hrere-trixie); made once, then reused
#   HRERE_TRIXIE_MIRROR  Debian mirror (default: the host's main archive, from its apt sources)
#
# The chroot keeps its packages, its build folders (/hrere/build-cpu, /hrere/build-cuda) and
# its ccache between runs; logs go to /hrere/logs inside it. The CPU and CUDA LibTorch packages
# conflict, so each stage installs its own (apt swaps them from its cache, no new download).
set -euo pipefail

stage=${1:-all}
case $stage in
  cpu | cuda | all) ;;
  *) echo "usage: $0 [cpu|cuda|all]" >&2; exit 2 ;;
esac
die() { echo "check_cuda_build: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"

src=$(cd "$(dirname "$0")/.." && pwd)
shared=$(dirname "$src")/shared        # the tests read ../shared/data beside the source
root=${HRERE_TRIXIE_ROOT:-/var/cache/hrere-trixie}
root=${root%/}
case $root in /?*) ;; *) die "HRERE_TRIXIE_ROOT must be an absolute path other than /" ;; esac
work=/hrere                            # inside the chroot: main/ (the tree), shared/, build-*/
logs=$work/logs

# The host's main Debian archive (not -security), from a deb822 .sources file or sources.list.
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) print $i }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { if ($i ~ /\/debian\/?$/) print $i; break } }' "$f"
  done
}

# Runs a command inside the chroot with a clean environment. Open MPI refuses root without the
# two variables (the tests' own mpirun lines add --allow-run-as-root; the CLI scripts do not).
in_chroot() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive \
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    CCACHE_DIR=/var/cache/ccache CCACHE_MAXSIZE=5G CCACHE_SLOPPINESS=pch_defines,time_macros \
    "$@"
}

# --- mounts: made per run, always taken down again (also after a failure or Ctrl-C) ----------
mounts=(proc sys dev dev/pts dev/shm "${work#/}/shared")   # mount order; unmounted in reverse
mount_all() {
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/sys" || mount -t sysfs sysfs "$root/sys"
  if ! mountpoint -q "$root/dev"; then
    mount --bind /dev "$root/dev"
    mount --make-private "$root/dev"   # so the mounts below never land on the host's /dev
  fi
  # A pty instance of the chroot's own (apt and dpkg want one for their logs).
  mountpoint -q "$root/dev/pts" ||
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
  # Open MPI's shared-memory transport; a tmpfs of the chroot's own.
  mountpoint -q "$root/dev/shm" || mount -t tmpfs -o mode=1777,size=4g shm "$root/dev/shm"
  mkdir -p "$root$work/shared"
  if [ -d "$shared" ] && ! mountpoint -q "$root$work/shared"; then
    mount --bind "$shared" "$root$work/shared"
    mount -o remount,bind,ro "$root$work/shared"
  fi
}
umount_all() {
  local i m
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=$root/${mounts[i]}
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m"; fi
  done
}

# --- the chroot ------------------------------------------------------------------------------
make_chroot() {
  if [ -f "$root/.hrere-ready" ]; then return; fi
  command -v debootstrap >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
  }
  local mirror=${HRERE_TRIXIE_MIRROR:-$(host_mirror | sed -n 1p)}
  [ -n "$mirror" ] || die "no Debian archive in the host's apt sources: set HRERE_TRIXIE_MIRROR"
  # Made under a temporary name and renamed when complete, so that an interrupted run never
  # leaves a half-made chroot under the real name.
  local new=$root.new
  if [ -e "$new" ]; then
    grep -q " $new/" /proc/mounts && die "$new has mounts inside: unmount them first"
    rm -rf "$new"
  fi
  [ ! -e "$root" ] || die "$root exists but is not a finished chroot: remove it by hand"
  echo "== debootstrap trixie into $root from $mirror"
  debootstrap --variant=minbase trixie "$new" "${mirror%/}"
  rm -f "$new/etc/apt/sources.list"
  cat >"$new/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${mirror%/}
Suites: trixie
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"   # no services in a chroot
  chmod +x "$new/usr/sbin/policy-rc.d"
  # A throw-away chroot: dpkg need not fsync every file (unpacking the CUDA set takes minutes).
  echo force-unsafe-io >"$new/etc/dpkg/dpkg.cfg.d/hrere-unsafe-io"
  touch "$new/.hrere-ready"
  mv "$new" "$root"
}

# apt-get install inside the chroot, only what is missing (so a re-run stays offline). apt may
# remove the other LibTorch, which conflicts.
apt_ensure() {
  local p missing=()
  for p in "$@"; do
    in_chroot dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "== apt-get install ${missing[*]}"
  # Refresh the lists at most once a day (a swap between the LibTorch packages needs none).
  local stamp=$root/var/lib/apt/hrere-updated
  if [ -z "$(find "$stamp" -mtime -1 2>/dev/null)" ]; then
    in_chroot apt-get update -qq
    touch "$stamp"
  fi
  in_chroot apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The packages tools/setup.sh installs (their trixie names are the same), less LibTorch, the
# Slurm daemons (without them the Slurm test reports itself skipped) and the versioned clang of
# tools/fuzz.sh (Debian 12's clang-14 is not in trixie, and no stage here fuzzes).
build_packages() {
  sed -n '/^packages=(/,/^)/p' "$src/tools/setup.sh" | sed 's/#.*//; s/packages=(//; s/)//' |
    tr -s ' \t' '\n\n' | grep -v -e '^$' -e '^libtorch-dev$' -e '^slurm' -e '^munge$' \
    -e '^clang-[0-9]' -e '^libclang-rt-'
  echo ninja-build
}

# Copies the tree as it is on disk: tracked and untracked-not-ignored files (so no build/,
# runs/). A file whose content changed since the last copy gets the time of this copy and a
# file that did not keeps its old one, so the persistent build folders rebuild exactly what
# changed (the host's own mtimes can be older than objects built from an earlier copy).
copy_source() {
  local dest=$root$work/main new=$root$work/main.new f
  rm -rf "$new"
  mkdir -p "$new"
  if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$src" ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do if [ -e "$src/$f" ]; then printf '%s\0' "$f"; fi; done |
      tar -C "$src" --null -T - -cf - | tar -C "$new" -m -xf -
  else
    tar -C "$src" --exclude='./build*' --exclude=./runs --exclude=./.git -cf - . |
      tar -C "$new" -m -xf -
  fi
  if [ -d "$dest" ]; then
    (cd "$new" && find . -type f -print0) | while IFS= read -r -d '' f; do
      if cmp -s "$new/$f" "$dest/$f"; then touch -r "$dest/$f" "$new/$f"; fi
    done
  fi
  rm -rf "$dest"
  mv "$new" "$dest"
}

# cmake configure + build of one build folder; extra arguments go to the configure step.
configure_and_build() {
  local dir=$1 log=$2
  shift 2
  in_chroot nice -n 10 cmake -S $work/main -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" \
    2>&1 | tee "$root$logs/$log-configure.log"
  # -k 0: keep going, so that one run reports every compile error.
  in_chroot nice -n 10 cmake --build "$dir" -j 2 -- -k 0 2>&1 | tee "$root$logs/$log-build.log"
}

# --- stages ----------------------------------------------------------------------------------
stage_cpu() {
  apt_ensure "${base_packages[@]}" libtorch-dev
  copy_source
  configure_and_build $work/build-cpu cpu
  # -j2 as tools/build_and_test.sh does; the multi-rank tests declare their PROCESSORS.
  in_chroot nice -n 10 ctest --test-dir $work/build-cpu --output-on-failure -j 2 2>&1 |
    tee "$root$logs/cpu-ctest.log"
}

stage_cuda() {
  apt_ensure "${base_packages[@]}" equivs
  # libtorch-cuda-2.6 depends on nvidia-cudnn, an installer that downloads cuDNN and fails
  # offline. A local empty package of a higher version stands in for it (held, so apt keeps
  # it); linking then allows the absent cuDNN (see below).
  if ! in_chroot dpkg-query -W -f='${Version}' nvidia-cudnn 2>/dev/null | grep -q hrere; then
    echo "== building a stand-in nvidia-cudnn package with equivs"
    in_chroot sh -ec 'd=$(mktemp -d); cd "$d"
      printf "%s\n" "Section: contrib/libs" "Priority: optional" "Standards-Version: 4.7.0" \
        "Package: nvidia-cudnn" "Version: 9.0.0.312~cuda12+hrere1" \
        "Provides: libcudnn-dev, libcudnn.so, libcudnn.so.9" \
        "Description: stand-in for the cuDNN installer (compile checks only, no cuDNN)" >ctl
      equivs-build ctl >"$1/equivs.log" 2>&1
      dpkg -i nvidia-cudnn_*.deb
      apt-mark hold nvidia-cudnn
      rm -rf "$d"' sh $logs
  fi
  apt_ensure libtorch-cuda-dev nvidia-cuda-toolkit nvidia-cuda-dev libnccl-dev
  copy_source
  # No test binary can run (no cuDNN, no driver), so CTest lists the tests at test time instead
  # of running each binary after the link; the shared libraries' references to the absent
  # cuDNN are allowed.
  configure_and_build $work/build-cuda cuda \
    -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST \
    -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined
  grep -q 'hrere: NCCL communicator enabled' "$root$logs/cuda-configure.log" ||
    die "CMake did not enable the NCCL communicator"
}

# Disk use of the chroot, less the mounts (the bind-mounted shared/ is on the host's disk).
chroot_size() { du -sh -x --exclude="$root$work/shared" "$root" 2>/dev/null | cut -f1; }

# --- main ------------------------------------------------------------------------------------
main() {
  mkdir -p "$(dirname "$root")"
  exec 9>"$root.lock"
  flock -n 9 || die "another run is using $root"
  trap umount_all EXIT
  trap 'exit 130' INT TERM   # so that the EXIT trap runs on Ctrl-C or kill too
  umount_all   # mounts left behind by a killed run
  make_chroot
  mount_all
  mkdir -p "$root$logs"
  mapfile -t base_packages < <(build_packages)
  [ ${#base_packages[@]} -gt 5 ] || die "could not read the package list of tools/setup.sh"

  local results=() failed=0 s start rc took line
  for s in cpu cuda; do
    [ "$stage" = all ] || [ "$stage" = "$s" ] || continue
    echo "== stage $s"
    rm -f "$root$logs/$s-"*.log
    start=$SECONDS
    # A subshell with errexit, not `if stage_$s`: bash ignores set -e inside an if's condition.
    set +e
    (set -e; "stage_$s")
    rc=$?
    set -e
    took=$((SECONDS - start))
    echo "== stage $s: ${took}s, chroot $(chroot_size)"
    line="$([ $rc -eq 0 ] && echo PASS || echo FAIL) $s (${took}s)"
    if [ -f "$root$logs/$s-ctest.log" ]; then   # e.g. "95% tests passed, 2 tests failed out of 40"
      line+=": $(grep -E 'tests passed, [0-9]+ tests? failed' "$root$logs/$s-ctest.log" | tail -n 1)"
    fi
    [ $rc -eq 0 ] || failed=1
    results+=("$line")
  done
  echo "== chroot $root: $(chroot_size)"
  printf '%s\n' "${results[@]}"
  return "$failed"
}

# On one line, so that bash has read the whole file before it runs (safe to edit meanwhile).
main "$@"; exit $?
