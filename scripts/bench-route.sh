#!/usr/bin/env bash
# Descriptors per second one servent forwards from one loopback link to another, against
# a raw TCP relay of the same bytes in the same run. Pass --json for machine output.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench route -- "$@"
