#!/usr/bin/env bash
# Starts N servents, each in its own network namespace with its own address (10.77.0.x on
# a bridge that lives in a namespace of its own, so the host's network is untouched),
# linked in a ring plus random chords: shows that nothing assumes one host. Needs root.
# Ctrl-C (or `scripts/netns-mesh.sh stop`) stops the servents and removes every namespace,
# veth pair and the bridge it created. Not part of CI.
#
#   sudo scripts/netns-mesh.sh 6
#   sudo scripts/netns-mesh.sh stop
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=svnt
STATE=${TMPDIR:-/tmp}/servent-netns
NET=10.77.0

cleanup() {
  if [ -f "$STATE/pids" ]; then
    while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done < "$STATE/pids"
    sleep 1
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done < "$STATE/pids"
    rm -f "$STATE/pids"
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep "^$PREFIX-" || true); do
    ip netns delete "$ns" 2>/dev/null || true
  done
  echo "namespaces removed"
}

if [ "${1:-}" = "stop" ]; then cleanup; exit 0; fi
N=${1:?usage: scripts/netns-mesh.sh N | stop}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
[ "$N" -ge 2 ] && [ "$N" -le 200 ] || { echo "N must be 2..200" >&2; exit 2; }

cargo build --release --quiet
BIN=$PWD/target/release/servent
mkdir -p "$STATE"
: > "$STATE/pids"
trap 'cleanup; exit 0' INT TERM

ip netns add "$PREFIX-br"
ip -n "$PREFIX-br" link add br0 type bridge
ip -n "$PREFIX-br" link set br0 up
for i in $(seq 1 "$N"); do
  ns="$PREFIX-$i"
  ip netns add "$ns"
  ip link add "$PREFIX-v$i" type veth peer name "$PREFIX-p$i"
  ip link set "$PREFIX-v$i" netns "$ns"
  ip link set "$PREFIX-p$i" netns "$PREFIX-br"
  ip -n "$PREFIX-br" link set "$PREFIX-p$i" master br0 up
  ip -n "$ns" addr add "$NET.$i/24" dev "$PREFIX-v$i"
  ip -n "$ns" link set "$PREFIX-v$i" up
  ip -n "$ns" link set lo up
done

for i in $(seq 1 "$N"); do
  peers=()
  [ "$i" -gt 1 ] && peers+=(--peer "$NET.$((i - 1)):6346")
  [ "$i" -eq "$N" ] && [ "$N" -gt 2 ] && peers+=(--peer "$NET.1:6346")
  [ "$i" -gt 3 ] && peers+=(--peer "$NET.$((1 + RANDOM % (i - 2))):6346")
  rm -rf "$STATE/data$i"
  RUST_LOG=${RUST_LOG:-servent=info} ip netns exec "$PREFIX-$i" "$BIN" serve --listen "$NET.$i:6346" \
    --data-dir "$STATE/data$i" --min-peers 2 --max-peers 8 --seed "$i" "${peers[@]}" \
    > "$STATE/node$i.log" 2>&1 &
  echo $! >> "$STATE/pids"
  echo "servent $i  $NET.$i:6346  (namespace $PREFIX-$i)"
  sleep 0.2
done
echo "netns mesh of $N servents running (logs in $STATE)."
echo "(/status answers loopback clients only: these servents listen on 10.77.0.x, so read their logs)"
wait
