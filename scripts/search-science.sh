#!/usr/bin/env bash
# The search-strategy table of README.md ("Look-ahead walkers"): on three overlays of
# about 10,000 servents (largest components, 1% replication), flooding at its 99% TTL, the
# expanding ring, dynamic querying, 16 walkers checking every 4 steps along the path and by
# UDP, and the look-ahead walks, each column as mean +- the half-width of its 95% confidence
# interval over SEEDS seeds (each its own topology draw, workload and servent RNGs).
# Ultrapeers exchange query routing tables (turned on by the look-ahead strategies), so
# floods' last hops and dq use them too, as between real 0.6 ultrapeers.
#
#   scripts/search-science.sh [--seeds N] [--queries Q] [--json DIR]
#
# Prints a Markdown table; with --json DIR also keeps each overlay's `servent compare
# --json` output there. Needs python3 (to format the table). Takes ~5 minutes on 2 cores
# with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=5 queries=200 keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --queries) queries="$2"; shift 2 ;;
    --json) keep="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release --locked --quiet
bin=target/release/servent
[ -n "${CARGO_TARGET_DIR:-}" ] && bin="$CARGO_TARGET_DIR/release/servent"
out="${keep:-$(mktemp -d)}"
mkdir -p "$out"
walks='walk:k=16,check=4,walk:k=16,check=4,via=udp,walk:k=16,check=4,via=udp,look=1,bias=degree,look'
# Flooding at the smallest TTL that finds 99% on each overlay (from --sweep flood:ttl=1..8).
runs=(
  "plrg plrg:n=10000,lcc flood:ttl=4"
  "gnutella08 data/p2p-Gnutella08.txt,lcc flood:ttl=4"
  "random random:n=10000,lcc flood:ttl=6"
)
for run in "${runs[@]}"; do
  read -r name topology flood <<<"$run"
  echo "== $name: $topology ($seeds seeds x $queries queries per strategy)" >&2
  "$bin" compare --topology "$topology" --strategies "$flood,ring,dq,$walks" \
    --queries "$queries" --seed 1 --seeds "$seeds" --json >"$out/$name.json"
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
def cell(c, key, digits=1, pct=False):
    v = c[key]
    m, h = v["mean"], v["ci95"]
    if pct:
        return f"{100*m:.1f}% ± {100*h:.1f}"
    return f"{m:,.{digits}f} ± {h:,.{digits}f}"
print("| overlay | strategy | success | msgs/query (query + check) | x 16 walkers by UDP | hops | steps1 | t1 mean | x flood |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for name in ["plrg", "gnutella08", "random"]:
    d = json.load(open(f"{out}/{name}.json"))
    t = d["topology"]
    rows = {i["strategy"]: i["columns"] for i in d["intervals"]}
    names = [i["strategy"] for i in d["intervals"]]
    flood = rows[names[0]]["mean_first_hit_delay"]["mean"]
    udp = rows["walk:k=16,check=4,via=udp"]["messages_per_query"]["mean"]
    label = f"{name}, {t['servents']:,} servents"
    for s in names:
        c = rows[s]
        q = c["query_messages_per_query"]["mean"]
        k = c["check_messages_per_query"]["mean"]
        st = c.get("mean_first_hit_steps")
        steps = f"{st['mean']:.2f}" if st and st["mean"] else "-"
        print(f"| {label} | `{s}` | {cell(c, 'success_rate', pct=True)} | "
              f"{cell(c, 'messages_per_query')} ({q:,.1f} + {k:,.1f}) | "
              f"{c['messages_per_query']['mean'] / udp:.2f} | {cell(c, 'mean_hops', 2)} | "
              f"{steps} | {cell(c, 'mean_first_hit_delay', 2)} | "
              f"{c['mean_first_hit_delay']['mean'] / flood:.2f} |")
        label = ""
PY
