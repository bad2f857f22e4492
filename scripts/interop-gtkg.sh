#!/usr/bin/env bash
# Interop with gtk-gnutella on loopback (issue 11 item 7): servent and a real gtk-gnutella
# linked both ways and in both roles, searches and downloads both ways, QRP exchanged and
# honoured, browse host and magnets both ways (issue 12). Prints a PASS/FAIL/SKIP table
# (one line per case) and exits 1 if a case failed.
#
#   scripts/interop-gtkg.sh PATH_TO_GTK_GNUTELLA [--gui PATH_TO_GTK2_BUILD] [--json] [--keep]
#                           [--only LETTERS]
#
# PATH_TO_GTK_GNUTELLA: a gtk-gnutella binary (the headless "topless" build will do); how to
# build one: gtk-gnutella's public repository (github.com/gtk-gnutella/gtk-gnutella), built with ./build.sh --topless. --gui: a GTK2 build, run under Xvfb, for the
# case where gtk-gnutella starts a search of its own (its shell's `search add` needs the GUI).
# --json: one JSON document instead of the table. --keep: keep the temporary folder.
# --only LETTERS: run only these cases (e.g. --only ao).
# Without a path the script says so and exits 0 (CI has no gtk-gnutella).
# Needs bash, curl, jq, python3 (free ports, SHA-1 in base32), faketime (gtk-gnutella's version
# token expires two years after release) and, run as root, setpriv (gtk-gnutella refuses root).
set -uo pipefail

GTKG="" GTKG_GUI="" JSON=0 KEEP=0 ONLY=""
while [ $# -gt 0 ]; do
    case "$1" in
        --json) JSON=1 ;;
        --keep) KEEP=1 ;;
        --gui) GTKG_GUI="${2:-}"; shift ;;
        --only) ONLY="${2:-}"; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) GTKG="$1" ;;
    esac
    shift
done
if [ -z "$GTKG" ]; then
    echo "skipped: give the path to a gtk-gnutella binary"
    exit 0
fi
[ -x "$GTKG" ] || { echo "not an executable: $GTKG" >&2; exit 2; }
GTKG="$(cd "$(dirname "$GTKG")" && pwd)/$(basename "$GTKG")"
for tool in curl jq python3 faketime; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

cd "$(dirname "$0")/.."
cargo build --release --locked --quiet || exit 2
BIN="$(pwd)/${CARGO_TARGET_DIR:-target}/release/servent"
[ -x "$BIN" ] || BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/release/servent"

# The date gtk-gnutella is made to see (its 1.2.3 version token is young then).
FAKE_DATE="@2025-06-01 12:00:00"
# Shared files are dated before it, or gtk-gnutella takes them for files still being written.
FILE_DATE="2024-01-01"
# Bounds of every wait (seconds): links, searches, downloads.
LINK_WAIT=30
SEARCH_WAIT=8
DOWNLOAD_WAIT=60

