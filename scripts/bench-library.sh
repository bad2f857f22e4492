#!/usr/bin/env bash
# Query answering over 100,000 shared files: keyword index against a linear scan of every
# name, measured in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench library -- "$@"
