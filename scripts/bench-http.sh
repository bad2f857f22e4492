#!/usr/bin/env bash
# HTTP file serving: servent against nginx, same file, same machine, same run.
#
# Starts nginx (Debian package nginx-light, installed if missing; wrk, curl and strace
# too) and `servent share` on loopback, both serving the same file (1 GiB by default),
# then for --rounds interleaved rounds (nginx, then servent, in each):
#  (a) 4 KiB ranged GETs at random offsets (wrk -t2 -c8): requests/s, and requests per
#      server CPU-second (utime+stime of the server processes from /proc around the run);
#  (b) whole-file GETs (curl to /dev/null): server CPU seconds per GiB served.
# Each ratio (servent / nginx) is taken within its round and reported as min / median /
# max over the rounds: the machine is shared, and one round compares two runs seconds
# apart. Then (c) each server's system calls for one whole-file GET (strace -c -f
# attached to it), per GiB. Writes JSON and an SVG chart to target/bench-http/.
#
# Eight connections by default: servent admits at most 8 HTTP connections per client
# address (`http::limits::MAX_HTTP_PER_ADDRESS`, a flood defence) and wrk's all come from
# 127.0.0.1. --connections N changes it for both servers, and servent is then started with
# --max-http-per-address N so that none is refused (a 503 costs less than an answer).
#
# Usage: scripts/bench-http.sh [--size-mib N] [--duration SECS] [--whole-gets N] [--rounds N]
#                              [--connections N]
# Aims: (a) servent >= 1.0x nginx requests/s and requests per CPU-second;
#       (b) servent <= 1.1x nginx CPU per GiB.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=1024
DURATION=10
WHOLE_GETS=4
ROUNDS=3
CONNS=8
while [ $# -gt 0 ]; do
    case "$1" in
        --size-mib) SIZE_MIB="$2"; shift 2 ;;
        --duration) DURATION="$2"; shift 2 ;;
        --whole-gets) WHOLE_GETS="$2"; shift 2 ;;
        --rounds) ROUNDS="$2"; shift 2 ;;
        --connections) CONNS="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || ! need curl || ! need strace; then
    echo "== installing nginx-light, wrk, curl, strace"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q nginx-light wrk curl >/dev/null
    apt-get install -y -q strace >/dev/null || echo "(no strace: no syscall counts)"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "== building servent (release)"
cargo build --release --quiet
SERVENT="${CARGO_TARGET_DIR:-target}/release/servent"

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
    --max-uploads 1000 --max-http-per-address "$((CONNS > 8 ? CONNS : 8))" --wait-hashed \
    >"$WORK/servent.log" 2>&1 &
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

# utime+stime in seconds of processes and their threads (and of nginx's workers).
cpu_of() { # pids...
    local total=0 ticks
    ticks=$(getconf CLK_TCK)
    for p in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    awk -v t="$total" -v k="$ticks" 'BEGIN { printf "%.4f", t / k }'
}
nginx_workers() { pgrep -P "$(cat "$WORK/nginx/nginx.pid")" | tr '\n' ' '; }
nginx_pids() { nginx_workers; cat "$WORK/nginx/nginx.pid"; }