TMP="$(mktemp -d /tmp/interop-gtkg.XXXXXX)"
chmod 755 "$TMP"
PIDS=()            # servent processes and faketime wrappers we started
GTKG_PIDS=()       # faketime wrappers of gtk-gnutella (their children are gtk-gnutella)
XVFB_PID=""
# A process and all its descendants (faketime -> gtk-gnutella's supervisor -> its --child).
kill_tree() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null); do kill_tree "$c"; done
    kill "$1" 2>/dev/null
}
cleanup() {
    local p
    for p in "${GTKG_PIDS[@]}"; do kill_tree "$p"; done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
    wait 2>/dev/null
    if [ "$KEEP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { [ "$JSON" = 1 ] || echo "  .. $*" >&2; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The SHA-1 of a file as gtk-gnutella and servent write it (base32).
sha1_b32() {
    python3 -c 'import sys,hashlib,base64; print(base64.b32encode(hashlib.sha1(open(sys.argv[1],"rb").read()).digest()).decode())' "$1"
}

# Runs "$@" until it succeeds or SECONDS pass; polls every 0.2 s. Returns 1 on timeout.
wait_for() {
    local secs="$1"; shift
    local deadline=$((SECONDS + secs))
    until "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}

# make_share DIR PREFIX: three small files with distinct words, dated before FAKE_DATE.
make_share() {
    mkdir -p "$1"
    head -c 70000 /dev/urandom >"$1/$2 alpha interop.bin"
    head -c 300000 /dev/urandom >"$1/$2 bravo interop.dat"
    printf 'gtk-gnutella interop text %s\n' "$2" >"$1/$2 charlie notes.txt"
    touch -d "$FILE_DATE" "$1"/*
}

# --- servent ------------------------------------------------------------------------------

declare -A SPORT SPID
# servent_start NAME [serve options...]: a servent sharing $TMP/NAME/share.
servent_start() {
    local name="$1"; shift
    local dir="$TMP/$name" port
    port="$(free_port)"
    mkdir -p "$dir/data"
    [ -d "$dir/share" ] || make_share "$dir/share" "$name"
    "$BIN" serve --listen "127.0.0.1:$port" --share "$dir/share" --data-dir "$dir/data" \
        --min-peers 0 "$@" >"$dir/stdout" 2>"$dir/stderr" &
    SPID[$name]=$!
    PIDS+=("$!")
    SPORT[$name]=$port
    wait_for 20 curl -sf "http://127.0.0.1:$port/status" -o /dev/null
}

status() { curl -sf "http://127.0.0.1:${SPORT[$1]}/status"; }

# servent_has NAME JQ_FILTER: the filter (given `.` = the /status document) is true.
servent_has() { status "$1" | jq -e "$2" >/dev/null 2>&1; }

# The neighbour list of /status (named `neighbours`; `peers` is accepted too).
NB='(.neighbours // .peers // [])'
gtkg_neighbour="$NB | map(select((.user_agent // \"\") | test(\"gtk-gnutella\"; \"i\")))"

has_flag() { "$BIN" serve --help 2>/dev/null | grep -q -- "$1"; }

# --- gtk-gnutella -------------------------------------------------------------------------

if [ "$(id -u)" = 0 ]; then
    RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    OWNER=65534:65534
else
    RUNAS=()
    OWNER=""
fi

declare -A GPORT GDIR
# gtkg_start NAME PEERMODE(1 leaf, 2 ultrapeer) [BINARY] [extra config lines]
gtkg_start() {
    local name="$1" mode="$2" bin="${3:-$GTKG}" extra="${4:-}"
    local dir="$TMP/$name" port
    port="$(free_port)"
    mkdir -p "$dir/home" "$dir/share" "$dir/incoming" "$dir/complete" "$dir/corrupt"
    make_share "$dir/share" "$name"
    cat >"$dir/home/config_gnet" <<EOF
listen_port = $port
network_protocol = 4
force_local_ip = TRUE
forced_local_ip = "127.0.0.1"
bind_to_forced_local_ip = TRUE
allow_private_network_connection = TRUE
use_netmasks = TRUE
local_netmasks = "127.0.0.0/8"
stop_host_get = TRUE
enable_dht = FALSE
enable_upnp = FALSE
enable_natpmp = FALSE
enable_g2 = FALSE
use_global_hostiles_txt = FALSE
online_mode = TRUE
configured_peermode = $mode
current_peermode = $mode
allow_firewalled_ultra = TRUE
is_firewalled = FALSE
prefer_compressed_gnet = FALSE
unique_nodes = 100
reserve_gtkg_nodes = 0
node_monitor_unstable_ip = FALSE
node_monitor_unstable_servents = FALSE
up_connections = 1
shared_dirs = "$dir/share"
store_downloading_files_to = "$dir/incoming"
move_downloading_files_to = "$dir/complete"
move_corrupted_files_to = "$dir/corrupt"
max_simultaneous_uploads = 10
max_uploads_ip = 10
browse_host_enabled = TRUE
gnet_trace = 3
upload_trace = 3
query_trace = TRUE
log_dropped_gnutella = TRUE
node_debug = 1
enable_udp = TRUE
$extra
EOF
    echo 127.0.0.1 >"$dir/home/whitelist"
    [ -n "$OWNER" ] && chown -R "$OWNER" "$dir"
    "${RUNAS[@]}" env HOME="$dir/home" GTK_GNUTELLA_DIR="$dir/home" ${DISPLAY:+DISPLAY=$DISPLAY} \
        faketime -f "$FAKE_DATE" "$bin" >"$dir/stdout" 2>"$dir/stderr" </dev/null &
    GTKG_PIDS+=("$!")
    GPORT[$name]=$port
    GDIR[$name]=$dir
    # Up when its shell answers and its library holds files (it skips tiny ones).
    wait_for 60 gtkg_library_ready "$name"
}

# gsh NAME COMMAND...: runs commands in gtk-gnutella's shell, prints the answers.
gsh() {
    local name="$1"; shift
    local dir="${GDIR[$name]}"
    printf '%s\n' "$@" quit | timeout 10 "${RUNAS[@]}" env HOME="$dir/home" \
        GTK_GNUTELLA_DIR="$dir/home" "$GTKG" --shell 2>/dev/null
}

gtkg_library_ready() {
    local out
    out="$(gsh "$1" status)" || return 1
    grep -q "Shares [1-9]" <<<"$out" && ! grep -q " LIB " <<<"$out"
}

# gtkg_node_line NAME SERVENT_NAME: the `nodes` line of a servent (matched by User-Agent
# "servent" and port, else by User-Agent only).
gtkg_nodes() { gsh "$1" nodes | grep -i "servent"; }
gtkg_sees_servent() { gtkg_nodes "$1" | grep -q .; }
# Flags column (NIrwqTRPFhE): [0] U/L/N peer mode, [4] Q = QRT received or sent.
gtkg_servent_flags() { gtkg_nodes "$1" | awk '{print $2}' | head -1; }

# --- results ------------------------------------------------------------------------------

RESULTS=()   # "case|name|PASS/FAIL/SKIP|reason"
record() { RESULTS+=("$1|$2|$3|${4:-}"); log "case $1: $3 ${4:-}"; }

# run_case ID NAME FUNCTION: the function prints a reason and returns 0 (PASS), 1 (FAIL),
# 2 (SKIP).
run_case() {
    local id="$1" name="$2" fn="$3" reason rc
    if [ -n "$ONLY" ] && [[ "$ONLY" != *"$id"* ]]; then return; fi
    log "case $id: $name"
    # Not in a subshell: servents and gtk-gnutellas a case starts stay known to the others
    # (and to the cleanup).
    "$fn" >"$TMP/reason" 2>>"$TMP/cases.log"
    rc=$?
    reason="$(tail -1 "$TMP/reason")"
    case $rc in
        0) record "$id" "$name" PASS "$reason" ;;
        2) record "$id" "$name" SKIP "$reason" ;;
        *) record "$id" "$name" FAIL "${reason:-exit $rc}" ;;
    esac
}

# --- cases --------------------------------------------------------------------------------

# (a) servent connects to gtk-gnutella (ultrapeer); the link is up on both sides.
case_a() {
    servent_start s1 --peer "127.0.0.1:${GPORT[g1]}" || { echo "servent did not start"; return 1; }
    wait_for $LINK_WAIT servent_has s1 "$gtkg_neighbour | length > 0" \
        || { echo "no gtk-gnutella neighbour in servent's /status"; return 1; }
    wait_for $LINK_WAIT gtkg_sees_servent g1 \
        || { echo "gtk-gnutella's nodes does not list servent"; return 1; }
    echo "link up: $(gtkg_nodes g1 | head -1 | awk '{print $1, $2}')"
}

# (b) gtk-gnutella connects to servent (`node add` in its shell).
case_b() {
    servent_start s2 || { echo "servent did not start"; return 1; }
    gsh g1 "node add 127.0.0.1 ${SPORT[s2]}" >/dev/null
    wait_for $LINK_WAIT servent_has s2 "$gtkg_neighbour | map(select(.direction == \"incoming\" or .direction == \"in\")) | length > 0" \
        || { echo "no incoming gtk-gnutella link in servent's /status ($(status s2 | jq -c "$gtkg_neighbour | map(.direction)"))"; return 1; }
    echo "incoming link from gtk-gnutella"
}

# search_json NAME WORD: `servent search --json` through the servent's gtk-gnutella link
# (servent joins through gtk-gnutella directly).
search_json() {
    "$BIN" search "$2" --peer "127.0.0.1:${GPORT[$1]}" --json --timeout "${SEARCH_WAIT}s" 2>>"$TMP/search.log"
}

# Hits from gtk-gnutella g1 (its port) in a search's JSON lines.
gtkg_hits() { jq -c "select(.port == ${GPORT[g1]})"; }

# (c) a search from `servent search` reaches gtk-gnutella; every hit carries a SHA-1.
case_c() {
    local out n nosha
    out="$(search_json g1 alpha | gtkg_hits)"
    n="$(grep -c . <<<"$out")"
    [ "$n" -gt 0 ] || { echo "no hit from gtk-gnutella for 'alpha'"; return 1; }
    nosha="$(jq -r 'select(.sha1 == null or .sha1 == "") | .name' <<<"$out" | grep -c .)"
    [ "$nosha" -eq 0 ] || { echo "$nosha of $n hits carry no SHA-1 (GGEP H not read)"; return 1; }
    echo "$n hits, all with SHA-1"
}

# (d) the same search three times in a row, each returning hits.
case_d() {
    local i n counts=""
    for i in 1 2 3; do
        n="$(search_json g1 alpha | gtkg_hits | grep -c .)"
        counts="$counts $n"
        [ "$n" -gt 0 ] || { echo "search $i of 3 got no hit (hits per search:$counts)"; return 1; }
    done
    echo "hits per search:$counts"
}

# (e) servent downloads from gtk-gnutella (`servent get`), byte-identical.
case_e() {
    local f="${GDIR[g1]}/share/g1 alpha interop.bin" sha out="$TMP/e.out"
    sha="$(sha1_b32 "$f")"
    RUST_BACKTRACE=0 timeout $DOWNLOAD_WAIT "$BIN" get "urn:sha1:$sha" -o "$out" \
        --source "http://127.0.0.1:${GPORT[g1]}/uri-res/N2R?urn:sha1:$sha" \
        >"$TMP/e.log" 2>&1 || { echo "servent get failed: $(grep -v "^Error" "$TMP/e.log" | head -1 | sed "s/^ *//")"; return 1; }
    cmp -s "$f" "$out" || { echo "downloaded file differs"; return 1; }
    echo "$(stat -c %s "$out") bytes identical"
}

gtkg_completed() { [ -f "$1" ] && cmp -s "$1" "$2"; }

# (f) gtk-gnutella downloads from servent (a magnet in its shell), byte-identical.
case_f() {
    local f="$TMP/s1/share/s1 bravo interop.dat" sha size name magnet
    sha="$(sha1_b32 "$f")"; size="$(stat -c %s "$f")"; name="s1-bravo.dat"
    magnet="magnet:?xt=urn:sha1:$sha&dn=$name&xl=$size&xs=http://127.0.0.1:${SPORT[s1]}/uri-res/N2R?urn:sha1:$sha"
    gsh g1 "download add \"$magnet\"" >"$TMP/f.log"
    wait_for $DOWNLOAD_WAIT gtkg_completed "${GDIR[g1]}/complete/$name" "$f" \
        || { echo "no identical $name in gtk-gnutella's complete folder ($(ls "${GDIR[g1]}/complete" "${GDIR[g1]}/corrupt" 2>/dev/null | tr '\n' ' '))"; return 1; }
    echo "$size bytes identical"
}

queries_answered() { status "$1" | jq '.descriptors.queries_answered // 0'; }
answered_more() { [ "$(queries_answered "$1")" -gt "$2" ]; }

# (g) a search started inside gtk-gnutella (GTK2 build under Xvfb) reaches servent.
case_g() {
    [ -n "$GTKG_GUI" ] || { echo "no --gui build given (needs gtk-gnutella built with --gtk2)"; return 2; }
    command -v Xvfb >/dev/null || { echo "no Xvfb"; return 2; }
    local disp=":$((70 + RANDOM % 20))" before
    Xvfb "$disp" -ac -nolisten tcp >"$TMP/xvfb.log" 2>&1 &
    XVFB_PID=$!
    DISPLAY="$disp" gtkg_start gui 2 "$GTKG_GUI" || { echo "GTK2 gtk-gnutella did not start"; return 1; }
    before="$(queries_answered s2)"
    gsh gui "node add 127.0.0.1 ${SPORT[s2]}" >/dev/null
    wait_for $LINK_WAIT servent_has s2 "$gtkg_neighbour | length > 1" \
        || { echo "the GTK2 gtk-gnutella did not link to servent"; return 1; }
    gsh gui "search add alpha" >"$TMP/g.log"
    wait_for $LINK_WAIT answered_more s2 "$before" \
        || { echo "servent answered no query from gtk-gnutella's search ($(tr '\n' ' ' <"$TMP/g.log"))"; return 1; }
    echo "servent answered gtk-gnutella's search"
}

received_queries() { status "$1" | jq '.descriptors.received.query // 0'; }

# (h) servent as a leaf under gtk-gnutella: gtk-gnutella holds its QRP table, and a Query
# reaches the leaf only when the table matches (Queries sent by a second servent s3 linked to
# gtk-gnutella as an ultrapeer).
case_h() {
    has_flag --role || { echo "servent has no --role"; return 1; }
    servent_start leaf --role leaf --peer "127.0.0.1:${GPORT[g1]}" || { echo "servent did not start"; return 1; }
    wait_for $LINK_WAIT eval '[[ "$(gsh g1 nodes | grep -i servent | grep -c " L")" -gt 0 ]]' \
        || { echo "gtk-gnutella does not list servent as a leaf (nodes: $(gtkg_nodes g1 | awk '{print $2}' | tr '\n' ' '))"; return 1; }
    wait_for $LINK_WAIT eval 'gsh g1 nodes | grep -i servent | awk '\''{print $2}'\'' | grep -q "^L...Q"' \
        || { echo "gtk-gnutella has no QRP table from the leaf (flags: $(gtkg_nodes g1 | awk '{print $2}' | tr '\n' ' '))"; return 1; }
    local before after miss hits
    before="$(received_queries leaf)"
    "$BIN" search zzqnomatch --peer "127.0.0.1:${GPORT[g1]}" --timeout 3s >/dev/null 2>&1
    after="$(received_queries leaf)"
    [ "$after" -eq "$before" ] || { echo "a Query the table does not match reached the leaf ($before -> $after)"; return 1; }
    hits="$("$BIN" search charlie --peer "127.0.0.1:${GPORT[g1]}" --json --timeout "${SEARCH_WAIT}s" 2>/dev/null \
        | jq -c "select(.port == ${SPORT[leaf]})" | grep -c .)"
    miss="$(received_queries leaf)"
    [ "$miss" -gt "$after" ] || { echo "a Query the table matches did not reach the leaf"; return 1; }
    [ "$hits" -gt 0 ] || { echo "the leaf got the Query but no hit came back through gtk-gnutella"; return 1; }
    echo "QRT at gtk-gnutella; matching Query reached the leaf ($hits hits), the other did not"
}

# (i) gtk-gnutella as a leaf under servent as an ultrapeer: servent holds its QRP table.
# Field names (`role`, `qrp_table`) are what this script expects from /status.
case_i() {
    has_flag --role || { echo "servent has no --role"; return 1; }
    servent_start up --role ultrapeer || { echo "servent did not start"; return 1; }
    gtkg_start g2 1 || { echo "gtk-gnutella (leaf) did not start"; return 1; }
    gsh g2 "node add 127.0.0.1 ${SPORT[up]}" >/dev/null
    wait_for $LINK_WAIT servent_has up "$gtkg_neighbour | map(select(.role == \"leaf\")) | length > 0" \
        || { echo "no gtk-gnutella neighbour with role \"leaf\" in /status"; return 1; }
    wait_for $LINK_WAIT servent_has up "$gtkg_neighbour | map(select(.role == \"leaf\" and .qrp_table != null)) | length > 0" \
        || { echo "the gtk-gnutella leaf has no qrp_table in /status"; return 1; }
    echo "gtk-gnutella is servent's leaf, with a QRP table"
}

# (j) ultrapeer to ultrapeer: servent (--role ultrapeer) and gtk-gnutella see each other as
# ultrapeers.
case_j() {
    has_flag --role || { echo "servent has no --role"; return 1; }
    servent_start upj --role ultrapeer --peer "127.0.0.1:${GPORT[g1]}" || { echo "servent did not start"; return 1; }
    wait_for $LINK_WAIT servent_has upj "$gtkg_neighbour | map(select(.role == \"ultrapeer\")) | length > 0" \
        || { echo "no gtk-gnutella neighbour with role \"ultrapeer\" in /status"; return 1; }
    wait_for $LINK_WAIT eval '[[ "$(gsh g1 nodes | grep -i servent | awk '\''{print $2}'\'' | grep -c "^U")" -gt 0 ]]' \
        || { echo "gtk-gnutella does not list servent as an ultrapeer"; return 1; }
    echo "ultrapeer on both sides"
}

# (k) servent browses gtk-gnutella (browse host): every file listed is one gtk-gnutella
# shares, with its size and SHA-1, and a magnet naming gtk-gnutella as its source.
case_k() {
    local out files n f name size sha bad=0 deflated shares
    out="$(RUST_BACKTRACE=0 timeout $DOWNLOAD_WAIT "$BIN" browse "127.0.0.1:${GPORT[g1]}" --json 2>"$TMP/k.log")" \
        || { echo "servent browse failed: $(grep -v "^Error" "$TMP/k.log" | head -1) $(head -1 "$TMP/k.log")"; return 1; }
    echo "$out" >"$TMP/k.json"
    files="$(jq -c 'select(.name)' <<<"$out")"
    n="$(grep -c . <<<"$files")"
    [ "$n" -gt 0 ] || { echo "no file listed ($(tail -1 <<<"$out"))"; return 1; }
    while read -r f; do
        name="$(jq -r .name <<<"$f")"; size="$(jq -r .size <<<"$f")"; sha="$(jq -r '.sha1 // ""' <<<"$f")"
        local path="${GDIR[g1]}/share/$name"
        if [ ! -f "$path" ] || [ "$(stat -c %s "$path")" != "$size" ] || [ "$sha" != "urn:sha1:$(sha1_b32 "$path")" ]; then
            echo "listed file does not match the share: $f" >&2; bad=$((bad + 1))
        fi
        jq -e --arg src "http://127.0.0.1:${GPORT[g1]}/uri-res/N2R%3F$sha" '.magnet | contains($src)' <<<"$f" >/dev/null \
            || { echo "magnet without gtk-gnutella as source: $f" >&2; bad=$((bad + 1)); }
    done <<<"$files"
    [ "$bad" -eq 0 ] || { echo "$bad of $n listed files wrong (see cases.log)"; return 1; }
    # gtk-gnutella shares only its scan_extensions (not .dat): all of those must be listed.
    shares="$(gsh g1 status | grep -o "Shares *[0-9]*" | grep -o "[0-9]*" | head -1)"
    [ "$n" -eq "${shares:-0}" ] || { echo "$n files listed, gtk-gnutella's status says it shares ${shares:-?}"; return 1; }
    deflated="$(tail -1 <<<"$out" | jq -r .browse.deflated)"
    echo "all $n files gtk-gnutella shares, sizes and SHA-1s right, deflated: $deflated"
}

# (l) servent downloads from gtk-gnutella by the magnet its browse printed, byte-identical.
case_l() {
    [ -s "$TMP/k.json" ] || { echo "no browse listing (case k)"; return 2; }
    local magnet name out="$TMP/l.out"
    magnet="$(jq -r 'select(.name) | select(.name | test("alpha")) | .magnet' "$TMP/k.json" | head -1)"
    name="$(jq -r 'select(.name) | select(.name | test("alpha")) | .name' "$TMP/k.json" | head -1)"
    [ -n "$magnet" ] || { echo "no alpha file in the listing"; return 1; }
    RUST_BACKTRACE=0 timeout $DOWNLOAD_WAIT "$BIN" get "$magnet" -o "$out" >"$TMP/l.log" 2>&1 \
        || { echo "servent get MAGNET failed: $(grep -v "^Error" "$TMP/l.log" | head -1 | sed "s/^ *//")"; return 1; }
    cmp -s "${GDIR[g1]}/share/$name" "$out" || { echo "downloaded file differs"; return 1; }
    grep -q "SHA-1 verified" "$TMP/l.log" || { echo "not verified: $(head -1 "$TMP/l.log")"; return 1; }
    echo "$(stat -c %s "$out") bytes identical, SHA-1 verified"
}

# (m) servent answers a browse request as gtk-gnutella's client sends it (Accept:
# x-gnutella-packets, Accept-Encoding: deflate) with deflated QueryHits (read back by
# `servent browse`); a browser's GET / still gets what it got before. (gtk-gnutella's shell
# has no browse command: its own client is driven only from the GUI.)
case_m() {
    local head plain
    head="$(curl -s -o /dev/null -D - -H 'Accept: application/x-gnutella-packets' \
        -H 'Accept-Encoding: deflate' "http://127.0.0.1:${SPORT[s1]}/" | tr -d '\r')"
    grep -qi '^content-type: application/x-gnutella-packets' <<<"$head" \
        || { echo "no x-gnutella-packets answer: $(head -1 <<<"$head")"; return 1; }
    grep -qi '^content-encoding: deflate' <<<"$head" || { echo "not deflated"; return 1; }
    plain="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${SPORT[s1]}/")"
    local n
    n="$("$BIN" browse "127.0.0.1:${SPORT[s1]}" --json 2>/dev/null | jq -s 'map(select(.name)) | length')"
    [ "${n:-0}" -eq "$(ls "$TMP/s1/share" | wc -l)" ] || { echo "servent browse of servent listed ${n:-0} files"; return 1; }
    echo "deflated QueryHits ($n files); a plain GET / still answers $plain"
}

# (n) a magnet gtk-gnutella writes (`download show ID magnet` for a download of its own,
# dn, xl, xt and its source as xs) is read by `servent get`, which downloads and verifies
# the file. gtk-gnutella's source is a port where nothing listens yet (so the download
# stays queued and keeps it); a servent sharing the file is then started there.
case_n() {
    local dir="$TMP/n" port sha size name magnet id gmagnet out="$TMP/n.out"
    mkdir -p "$dir/share" "$dir/data"
    head -c 123456 /dev/urandom >"$dir/share/n delta interop.bin"
    touch -d "$FILE_DATE" "$dir/share"/*
    sha="$(sha1_b32 "$dir/share/n delta interop.bin")"; size=123456; name="n-delta.bin"
    port="$(free_port)"
    magnet="magnet:?xt=urn:sha1:$sha&dn=$name&xl=$size&xs=http://127.0.0.1:$port/uri-res/N2R?urn:sha1:$sha"
    gsh g1 "download add \"$magnet\"" >"$TMP/n.log"
    id="$(gsh g1 downloads | grep -B1 "Filename: \"$name\"" | sed -n 's/^ *ID: *//p' | head -1)"
    [ -n "$id" ] || { echo "gtk-gnutella lists no download of $name"; return 1; }
    gmagnet="$(gsh g1 "download show $id magnet" | grep -o 'magnet:?[^"]*' | head -1)"
    echo "gtk-gnutella's magnet: $gmagnet" >&2
    [ -n "$gmagnet" ] || { echo "gtk-gnutella shows no magnet for download $id"; return 1; }
    "$BIN" serve --listen "127.0.0.1:$port" --share "$dir/share" --data-dir "$dir/data" \
        --min-peers 0 >"$dir/stdout" 2>"$dir/stderr" &
    PIDS+=("$!")
    wait_for 20 curl -sf -I "http://127.0.0.1:$port/uri-res/N2R?urn:sha1:$sha" -o /dev/null \
        || { echo "servent on port $port does not serve the file"; return 1; }
    RUST_BACKTRACE=0 timeout $DOWNLOAD_WAIT "$BIN" get "$gmagnet" -o "$out" >"$TMP/n.get" 2>&1 \
        || { echo "servent get of gtk-gnutella's magnet failed: $(grep -v "^Error" "$TMP/n.get" | head -1)"; return 1; }
    cmp -s "$dir/share/n delta interop.bin" "$out" || { echo "downloaded file differs"; return 1; }
    grep -q "SHA-1 verified" "$TMP/n.get" || { echo "not verified: $(head -1 "$TMP/n.get")"; return 1; }
    echo "read $(cut -c1-60 <<<"$gmagnet")...; $size bytes identical, verified"
}

