#!/usr/bin/env bash
# The churn experiment (issue 10): N separate `servent serve` processes on 127.0.0.1,
# searches before and after SIGKILLing a fraction of them, heal time and degrees.
# A thin wrapper: builds the release binary if needed and passes every argument on.
#
#   scripts/churn.sh                      # 40 servents, 30% killed, 30 searches each side
#   scripts/churn.sh --servents 20 --json
#   scripts/churn.sh --help
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="${CARGO_TARGET_DIR:-target}/release/servent"
exec "$BIN" churn "$@"
