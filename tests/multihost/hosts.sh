# Shared by the multi-host tests (source it from the repository root, with `skip` defined):
# two hosts PREFIX1 and PREFIX2 made by tools/netns_hosts.sh on subnet NET, a scratch folder
# $work that both see (under /var/tmp: each host has its own /tmp), the `expect` checks of
# tests/cli/expect.sh, the tiny synthetic world prepared in $work/data, and `rank_hosts`.
# Everything is removed on exit, after `before_hosts_down` (a command; default none).
#
#   make_hosts PREFIX NET HRERE
make_hosts() {
  prefix=$1
  local net=$2
  hrere=$3
  hosts=tools/netns_hosts.sh
  # Each host has its own /tmp: a checkout or build under /tmp (a `mktemp -d` clone) reaches
  # the hosts as a shared folder would on a cluster.
  local path shared=()
  for path in "$PWD" "$(dirname "$hrere")"; do [[ $path == /tmp/* ]] && shared+=("$path"); done
  NETNS_HOSTS_SHARED=$(IFS=: && echo "${shared[*]}")
  export NETNS_HOSTS_SHARED
  "$hosts" up "$prefix" 2 "$net" >/dev/null 2>"/tmp/$prefix-up.err" ||
    skip "cannot make network namespaces: $(tail -1 "/tmp/$prefix-up.err")"
  export TMPDIR=/var/tmp
  source tests/cli/expect.sh
  chmod 755 "$work"
  trap '${before_hosts_down:-true}; "$hosts" down "$prefix"; rm -rf "$work" "/tmp/$prefix-up.err"' EXIT
  trap 'exit 1' INT TERM
  "$hrere" synth --out "$work/world" --seed 5 >/dev/null
  "$hrere" prepare --config configs/synth.yaml --set "data.train=$work/world/train.txt" \
    --set "data.test=$work/world/test.txt" --set "data.relations=$work/world/relation2id.txt" \
    --set "data.kb_train=$work/world/kb/train.txt" --set "data.kb_valid=$work/world/kb/valid.txt" \
    --set "data.kb_test=$work/world/kb/test.txt" --out "$work/data" >/dev/null
}

# The hosts each rank of RUN ran on, counted, from its last heartbeat ("beat pid host ...").
rank_hosts() { for f in "$1"/.ranks/rank-*; do cut -d' ' -f3 "$f"; done | sort | uniq -c | xargs; }