# Prints "requests/s requests-per-CPU-second" for one wrk run against url.
ranged() { # url pids...
    local url=$1; shift
    local before after out
    before=$(cpu_of "$@")
    out=$(wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$WORK/range.lua" "$url")
    after=$(cpu_of "$@")
    echo "$out" | awk -v a="$after" -v b="$before" '
        /requests in/ { n = $1 } /Requests\/sec/ { r = $2 } /Non-2xx/ { bad = $NF }
        END { if (bad > 0) print "warning: " bad " non-2xx answers" > "/dev/stderr"
              c = a - b; if (c <= 0) c = 0.01; printf "%.0f %.0f", r, n / c }'
}

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

# "min median max" of numbers separated by spaces.
stats() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s %s", v[1], v[int((NR + 1) / 2)], v[NR] }'; }
med() { stats | awk '{ print $2 }'; }
ratio() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.2f", s / n }'; }

echo "== $ROUNDS interleaved rounds: (a) 4 KiB ranged GETs, wrk -t2 -c$CONNS -d${DURATION}s; (b) whole-file GETs x$WHOLE_GETS"
R_RPS=""; R_RPC=""; R_CPU=""
N_RPS_ALL=""; S_RPS_ALL=""; N_RPC_ALL=""; S_RPC_ALL=""; N_CPU_ALL=""; S_CPU_ALL=""
for r in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2046
    read -r n_rps n_rpc <<<"$(ranged "$NURL" $(nginx_pids))"
    read -r s_rps s_rpc <<<"$(ranged "$SURL" "$SPID")"
    # shellcheck disable=SC2046
    n_cpu=$(cpu_per_gib "$NURL" $(nginx_pids))
    s_cpu=$(cpu_per_gib "$SURL" "$SPID")
    echo "round $r: ranged req/s nginx $n_rps servent $s_rps ($(ratio "$s_rps" "$n_rps")x);" \
        "req/CPU-s nginx $n_rpc servent $s_rpc ($(ratio "$s_rpc" "$n_rpc")x);" \
        "whole-file CPU s/GiB nginx $n_cpu servent $s_cpu ($(ratio "$s_cpu" "$n_cpu")x)"
    R_RPS="$R_RPS $(ratio "$s_rps" "$n_rps")"
    R_RPC="$R_RPC $(ratio "$s_rpc" "$n_rpc")"
    R_CPU="$R_CPU $(ratio "$s_cpu" "$n_cpu")"
    N_RPS_ALL="$N_RPS_ALL $n_rps"; S_RPS_ALL="$S_RPS_ALL $s_rps"
    N_RPC_ALL="$N_RPC_ALL $n_rpc"; S_RPC_ALL="$S_RPC_ALL $s_rpc"
    N_CPU_ALL="$N_CPU_ALL $n_cpu"; S_CPU_ALL="$S_CPU_ALL $s_cpu"
done
read -r RPS_MIN RPS_MED RPS_MAX <<<"$(echo "$R_RPS" | stats)"
read -r RPC_MIN RPC_MED RPC_MAX <<<"$(echo "$R_RPC" | stats)"
read -r CPU_MIN CPU_MED CPU_MAX <<<"$(echo "$R_CPU" | stats)"
N_RPS=$(echo "$N_RPS_ALL" | med); S_RPS=$(echo "$S_RPS_ALL" | med)
N_RPC=$(echo "$N_RPC_ALL" | med); S_RPC=$(echo "$S_RPC_ALL" | med)
N_CPU=$(echo "$N_CPU_ALL" | med); S_CPU=$(echo "$S_CPU_ALL" | med)

# System calls of one whole-file GET per GiB, and the most frequent ones: strace -c -f
# attached to the server's processes while curl fetches the file once.
syscalls() { # url pids...
    local url=$1; shift
    local args=() out
    out="$WORK/strace.$RANDOM"
    for p in "$@"; do args+=(-p "$p"); done
    strace -c -f -o "$out" "${args[@]}" 2>/dev/null &
    local st=$!
    sleep 1
    curl -s -o /dev/null "$url"
    sleep 0.5
    kill -INT "$st" 2>/dev/null || true
    wait "$st" 2>/dev/null || true
    # Rows: % time, seconds, usecs/call, calls, [errors], syscall; the last row is "total".
    awk -v l="$LEN" '
        $NF == "total" { total = $4 }
        $1 ~ /^[0-9.]+$/ && $NF != "total" { calls[$NF] = $4 }
        END {
            n = 0
            for (k in calls) { names[++n] = k }
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                if (calls[names[j]] > calls[names[i]]) { t = names[i]; names[i] = names[j]; names[j] = t }
            top = ""
            for (i = 1; i <= n && i <= 4; i++) top = top (i > 1 ? ", " : "") calls[names[i]] " " names[i]
            printf "%.0f|%s", total / (l / 1073741824), top
        }' "$out"
}
N_SYS=null; S_SYS=null; N_TOP=""; S_TOP=""
if need strace; then
    echo "== (c) system calls of one whole-file GET (strace -c -f on the server)"
    # shellcheck disable=SC2046
    IFS='|' read -r N_SYS N_TOP <<<"$(syscalls "$NURL" $(nginx_workers))"
    IFS='|' read -r S_SYS S_TOP <<<"$(syscalls "$SURL" "$SPID")"
    echo "nginx:   $N_SYS per GiB ($N_TOP)"
    echo "servent: $S_SYS per GiB ($S_TOP)"
fi

echo
printf '%-36s %10s %10s   %-28s %s\n' "measure (medians)" "nginx" "servent" "servent/nginx min/med/max" "aim"
printf '%-36s %10s %10s   %-28s %s\n' "4 KiB ranged GETs (req/s)" "$N_RPS" "$S_RPS" "$RPS_MIN / $RPS_MED / $RPS_MAX" ">= 1.0"
printf '%-36s %10s %10s   %-28s %s\n' "4 KiB ranged GETs (req per CPU-s)" "$N_RPC" "$S_RPC" "$RPC_MIN / $RPC_MED / $RPC_MAX" ">= 1.0"
printf '%-36s %10s %10s   %-28s %s\n' "whole-file CPU (s per GiB served)" "$N_CPU" "$S_CPU" "$CPU_MIN / $CPU_MED / $CPU_MAX" "<= 1.1"
printf '%-36s %10s %10s\n' "syscalls per GiB (one whole GET)" "$N_SYS" "$S_SYS"

cat >"$OUT/results.json" <<EOF
{"file_bytes": $LEN, "duration_secs": $DURATION, "connections": $CONNS, "whole_gets": $WHOLE_GETS, "rounds": $ROUNDS,
 "ranged_4k_rps": {"nginx": $N_RPS, "servent": $S_RPS, "ratio": $RPS_MED, "ratio_min": $RPS_MIN, "ratio_max": $RPS_MAX},
 "ranged_4k_req_per_cpu_sec": {"nginx": $N_RPC, "servent": $S_RPC, "ratio": $RPC_MED, "ratio_min": $RPC_MIN, "ratio_max": $RPC_MAX},
 "whole_cpu_secs_per_gib": {"nginx": $N_CPU, "servent": $S_CPU, "ratio": $CPU_MED, "ratio_min": $CPU_MIN, "ratio_max": $CPU_MAX},
 "syscalls_per_gib_whole_get": {"nginx": $N_SYS, "servent": $S_SYS, "nginx_top": "$N_TOP", "servent_top": "$S_TOP"}}
EOF

# A two-panel bar chart of the ratios' inputs.
python3 - "$OUT/results.json" "$OUT/bench-http.svg" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
panels = [("4 KiB ranged GETs: requests/s (higher is better)", r["ranged_4k_rps"]),
          ("4 KiB ranged GETs: requests per server CPU-second (higher is better)", r["ranged_4k_req_per_cpu_sec"]),
          ("Whole-file GETs: server CPU s per GiB (lower is better)", r["whole_cpu_secs_per_gib"])]
step = 165
w, h = 700, step * len(panels) + 40
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="13">',
       f'<rect width="{w}" height="{h}" fill="white"/>']
out.append('<text x="10" y="18" fill="#444">Bars: each server\'s median over the rounds. Ratio: servent / nginx within each round.</text>')
for i, (title, v) in enumerate(panels):
    y0 = 50 + i * step
    out.append(f'<text x="10" y="{y0}" font-weight="bold">{title}</text>')
    top = max(v["nginx"], v["servent"]) or 1
    for j, name in enumerate(["nginx", "servent"]):
        y = y0 + 20 + j * 45
        bw = 420 * v[name] / top
        color = "#888" if name == "nginx" else "#2a7"
        out.append(f'<text x="10" y="{y + 22}">{name}</text>')
        out.append(f'<rect x="80" y="{y}" width="{bw:.1f}" height="32" fill="{color}"/>')
        out.append(f'<text x="{85 + bw:.1f}" y="{y + 22}">{v[name]:g}</text>')
    out.append(f'<text x="10" y="{y0 + 125}">servent / nginx per round: min {v["ratio_min"]}x, median {v["ratio"]}x, max {v["ratio_max"]}x</text>')
out.append('</svg>')
open(sys.argv[2], "w").write("\n".join(out))
EOF
echo "results: $OUT/results.json, chart: $OUT/bench-http.svg"
