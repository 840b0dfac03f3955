#!/usr/bin/env bash
# Collects the Debian 12 .deb files that a GPU machine without Debian's -dev packages (and
# without network) needs to build and test hrere: Open MPI, HDF5, yaml-cpp, CLI11,
# nlohmann-json, spdlog and fmt, GoogleTest, Google Benchmark and the libraries they pull in, minus what
# an Ubuntu 24.04 base with a compiler and Python already has. Nothing is installed:
# tools/gpu_check.sh unpacks them into a prefix there. When the shared data folder
# (../shared/data) exists it is packed too (shared-data.tar.xz), for the tests that read it.
#
#   tools/gpu_bundle.sh [DIR]        # default DIR: .gpu-bundle in the repository root
#
# Run it on Debian 12 (apt-get download needs only the package lists, not root). The result
# must travel to the GPU machine with the working tree (64 MiB in all): it stops if the
# bundle reaches 48 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:-.gpu-bundle}")

# What hrere's CMakeLists and tests find (libbenchmark-dev: 0.2 MB, worth having).
wanted=(libopenmpi-dev openmpi-bin libhdf5-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
        libspdlog-dev libfmt-dev libgtest-dev libbenchmark-dev)

# Packages where the dependency walk stops (their own dependencies are not followed).
exclude=(
  # Ubuntu 24.04 base, build-essential and python3 have these libraries (same sonames;
  # several are "t64" packages there). Carrying older copies would shadow them through
  # LD_LIBRARY_PATH.
  libc6 libc6-dev libc-dev-bin linux-libc-dev libcrypt1 libcrypt-dev libgcc-s1 libstdc++6
  gcc-12-base libatomic1 libgomp1 libquadmath0 zlib1g libzstd1 liblzma5 libbz2-1.0 libssl3
  libudev1 libselinux1 libpcre2-8-0 libgmp10 libidn2-0 libtasn1-6 libp11-kit0 libgnutls30
  libnettle8 libhogweed6 libffi8 libcom-err2 libdb5.3 libtinfo6 libmd0
  libaudit1 libcap-ng0 libsqlite3-0 libexpat1 libuuid1 debconf dpkg perl perl-base tar
  debianutils adduser passwd
  # Compilers: the GPU machine has its own C/C++ compiler, and nothing here is Fortran.
  gfortran-12 gcc-12 g++-12 cpp-12
  # Only needed for static linking or pkg-config of the named -dev packages; the shared
  # libraries behind them are kept (e.g. libcurl4 for libhdf5, libevent for Open MPI).
  zlib1g-dev libssl-dev libcurl4-openssl-dev libjpeg-dev libaec-dev libibverbs-dev
  libhwloc-dev libevent-dev libpmix-dev libnuma-dev libltdl-dev libnl-3-dev
  libnl-route-3-dev hdf5-helpers
  # Documentation (jquery for Open MPI's HTML pages) and GoogleTest's sources (libgtest-dev
  # has the built libraries and CMake files).
  libjs-jquery libjs-jquery-ui googletest
  # mpirun on one machine needs no ssh (gpu_check.sh selects the "isolated" launcher), and
  # hwloc's optional plugins would pull in X11 and OpenCL.
  openssh-client libhwloc-plugins
)

declare -A stop=() seen=()
for p in "${exclude[@]}"; do stop[$p]=1; done

