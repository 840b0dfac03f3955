#!/usr/bin/env bash
# Test hosts on one machine: each host is a network namespace with its own address, joined
# to the others by a bridge, and every command run "on" it also gets its own host name (a
# UTS namespace) and its own /tmp (/run/hrere-hosts/HOST.tmp), node-local as on a cluster:
# PMIx and Open MPI keep per-node files there. The rest of the file system stays shared, as
# a cluster's shared file system is. Folders under /tmp that all hosts must see (a checkout
# made under /tmp, as `mktemp -d` does) are named in NETNS_HOSTS_SHARED (colon-separated):
# each host sees them at the same path in its own /tmp. For the multi-host tests
# (tests/multihost/); needs root and iproute2.
#
#   tools/netns_hosts.sh up PREFIX N [NET]   # hosts PREFIX1..PREFIXN at 10.213.NET.1..N
#   tools/netns_hosts.sh run HOST CMD...     # CMD on HOST (also an rsh agent: see below)
#   tools/netns_hosts.sh rsh HOST CMD...     # the same with CMD as one shell string (ssh's)
#   tools/netns_hosts.sh link PREFIX I up|down  # connects or cuts host I's link
#   tools/netns_hosts.sh pids PREFIX         # processes left on the hosts, one "HOST PID"
#   tools/netns_hosts.sh down PREFIX         # kills what runs there, removes everything
#
# `up` first removes what an earlier `up` of the same PREFIX left. The bridge PREFIX-br holds
# 10.213.NET.254, so the machine itself (a head node) reaches every host. Names resolve on
# the hosts through /etc/netns/HOST/hosts, which `ip netns exec` puts over /etc/hosts there.
# PREFIX: at most 8 letters and digits (interface names are limited to 15 bytes).
set -euo pipefail

die() { echo "netns_hosts: $*" >&2; exit 1; }
hosts_of() { ip netns list | awk '{print $1}' | grep -E "^$1[0-9]+$" | sort -V || true; }

down() {
  local prefix=$1 host pid
  for host in $(hosts_of "$prefix"); do
    for pid in $(ip netns pids "$host" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$host" 2>/dev/null || true
    rm -rf "/etc/netns/$host" "/run/hrere-hosts/$host.tmp"
  done
  ip link del "$prefix-br" 2>/dev/null || true
}

up() {
  local prefix=$1 count=$2 net=${3:-0} i host
  [[ $prefix =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "PREFIX '$prefix': 1-8 lower-case letters and digits"
  [[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 200 ] || die "N '$count': 1 to 200"
  [[ $net =~ ^[0-9]+$ ]] && [ "$net" -le 255 ] || die "NET '$net': 0 to 255"
  [ "$(id -u)" -eq 0 ] || die "needs root (ip netns)"
  down "$prefix"
  ip link add "$prefix-br" type bridge
  ip addr add "10.213.$net.254/24" dev "$prefix-br"
  ip link set "$prefix-br" up
  local hosts_file="127.0.0.1 localhost"$'\n'
  for i in $(seq "$count"); do hosts_file+="10.213.$net.$i $prefix$i"$'\n'; done
  for i in $(seq "$count"); do
    host=$prefix$i
    ip netns add "$host"
    ip link add "$host-e" type veth peer name "$host-h"
    ip link set "$host-e" netns "$host"
    ip link set "$host-h" master "$prefix-br" up
    ip -n "$host" link set lo up
    ip -n "$host" link set "$host-e" name eth0
    ip -n "$host" addr add "10.213.$net.$i/24" dev eth0
    ip -n "$host" link set eth0 up
    ip -n "$host" route add default via "10.213.$net.254"
    mkdir -p "/etc/netns/$host"
    printf '%s' "$hosts_file" >"/etc/netns/$host/hosts"
    mkdir -p /run/hrere-hosts && mkdir -m 1777 "/run/hrere-hosts/$host.tmp"
  done
  # Bridged frames must not go through the machine's own firewall rules.
  [ -w /proc/sys/net/bridge/bridge-nf-call-iptables ] &&
    echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables
  for i in $(seq "$count"); do echo "$prefix$i 10.213.$net.$i"; done
}

# run HOST CMD...: CMD in HOST's network namespace, with host name HOST and HOST's
# /etc/hosts and /tmp (the NETNS_HOSTS_SHARED folders bound into it first, so the recursive
# bind over /tmp carries them). Not `ip netns exec`: it mounts a fresh /sys, without the
# cgroup file systems slurmd needs.
run_on() {
  local host=$1
  shift
  ip netns list | awk '{print $1}' | grep -qx "$host" || die "no host '$host' (run up first)"
  local shared
  IFS=: read -ra shared <<<"${NETNS_HOSTS_SHARED:-}"
  for path in "${shared[@]}"; do
    [[ $path == /tmp/?* && -d $path ]] || die "NETNS_HOSTS_SHARED: '$path' is not a folder under /tmp"
  done
  exec nsenter --net="/run/netns/$host" unshare --uts --mount sh -c \
    'host=$1 && shift && tmp=/run/hrere-hosts/$host.tmp &&
     hostname "$host" && mount --bind "/etc/netns/$host/hosts" /etc/hosts &&
     IFS=: && for path in ${NETNS_HOSTS_SHARED:-}; do
       mkdir -p "$tmp${path#/tmp}" && mount --bind "$path" "$tmp${path#/tmp}" || exit 1
     done && unset IFS &&
     mount --rbind "$tmp" /tmp && exec "$@"' sh "$host" "$@"
}

link() {
  local prefix=$1 index=$2 state=$3
  [[ $state == up || $state == down ]] || die "link state '$state': up or down"
  ip -n "$prefix$index" link set eth0 "$state"
}

pids() {
  local host pid
  for host in $(hosts_of "$1"); do
    for pid in $(ip netns pids "$host" 2>/dev/null); do echo "$host $pid"; done
  done
}

command=${1:-}
[ $# -gt 0 ] && shift
case $command in
  up) [ $# -ge 2 ] || die "usage: up PREFIX N [NET]"; up "$@" ;;
  down) [ $# -eq 1 ] || die "usage: down PREFIX"; down "$1" ;;
  run) [ $# -ge 2 ] || die "usage: run HOST CMD..."; run_on "$@" ;;
  # Open MPI's launcher calls its agent as ssh: HOST, then the remote command as words that
  # make one shell command line.
  rsh) [ $# -ge 2 ] || die "usage: rsh HOST CMD..."; host=$1; shift; run_on "$host" sh -c "$*" ;;
  link) [ $# -eq 3 ] || die "usage: link PREFIX I up|down"; link "$@" ;;
  pids) [ $# -eq 1 ] || die "usage: pids PREFIX"; pids "$1" ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
