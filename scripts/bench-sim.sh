#!/usr/bin/env bash
# Simulator benchmark: `servent compare` on a 100,000-servent PLRG, 1,000 queries each of
# flood (TTL 7), expanding ring and 32 walkers: wall time, CPU time (/usr/bin/time -v),
# simulated events per CPU-second and peak RSS, printed beside the limit run in the same
# command: a plain CSR BFS over the same graph (benches/bfs.rs), in link ends scanned per
# CPU-second. With BIG=1 also a 1,000,000-servent PLRG, 100 queries per strategy (peak RSS
# and wall time are the figures there).
#
#   scripts/bench-sim.sh                        # the issue's benchmark
#   N=30000 QUERIES=200 scripts/bench-sim.sh    # a quicker variant
#   THREADS=1 scripts/bench-sim.sh              # one network instead of one per CPU (max 2)
#   BIG=1 scripts/bench-sim.sh                  # add the million-servent run
#   BIG=1 BIG_N=300000 BIG_QUERIES=20 scripts/bench-sim.sh   # BIG_THREADS=2: two networks
#   BASELINE=/tmp/servent-main N=100000 QUERIES=200 scripts/bench-sim.sh
#       # and a baseline binary interleaved with this build (base, new; ROUNDS=3 rounds):
#       # min/median/max of the events/CPU-second and peak-RSS ratios, and whether both
#       # printed the same results (timings aside)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-100000}
QUERIES=${QUERIES:-1000}
SEED=${SEED:-1}
STRATEGIES=${STRATEGIES:-flood:ttl=7,ring,walk:k=32}
BIG_N=${BIG_N:-1000000}
BIG_QUERIES=${BIG_QUERIES:-100}
THREADS_ARG=()
if [[ -n "${THREADS:-}" ]]; then THREADS_ARG=(--threads "$THREADS"); fi

cargo build --release --quiet
cargo bench --quiet --bench bfs --no-run 2>/dev/null
bin=${CARGO_TARGET_DIR:-target}/release/servent
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cpu FILE: user + system seconds from a /usr/bin/time -v report.
cpu() {
    awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$1"
}

# run NAME N QUERIES [ARGS...]: runs compare ($runbin, default this build) under
# /usr/bin/time -v, prints one result line.
run() {
    local name=$1 n=$2 queries=$3
    shift 3
    /usr/bin/time -v "${runbin:-$bin}" compare --topology "plrg:n=$n" --queries "$queries" \
        --strategies "$STRATEGIES" --seed "$SEED" --json "$@" \
        >"$tmp/$name.json" 2>"$tmp/$name.time"
    local wall events threads cpu_s rss
    wall=$(grep -o '"wall_seconds": [0-9.e+-]*' "$tmp/$name.json" | awk '{print $2}')
    events=$(grep -o '"events": [0-9]*' "$tmp/$name.json" | tail -1 | awk '{print $2}')
    threads=$(grep -o '"threads": [0-9]*' "$tmp/$name.json" | awk '{print $2}')
    cpu_s=$(cpu "$tmp/$name.time")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/$name.time")
    printf '%-10s %9s %8s %12s %8.1f %8s %14.0f %9.0f\n' "$name" "$n" "$threads" "$events" \
        "$wall" "$cpu_s" "$(awk -v e="$events" -v c="$cpu_s" 'BEGIN {print e / c}')" \
        "$((rss / 1024))"
    awk -v e="$events" -v c="$cpu_s" 'BEGIN {print e / c}' >"$tmp/$name.eps"
    echo "$rss" >"$tmp/$name.rss"
}

# strip FILE: a compare JSON without its timings.
strip() {
    grep -v '"wall_seconds"\|"events_per_second"' "$1"
}

# spread FILE: min/median/max of the numbers in FILE, one a line.
spread() {
    sort -g "$1" | awk '{v[NR] = $1} END {printf "%.3f / %.3f / %.3f", v[1], v[int((NR + 1) / 2)], v[NR]}'
}

echo "servent compare benchmark: plrg n=$N, $QUERIES queries each of $STRATEGIES, seed $SEED"
cargo bench --quiet --bench bfs -- --topology "plrg:n=$N" --seed "$SEED" --json >"$tmp/bfs.json"
bfs=$(grep -o '"edges_per_cpu_second":[0-9.]*' "$tmp/bfs.json" | cut -d: -f2)
printf '%-10s %9s %8s %12s %8s %8s %14s %9s\n' run servents threads events wall_s cpu_s \
    events/cpu_s peak_MiB
run main "$N" "$QUERIES" "${THREADS_ARG[@]}"
printf 'limit: CSR BFS over the same graph, %.0f link ends per CPU-second (benches/bfs.rs)\n' "$bfs"
awk -v a="$(cat "$tmp/main.eps")" -v b="$bfs" \
    'BEGIN { printf "simulator events per CPU-second / BFS link ends per CPU-second: %.3f\n", a / b }'
echo "per-strategy results of the main run:"
grep -o '"strategy": "[^"]*"\|"success_rate": [0-9.]*\|"messages_per_query": [0-9.]*\|"mean_hops": [0-9.]*' \
    "$tmp/main.json" | paste - - - - | sed 's/"//g'
if [[ -n "${BASELINE:-}" ]]; then
    echo "interleaved with the baseline $BASELINE (${ROUNDS:-3} rounds, threads ${THREADS:-default}):"
    same=yes
    for r in $(seq "${ROUNDS:-3}"); do
        runbin=$BASELINE run "base$r" "$N" "$QUERIES" "${THREADS_ARG[@]}"
        run "new$r" "$N" "$QUERIES" "${THREADS_ARG[@]}"
        awk -v a="$(cat "$tmp/new$r.eps")" -v b="$(cat "$tmp/base$r.eps")" \
            'BEGIN {print a / b}' >>"$tmp/eps.ratio"
        awk -v a="$(cat "$tmp/new$r.rss")" -v b="$(cat "$tmp/base$r.rss")" \
            'BEGIN {print a / b}' >>"$tmp/rss.ratio"
        cmp -s <(strip "$tmp/base$r.json") <(strip "$tmp/new$r.json") || same=no
    done
    echo "events/CPU-s this build / baseline, min/median/max: $(spread "$tmp/eps.ratio")"
    echo "peak RSS this build / baseline, min/median/max: $(spread "$tmp/rss.ratio")"
    echo "same results as the baseline (timings aside): $same"
fi
if [[ -n "${BIG:-}" ]]; then
    # One network by default: each thread's network holds the servents its query reaches.
    echo "big run: plrg n=$BIG_N, $BIG_QUERIES queries each (goal: peak RSS <= 1536 MiB)"
    run big "$BIG_N" "$BIG_QUERIES" --threads "${BIG_THREADS:-1}"
fi