# Breadth-first over Depends/Pre-Depends, taking the first alternative of each "a | b"
# (what apt would pick) and the first provider of a virtual package. apt-cache depends
# --recurse would follow every alternative (flang, every gfortran, ...) and cannot stop at
# the base system, and apt-get --simulate says nothing when the packages are installed.
queue=("${wanted[@]}")
closure=()
while [ ${#queue[@]} -gt 0 ]; do
  batch=()
  for p in "${queue[@]}"; do
    if [ -z "${seen[$p]:-}" ] && [ -z "${stop[$p]:-}" ]; then
      seen[$p]=1
      batch+=("$p")
      closure+=("$p")
    fi
  done
  queue=()
  [ ${#batch[@]} -eq 0 ] && break
  while read -r p; do queue+=("$p"); done < <(
    apt-cache depends --important --no-recommends --no-suggests "${batch[@]}" | awk '
      /^[^ ]/ { alt = 0; virt = 0; next }                 # a package of the batch
      /^    / { if (virt) { print $1; virt = 0 }; next }   # providers of a virtual dependency
      {
        first = !alt                                     # the previous line did not end an "a |"
        alt = ($1 ~ /^\|/)
        if (!first) next
        name = $2; sub(/:any$/, "", name)
        if (name ~ /^</) virt = 1; else print name
      }')
done

mapfile -t closure < <(printf '%s\n' "${closure[@]}" | sort)
mkdir -p "$dir"
rm -f "$dir"/*.deb
echo "gpu_bundle: downloading ${#closure[@]} packages into $dir"
(cd "$dir" && apt-get download -qq "${closure[@]}" 2>&1 | grep -v 'unsandboxed as root' || true)
count=$(find "$dir" -maxdepth 1 -name '*.deb' | wc -l)
if [ "$count" -ne ${#closure[@]} ]; then
  echo "gpu_bundle: expected ${#closure[@]} .deb files, got $count" >&2
  exit 1
fi
for f in "$dir"/*.deb; do dpkg-deb -W "$f"; done >"$dir/packages.txt"

# Check the base assumption: every shared library the unpacked bundle needs is either in
# the bundle or one that Ubuntu 24.04 (with build-essential and python3) provides.
base_sonames='^(libc|libm|libdl|librt|libpthread|libutil|libresolv|libcrypt|ld-linux-x86-64|libstdc\+\+|libgcc_s|libatomic|libgomp|libquadmath|libz|libzstd|liblzma|libbz2|libssl|libcrypto|libudev|libselinux|libpcre2-8|libgmp|libidn2|libtasn1|libp11-kit|libgnutls|libnettle|libhogweed|libffi|libcom_err|libdb-5\.3|libtinfo|libmd|libaudit|libcap-ng|libsqlite3|libexpat|libuuid)\.so'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "$dir"/*.deb; do dpkg -x "$f" "$tmp"; done
# NEEDED and SONAME entries of every ELF file (an alternatives link such as
# libpsm_infinipath.so.1 is not in the .deb: the SONAME stands for it; gpu_check.sh makes it).
{ find "$tmp" -type f \( -name '*.so*' -o -perm -u+x \) -exec readelf -d {} + 2>/dev/null || true; } |
  sed -n 's/.*(\(NEEDED\|SONAME\)).*\[\(.*\)\]/\1 \2/p' | sort -u >"$tmp.dyn"
needed=$(awk '$1 == "NEEDED" { print $2 }' "$tmp.dyn" | sort -u)
provided=$(awk '$1 == "SONAME" { print $2 }' "$tmp.dyn" | sort -u)
rm -f "$tmp.dyn"
from_base=$(comm -23 <(echo "$needed") <(echo "$provided"))
echo "gpu_bundle: relies on the base system for:" $from_base
missing=$(grep -Ev "$base_sonames" <<<"$from_base" || true)
if [ -n "$missing" ]; then
  echo "gpu_bundle: WARNING: needed but neither carried nor in the assumed base:" $missing >&2
fi

if [ -d ../shared/data ]; then
  # -C the parent so the archive holds data/...; xz: the text compresses about 6x.
  tar -C ../shared -cJf "$dir/shared-data.tar.xz" data
fi

bytes=$(du -cb "$dir"/* | tail -1 | cut -f1)
deb_bytes=$(du -cb "$dir"/*.deb | tail -1 | cut -f1)
awk -v n="$count" -v d="$deb_bytes" -v a="$bytes" -v dir="$dir" 'BEGIN {
  printf "gpu_bundle: %d .deb files, %.1f MB; bundle in all %.1f MB (%s)\n", n, d / 1e6, a / 1e6, dir }'
if [ "$bytes" -ge $((48 * 1024 * 1024)) ]; then
  echo "gpu_bundle: too large to travel with the working tree (64 MiB in all)" >&2
  exit 1
fi
