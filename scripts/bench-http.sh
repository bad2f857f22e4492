#!/usr/bin/env bash
# HTTP file serving: servent against nginx, same file, same machine, same run.
#
# Starts nginx (Debian package nginx-light, installed if missing; wrk too) and
# `servent share` on loopback, both serving the same file (1 GiB by default), then:
#  (a) requests/s for 4 KiB ranged GETs at random offsets: wrk -t2 -c64;
#  (b) server CPU seconds per GiB for whole-file GETs (curl to /dev/null, utime+stime
#      of the server processes from /proc before and after).
# Prints both servers and the ratios (servent / nginx), writes JSON and an SVG chart
# to target/bench-http/.
#
# Each measure alternates nginx and servent for --rounds rounds and reports medians: the
# machine is shared, so one sample of either can land on a busy moment.
#
# Usage: scripts/bench-http.sh [--size-mib N] [--duration SECS] [--whole-gets N] [--rounds N]
# Aims: (a) servent >= 1.0x nginx requests/s; (b) servent <= 1.5x nginx CPU per GiB.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=1024
DURATION=10
WHOLE_GETS=4
ROUNDS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mib) SIZE_MIB="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --whole-gets) WHOLE_GETS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! need curl; then
    echo "== installing nginx-light, wrk, curl"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q nginx-light wrk curl >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "== building servent (release)"
cargo build --release --quiet
SERVENT=target/release/servent

OUT=target/bench-http
WORK=$(mktemp -d /tmp/servent-bench-http.XXXXXX)
SHARE="$WORK/share"
mkdir -p "$OUT" "$SHARE" "$WORK/data" "$WORK/nginx"
chmod 755 "$WORK" "$SHARE" # nginx workers run as an unprivileged user
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -f "$WORK/nginx/nginx.pid" ]; then kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

FILE="bench.bin"
echo "== writing a ${SIZE_MIB} MiB file"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$SHARE/$FILE"
chmod 644 "$SHARE/$FILE"
LEN=$(stat -c %s "$SHARE/$FILE")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NPORT=$(free_port)
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx;
    proxy_temp_path $WORK/nginx;
    fastcgi_temp_path $WORK/nginx;
    uwsgi_temp_path $WORK/nginx;
    scgi_temp_path $WORK/nginx;
    types { application/octet-stream bin; }
    server {
        listen 127.0.0.1:$NPORT;
        root $SHARE;
        location /get/0/ { alias $SHARE/; }
    }
}
EOF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
for _ in $(seq 50); do [ -s "$WORK/nginx/nginx.pid" ] && break; sleep 0.1; done

echo "== starting servent share (hashing first)"
"$SERVENT" share --share "$SHARE" --data-dir "$WORK/data" --listen 127.0.0.1:0 \
    --max-uploads 1000 --wait-hashed >"$WORK/servent.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
for _ in $(seq 600); do grep -q "serving HTTP on" "$WORK/servent.log" && break; sleep 0.1; done
SADDR=$(grep -o '127.0.0.1:[0-9]*' "$WORK/servent.log" | head -1)
[ -n "$SADDR" ] || { cat "$WORK/servent.log"; exit 1; }

