#!/usr/bin/env bash
# Starts N separate `servent serve` processes on 127.0.0.1, linked in a ring plus random
# chords, prints their addresses and waits; Ctrl-C (or `scripts/mesh.sh stop` from another
# shell) stops them all with a clean shutdown (Bye, flush, close).
#
#   scripts/mesh.sh 10          # start 10 servents
#   scripts/mesh.sh stop        # stop a running mesh
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${SERVENT_MESH_DIR:-${TMPDIR:-/tmp}/servent-mesh}

stop() {
  if [ -f "$STATE/pids" ]; then
    while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done < "$STATE/pids"
    for _ in $(seq 50); do
      alive=0
      while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$STATE/pids"
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
    rm -f "$STATE/pids"
    echo "mesh stopped"
  fi
}

if [ "${1:-}" = "stop" ]; then stop; exit 0; fi
N=${1:?usage: scripts/mesh.sh N | stop}
[ "$N" -ge 2 ] || { echo "N must be at least 2" >&2; exit 2; }
[ -f "$STATE/pids" ] && { echo "a mesh is running ($STATE/pids); scripts/mesh.sh stop first" >&2; exit 1; }

cargo build --release --quiet
BIN=target/release/servent
mkdir -p "$STATE"
: > "$STATE/pids"
trap 'stop; exit 0' INT TERM

addr_of() { # waits for servent $1 to print its address
  for _ in $(seq 100); do
    a=$(grep -o 'listening on [0-9.]*:[0-9]*' "$STATE/node$1.log" 2>/dev/null | awk '{print $3}' | head -n1)
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.05
  done
  echo "servent $1 did not start; see $STATE/node$1.log" >&2; exit 1
}

declare -a ADDR
for i in $(seq 0 $((N - 1))); do
  peers=()
  [ "$i" -gt 0 ] && peers+=(--peer "${ADDR[$((i - 1))]}")                  # ring
  [ "$i" -eq $((N - 1)) ] && [ "$N" -gt 2 ] && peers+=(--peer "${ADDR[0]}") # close it
  [ "$i" -gt 2 ] && peers+=(--peer "${ADDR[$((RANDOM % (i - 1)))]}")        # a chord
  rm -rf "$STATE/data$i"
  RUST_LOG=${RUST_LOG:-servent=info} "$BIN" serve --listen 127.0.0.1:0 --data-dir "$STATE/data$i" \
    --min-peers 2 --max-peers 8 --seed "$i" "${peers[@]}" > "$STATE/node$i.log" 2>&1 &
  echo $! >> "$STATE/pids"
  ADDR[$i]=$(addr_of "$i")
  echo "servent $i  ${ADDR[$i]}  status: curl -s http://${ADDR[$i]}/status"
done
echo "mesh of $N servents running (logs in $STATE); Ctrl-C or 'scripts/mesh.sh stop' to stop"
wait
