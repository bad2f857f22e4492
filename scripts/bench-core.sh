#!/usr/bin/env bash
# Core throughput per CPU-second (handle_descriptor + poll_transmit, 8 neighbours, route
# tables at capacity), beside a keyed HashMap insert loop as the baseline in the same run;
# three interleaved runs, min/median/max. Pass --json for machine-readable output.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench core -- "$@"