NURL="http://127.0.0.1:$NPORT/get/0/$FILE"
SURL="http://$SADDR/get/0/$FILE"
# Both must serve the same bytes for the same range.
for url in "$NURL" "$SURL"; do
    got=$(curl -s -H "Range: bytes=4096-8191" "$url" | sha1sum | cut -d' ' -f1)
    want=$(dd if="$SHARE/$FILE" bs=4096 skip=1 count=1 2>/dev/null | sha1sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || { echo "wrong bytes from $url" >&2; curl -s -i -H "Range: bytes=4096-8191" "$url" | head -12 >&2; exit 1; }
done

cat >"$WORK/range.lua" <<EOF
math.randomseed(42)
local len = $LEN
request = function()
    local off = math.random(0, len - 4096)
    return wrk.format("GET", nil, { ["Range"] = "bytes=" .. off .. "-" .. (off + 4095) })
end
EOF

rps() { # url
    wrk -t2 -c64 -d"${DURATION}s" -s "$WORK/range.lua" "$1" | awk '/Requests\/sec/ {print $2}'
}

# utime+stime in seconds of a process and its threads (and of nginx's workers).
cpu_of() { # pids...
    local total=0 ticks
    ticks=$(getconf CLK_TCK)
    for p in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    awk -v t="$total" -v k="$ticks" 'BEGIN { printf "%.4f", t / k }'
}
nginx_pids() { pgrep -f "nginx: (master|worker) process" -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' '; cat "$WORK/nginx/nginx.pid"; }

cpu_per_gib() { # url pids...
    local url=$1; shift
    local before after
    before=$(cpu_of "$@")
    for _ in $(seq "$WHOLE_GETS"); do
        curl -s -o /dev/null "$url"
    done
    after=$(cpu_of "$@")
    awk -v a="$after" -v b="$before" -v n="$WHOLE_GETS" -v l="$LEN" \
        'BEGIN { printf "%.4f", (a - b) / (n * l / 1073741824) }'
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "== (a) 4 KiB ranged GETs, wrk -t2 -c64 -d${DURATION}s, $ROUNDS rounds"
N_ALL=""; S_ALL=""
for r in $(seq "$ROUNDS"); do
    n=$(rps "$NURL"); s=$(rps "$SURL")
    echo "round $r: nginx $n req/s, servent $s req/s"
    N_ALL="$N_ALL $n"; S_ALL="$S_ALL $s"
done
N_RPS=$(echo "$N_ALL" | median); S_RPS=$(echo "$S_ALL" | median)

echo "== (b) whole-file GETs x$WHOLE_GETS, server CPU seconds per GiB, $ROUNDS rounds"
N_ALL=""; S_ALL=""
for r in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2046
    n=$(cpu_per_gib "$NURL" $(nginx_pids)); s=$(cpu_per_gib "$SURL" "$SPID")
    echo "round $r: nginx $n s/GiB, servent $s s/GiB"
    N_ALL="$N_ALL $n"; S_ALL="$S_ALL $s"
done
N_CPU=$(echo "$N_ALL" | median); S_CPU=$(echo "$S_ALL" | median)

RPS_RATIO=$(awk -v s="$S_RPS" -v n="$N_RPS" 'BEGIN { printf "%.2f", s / n }')
CPU_RATIO=$(awk -v s="$S_CPU" -v n="$N_CPU" 'BEGIN { printf "%.2f", s / n }')
echo
printf '%-34s %12s %12s %8s %s\n' "measure" "nginx" "servent" "ratio" "aim"
printf '%-34s %12s %12s %8s %s\n' "4 KiB ranged GETs (req/s)" "$N_RPS" "$S_RPS" "${RPS_RATIO}x" ">= 1.0x"
printf '%-34s %12s %12s %8s %s\n' "whole-file CPU (s per GiB served)" "$N_CPU" "$S_CPU" "${CPU_RATIO}x" "<= 1.5x"

cat >"$OUT/results.json" <<EOF
{"file_bytes": $LEN, "duration_secs": $DURATION, "whole_gets": $WHOLE_GETS, "rounds": $ROUNDS,
 "ranged_4k_rps": {"nginx": $N_RPS, "servent": $S_RPS, "ratio": $RPS_RATIO},
 "whole_cpu_secs_per_gib": {"nginx": $N_CPU, "servent": $S_CPU, "ratio": $CPU_RATIO}}
EOF

# A two-panel bar chart of the ratios' inputs.
python3 - "$OUT/results.json" "$OUT/bench-http.svg" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
panels = [("4 KiB ranged GETs: requests/s (higher is better)", r["ranged_4k_rps"]),
          ("Whole-file GETs: server CPU s per GiB (lower is better)", r["whole_cpu_secs_per_gib"])]
w, h = 640, 140 * len(panels) + 20
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
       f'<rect width="{w}" height="{h}" fill="white"/>']
for i, (title, v) in enumerate(panels):
    y0 = 20 + i * 140
    out.append(f'<text x="10" y="{y0}" font-weight="bold">{title}</text>')
    top = max(v["nginx"], v["servent"]) or 1
    for j, name in enumerate(["nginx", "servent"]):
        y = y0 + 20 + j * 45
        bw = 420 * v[name] / top
        color = "#888" if name == "nginx" else "#2a7"
        out.append(f'<text x="10" y="{y + 22}">{name}</text>')
        out.append(f'<rect x="80" y="{y}" width="{bw:.1f}" height="32" fill="{color}"/>')
        out.append(f'<text x="{85 + bw:.1f}" y="{y + 22}">{v[name]:g}</text>')
    out.append(f'<text x="10" y="{y0 + 125}">servent / nginx = {v["ratio"]}x</text>')
out.append('</svg>')
open(sys.argv[2], "w").write("\n".join(out))
EOF
echo "results: $OUT/results.json, chart: $OUT/bench-http.svg"
