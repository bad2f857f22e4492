#!/usr/bin/env bash
# Runs every fuzz target (or the ones named), one after another, for SECONDS_PER_TARGET
# each (default 60), and prints a table (target, executions, crashes, seconds) or, with
# --json, a JSON array. Exits non-zero when any target crashed (the input is saved under
# fuzz/artifacts/<target>/ by libFuzzer).
#
#   scripts/fuzz.sh [--json] [--runs N] [--sanitizer S] [SECONDS_PER_TARGET] [TARGET...]
#
# --runs N stops each target after N executions (SECONDS_PER_TARGET still bounds it).
# --sanitizer none builds without AddressSanitizer (the default, address): 2-4x more
# executions per second; safe Rust's panics and the allocation bound still fail a run.
#
# Needs the nightly toolchain; installs cargo-fuzz when missing. Each target keeps its
# corpus in fuzz/corpus/<target>/ (gitignored), seeded from fuzz/seeds/<target>/ when
# that exists; logs go to fuzz/corpus/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

json=0
runs=()
sanitizer=address
args=()
while [[ $# -gt 0 ]]; do
    a=$1
    shift
    case "$a" in
    --json) json=1 ;;
    --runs)
        [[ ${1:-} =~ ^[0-9]+$ ]] || { echo "--runs needs a count" >&2; exit 2; }
        runs=(-runs="$1")
        shift
        ;;
    --sanitizer)
        sanitizer=${1:?--sanitizer needs a name}
        shift
        ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$a") ;;
    esac
done
set -- "${args[@]+"${args[@]}"}"
seconds=60
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz >&2
fi
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

for t in "${targets[@]}"; do cargo +nightly fuzz build --sanitizer "$sanitizer" "$t" >&2; done
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="target/$triple/release"
mkdir -p corpus/logs

rows=()
failed=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    dirs=("corpus/$t")
    [[ -d "seeds/$t" ]] && dirs+=("seeds/$t")
    before=$(find "artifacts/$t" -type f | wc -l)
    log="corpus/logs/$t.log"
    echo "fuzzing $t for ${seconds}s" >&2
    start=$(date +%s)
    status=0
    "$bin_dir/$t" -max_total_time="$seconds" "${runs[@]+"${runs[@]}"}" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "${dirs[@]}" >"$log" 2>&1 || status=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [[ -z $execs ]]; then
        # A crash ends the run before the final stats: take the last progress line.
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    crashes=$(($(find "artifacts/$t" -type f | wc -l) - before))
    if [[ $status -ne 0 && $crashes -eq 0 ]]; then
        crashes=1 # died without an artifact (e.g. the build or the seed corpus)
    fi
    [[ $crashes -gt 0 ]] && failed=1
    rows+=("$t ${execs:-0} $crashes $took")
done

if [[ $json -eq 1 ]]; then
    printf '['
    sep=''
    for r in "${rows[@]}"; do
        read -r t e c s <<<"$r"
        printf '%s{"target":"%s","executions":%s,"crashes":%s,"seconds":%s}' "$sep" "$t" "$e" "$c" "$s"
        sep=','
    done
    printf ']\n'
else
    printf '%-14s %14s %8s %8s\n' target executions crashes seconds
    for r in "${rows[@]}"; do
        read -r t e c s <<<"$r"
        printf '%-14s %14s %8s %8s\n' "$t" "$e" "$c" "$s"
    done
fi
exit $failed