# (o) UDP (issue 15): a UDP Ping as servent sends it (23 bytes, one descriptor per
# datagram) to gtk-gnutella's port gets a UDP Pong with the same ID naming that port, in
# the layout servent's datagram codec reads (header length = bytes after the header).
udp_ping() {
    python3 - "$1" <<'PY'
import os, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(4)
guid = bytearray(os.urandom(16))
guid[8], guid[15] = 0xFF, 0x00          # a "modern" GUID, as servents mark theirs
ping = bytes(guid) + bytes([0x00, 1, 0]) + (0).to_bytes(4, "little")
for _ in range(4):                       # gtk-gnutella throttles UDP pings per address
    s.sendto(ping, ("127.0.0.1", port))
    try:
        data, src = s.recvfrom(65536)
    except socket.timeout:
        continue
    plen = int.from_bytes(data[19:23], "little")
    if data[:16] == bytes(guid) and data[16] == 0x01 and plen == len(data) - 23 and plen >= 14:
        pport = int.from_bytes(data[23:25], "little")
        ip = ".".join(map(str, data[25:29]))
        print(f"UDP Pong from {src[0]}:{src[1]}: {len(data)} bytes, names {ip}:{pport}")
        sys.exit(0 if pport == port else 1)
print("no UDP Pong")
sys.exit(1)
PY
}
case_o() { udp_ping "${GPORT[g1]}"; }
# (p) The same Ping to servent s1 (linked to gtk-gnutella from 127.0.0.1, so the address
# is verified) gets its UDP Pong, and /status counts it.
case_p() {
    udp_ping "${SPORT[s1]}" || return 1
    servent_has s1 '.udp.core.pongs >= 1' || { echo "/status udp.core.pongs is 0"; return 1; }
}

