#!/usr/bin/env bash
# Simulator benchmark: `servent compare` on a 100,000-servent PLRG, 1,000 queries each of
# flood (TTL 7), expanding ring and 32 walkers, against a baseline run in the same command
# (the same strategies on a 10,000-servent PLRG, one thread): wall time, simulated events
# per second, peak RSS (/usr/bin/time -v), and the ratio of events/s to the baseline.
#
#   scripts/bench-sim.sh                 # the issue's benchmark
#   N=30000 QUERIES=200 scripts/bench-sim.sh   # a quicker variant
#   THREADS=1 scripts/bench-sim.sh       # one network instead of one per CPU (max 2)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100000}
QUERIES=${QUERIES:-1000}
SEED=${SEED:-1}
STRATEGIES=${STRATEGIES:-flood:ttl=7,ring,walk:k=32}
THREADS_ARG=()
if [[ -n "${THREADS:-}" ]]; then THREADS_ARG=(--threads "$THREADS"); fi

cargo build --release --quiet
bin=target/release/servent
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME ARGS...: runs compare under /usr/bin/time -v, prints one result line.
run() {
    local name=$1
    shift
    /usr/bin/time -v "$bin" compare --strategies "$STRATEGIES" --seed "$SEED" --json "$@" \
        >"$tmp/$name.json" 2>"$tmp/$name.time"
    local wall events eps rss
    wall=$(grep -o '"wall_seconds": [0-9.e+-]*' "$tmp/$name.json" | awk '{print $2}')
    events=$(grep -o '"events": [0-9]*' "$tmp/$name.json" | tail -1 | awk '{print $2}')
    eps=$(grep -o '"events_per_second": [0-9.e+-]*' "$tmp/$name.json" | awk '{print $2}')
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$name.time")
    printf '%-9s %12s %10.1f %14.0f %10.0f\n' "$name" "$events" "$wall" "$eps" "$((rss / 1024))"
    echo "$eps" >"$tmp/$name.eps"
}

echo "servent compare benchmark: plrg n=$N, $QUERIES queries each of $STRATEGIES, seed $SEED"
printf '%-9s %12s %10s %14s %10s\n' run events wall_s events_per_s peak_MiB
run baseline --topology plrg:n=10000 --queries "$QUERIES" --threads 1
run main --topology "plrg:n=$N" --queries "$QUERIES" "${THREADS_ARG[@]}"
awk -v a="$(cat "$tmp/main.eps")" -v b="$(cat "$tmp/baseline.eps")" \
    'BEGIN { printf "events/s ratio main/baseline: %.2f\n", a / b }'
echo "per-strategy results of the main run:"
grep -o '"strategy": "[^"]*"\|"success_rate": [0-9.]*\|"messages_per_query": [0-9.]*\|"mean_hops": [0-9.]*' \
    "$tmp/main.json" | paste - - - - | sed 's/"//g'
