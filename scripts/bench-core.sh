#!/usr/bin/env bash
# Core throughput (decode -> route -> encode) against memcpy and codec-only baselines,
# measured in one run. Pass --json for machine-readable output.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench core -- "$@"