# --- run ----------------------------------------------------------------------------------

VERSION="$("${RUNAS[@]}" "$GTKG" --version 2>/dev/null | head -1)"
log "gtk-gnutella: ${VERSION:-unknown}; temporary folder $TMP"
if ! gtkg_start g1 2; then
    echo "gtk-gnutella did not start (see $TMP/g1/stderr):" >&2
    tail -5 "$TMP/g1/stderr" >&2
    KEEP=1
    exit 2
fi
run_case a "servent -> gtk-gnutella link (ultrapeer)" case_a
run_case b "gtk-gnutella -> servent link (node add)" case_b
run_case c "servent search: hits from gtk-gnutella, SHA-1 in every hit" case_c
run_case d "same search 3 times, hits every time" case_d
run_case e "servent get from gtk-gnutella, byte-identical" case_e
run_case f "gtk-gnutella downloads from servent (magnet), byte-identical" case_f
run_case g "search started in gtk-gnutella reaches servent" case_g
run_case h "servent leaf under gtk-gnutella: QRT sent, only matching Queries" case_h
run_case i "gtk-gnutella leaf under servent ultrapeer: QRT in /status" case_i
run_case j "ultrapeer to ultrapeer" case_j
run_case k "servent browse gtk-gnutella: its files, sizes, SHA-1s, magnets" case_k
run_case l "servent get MAGNET (from the browse) from gtk-gnutella, identical" case_l
run_case m "servent answers a gtk-gnutella-style browse request (deflated)" case_m
run_case n "servent get reads a magnet gtk-gnutella wrote, verified" case_n
run_case o "gtk-gnutella answers a servent-format UDP Ping with a UDP Pong" case_o
run_case p "servent answers the same UDP Ping with a UDP Pong" case_p

FAILED=0
for r in "${RESULTS[@]}"; do [ "$(cut -d'|' -f3 <<<"$r")" = FAIL ] && FAILED=$((FAILED + 1)); done
if [ "$JSON" = 1 ]; then
    printf '%s\n' "${RESULTS[@]}" | jq -R -s --arg v "$VERSION" '
        split("\n") | map(select(length > 0) | split("|")
          | {case: .[0], name: .[1], result: .[2], reason: .[3]})
        | {gtk_gnutella: $v, cases: .,
           passed: map(select(.result == "PASS")) | length,
           failed: map(select(.result == "FAIL")) | length,
           skipped: map(select(.result == "SKIP")) | length}'
else
    echo "gtk-gnutella: $VERSION"
    for r in "${RESULTS[@]}"; do
        IFS='|' read -r id name result reason <<<"$r"
        printf '%-4s %-4s %-62s %s\n' "($id)" "$result" "$name" "$reason"
    done
fi
[ "$FAILED" -eq 0 ]
