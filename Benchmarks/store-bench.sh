#!/usr/bin/env bash
# The contact inbox's write and read paths through the whole server, next to what SQLite itself
# does for the same statements: `ova-bench --mode send-message|list-messages` against a release
# ova-server, and Benchmarks/sqlite-ceiling (a C loop over the repositories' SQL with the
# server's connection settings) on a database of the same schema, on the same disk.
#
#   bash Benchmarks/store-bench.sh               # every case, 10 s each
#   DURATION=5 bash Benchmarks/store-bench.sh
#   CASES="list-c64 ceiling-list-authenticated" bash Benchmarks/store-bench.sh
#
# Other knobs: CONNECTIONS (default 2, one per core), WARMUP (s, default 1), ROWS (messages in
# the inbox of the list cases, default 1000), SKIP_BUILD=1 (reuse the release binaries),
# TMPDIR (where the databases live: keep it on the disk you mean to measure).
# Every case starts from a fresh data directory (and server). Prints one markdown table; the raw
# JSON lines go to Benchmarks/results/store-<date>.jsonl. See Benchmarks/README.md.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-2}
ROWS=${ROWS:-1000}
ALL_CASES="ceiling-insert ceiling-send-message send-c1 send-c64 ceiling-list ceiling-list-authenticated list-c1 list-c64"
CASES=${CASES:-$ALL_CASES}
# SendMessage is limited per client address (10 a minute by default) and the load comes from
# one address: the top of the setting's range, so no call of a run is refused.
RATE_PER_MINUTE=10000000

die() { echo "store-bench.sh: $*" >&2; exit 1; }
log() { echo "store-bench.sh: $*" >&2; }
command -v python3 >/dev/null || die "python3 is required"
[[ "$DURATION" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DURATION must be a number of seconds"
[[ "$WARMUP" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "WARMUP must be a number of seconds"
[[ "$ROWS" =~ ^[0-9]+$ ]] && (( ROWS >= 51 )) || die "ROWS must be a number of at least 51 (a page of 50 and one more)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ova-store-bench.XXXXXX")
RESULTS_DIR="$ROOT/Benchmarks/results"
mkdir -p "$RESULTS_DIR"
RESULTS="$RESULTS_DIR/store-$(date +%Y-%m-%d-%H%M%S).jsonl"
RUN_LINES="$WORK/run.jsonl"
PASSWORD="Store-bench-pass-42"
export OVA_TOKEN_FILE="$WORK/token"

SERVER_PID=""
# shellcheck source=Benchmarks/server-control.sh
source "$ROOT/Benchmarks/server-control.sh"
cleanup() {
    stop_server
    rm -rf "$WORK/data"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Build

BIN=$(cd "$ROOT" && swift build -c release --show-bin-path 2>/dev/null) || die "swift build --show-bin-path failed"
CEILING="$BIN/sqlite-ceiling"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building ova-server, ova, ova-bench in release and sqlite-ceiling; log: $WORK/build.log"
    # `--product` cannot be given twice, so three builds (the later ones are incremental).
    (cd "$ROOT" && for product in ova-server ova ova-bench; do swift build -c release --product "$product" || exit 1; done) \
        >"$WORK/build.log" 2>&1 || die "release build failed: $(grep -m1 'error:' "$WORK/build.log") (log: $WORK/build.log)"
    # shellcheck disable=SC2046
    cc -O2 -Wall -Wextra -o "$CEILING" "$ROOT/Benchmarks/sqlite-ceiling/sqlite-ceiling.c" $(pkg-config --cflags --libs sqlite3) \
        >>"$WORK/build.log" 2>&1 || die "sqlite-ceiling did not compile (log: $WORK/build.log)"
fi
for tool in ova-server ova ova-bench sqlite-ceiling; do
    [[ -x "$BIN/$tool" ]] || die "$tool not found in $BIN (run without SKIP_BUILD=1)"
done

# ---------------------------------------------------------------------------------------------
# Cases

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A fresh data directory with a migrated database and a superadmin to log in as.
fresh_data() {
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    printf '%s\n' "$PASSWORD" | "$BIN/ova-server" admin create --data-dir "$WORK/data" --email inbox-admin@example.com \
        --name Bench --password-stdin >/dev/null || die "ova-server admin create failed"
}

# start_server PORT: a release ova-server on the fresh data directory, as compare.sh starts it.
start_server() {
    OVA_PUBLIC_RATE_PER_MINUTE=$RATE_PER_MINUTE "$BIN/ova-server" --listen "127.0.0.1:$1" --data-dir "$WORK/data" \
        --log-level warning >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        "$BIN/ova" call ova.v1.Health/Check --addr "127.0.0.1:$1" --insecure >/dev/null 2>&1 && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    die "ova-server did not start: $(tail -c 500 "$WORK/server.log")"
}

# Adds one result line: the tool's JSON with the case's name.
record() {
    python3 - "$1" "$2" >>"$RUN_LINES" <<'PY'
import json, sys
case, path = sys.argv[1:3]
obj = {"error": "no JSON output"}
for line in open(path, errors="replace"):
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            pass
print(json.dumps({"case": case, **obj}, separators=(",", ":")))
PY
}

run_ceiling() {  # case, sqlite-ceiling mode
    fresh_data
    "$CEILING" --db "$WORK/data/ova.sqlite3" --mode "$2" --rows "$ROWS" --duration "$DURATION" --warmup "$WARMUP" --json \
        >"$WORK/$1.json" 2>"$WORK/$1.err" || log "$1: sqlite-ceiling failed: $(cat "$WORK/$1.err")"
    record "$1" "$WORK/$1.json"
}

run_ova() {  # case, ova-bench mode, concurrency
    local port addr limit
    fresh_data
    port=$(free_port)
    addr="127.0.0.1:$port"
    start_server "$port"
    if [[ "$2" == list-messages ]]; then
        printf '%s\n' "$PASSWORD" | "$BIN/ova" login --email inbox-admin@example.com --password-stdin --addr "$addr" --insecure \
            >/dev/null || die "ova login failed"
        "$BIN/ova-bench" --addr "$addr" --insecure --mode send-message --concurrency 8 --connections 1 --requests "$ROWS" \
            --warmup 0 --duration 120 --json >"$WORK/$1-fill.json" || die "filling the inbox failed: $(cat "$WORK/$1-fill.json")"
    fi
    limit=$(python3 -c "print(int($DURATION + $WARMUP + 90))")
    timeout "$limit" "$BIN/ova-bench" --addr "$addr" --insecure --mode "$2" --connections "$CONNECTIONS" --concurrency "$3" \
        --duration "$DURATION" --warmup "$WARMUP" --json >"$WORK/$1.json" 2>"$WORK/$1.err" \
        || log "$1: ova-bench exited $?: $(tail -c 300 "$WORK/$1.err")"
    record "$1" "$WORK/$1.json"
    stop_server
}

printf '{"tool":"store-bench.sh","date":"%s","git":"%s","duration_s":%s,"warmup_s":%s,"cores":%s,"rows":%s,"connections":%s}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$DURATION" "$WARMUP" "$(nproc)" "$ROWS" "$CONNECTIONS" >"$RUN_LINES"

for name in $CASES; do
    log "$name"
    case "$name" in
        ceiling-insert) run_ceiling "$name" insert ;;
        ceiling-send-message) run_ceiling "$name" send-message ;;
        ceiling-list) run_ceiling "$name" list ;;
        ceiling-list-authenticated) run_ceiling "$name" list-authenticated ;;
        send-c1) run_ova "$name" send-message 1 ;;
        send-c64) run_ova "$name" send-message 64 ;;
        list-c1) run_ova "$name" list-messages 1 ;;
        list-c64) run_ova "$name" list-messages 64 ;;
        *) log "unknown case $name (cases: $ALL_CASES)" ;;
    esac
done
cp "$RUN_LINES" "$RESULTS"

# ---------------------------------------------------------------------------------------------
# Table

python3 - "$RESULTS" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
meta, results = lines[0], {l["case"]: l for l in lines[1:]}

def rate(case):
    r = results.get(case)
    return r.get("calls_per_s") if r else None

def latency(case):
    r = results.get(case)
    if not r or "calls_per_s" not in r:
        return "—"
    if "latency_us" in r:
        return f'{r["latency_us"]["p50"]:,} / {r["latency_us"]["p99"]:,}'
    return f'{r["p50_us"]:,.0f} / {r["p99_us"]:,.0f}'

def number(value):
    return "—" if value is None else f"{value:,.0f}"

def ratio(case, ceiling):
    a, b = rate(case), rate(ceiling)
    return f"{a / b:.2f}×" if a and b else "—"

def errors(case):
    r = results.get(case, {})
    e = r.get("errors") or {}
    return " (errors: " + ", ".join(f"{k} {v}" for k, v in sorted(e.items())) + ")" if e else ""

print(f'store-bench.sh, {meta["date"]}, git {meta["git"]}, {meta["duration_s"]} s per case, {meta["cores"]} cores, '
      f'{meta["connections"]} connections, list cases on {meta["rows"]} messages\n')
print("| case | calls/s | p50 / p99 µs | vs ceiling (1 thread, no RPC) |")
print("|---|---:|---:|---|")
rows = [
    ("ceiling-insert", "SQLite: the SendMessage INSERT, 1 row per transaction", None),
    ("ceiling-send-message", "SQLite: that INSERT + the audit INSERT, 2 transactions", None),
    ("send-c1", "ova-bench send-message, c=1", "ceiling-insert"),
    ("send-c64", "ova-bench send-message, c=64", "ceiling-insert"),
    ("ceiling-list", "SQLite: the ListMessages COUNT + page SELECT (50)", None),
    ("ceiling-list-authenticated", "SQLite: the session lookup + that COUNT + SELECT", None),
    ("list-c1", "ova-bench list-messages, c=1", "ceiling-list-authenticated"),
    ("list-c64", "ova-bench list-messages, c=64", "ceiling-list-authenticated"),
]
for case, label, ceiling in rows:
    if case not in results:
        continue
    versus = ""
    if ceiling:
        versus = f"{ratio(case, ceiling)} of {ceiling}"
        if case.startswith("send"):
            versus += f", {ratio(case, 'ceiling-send-message')} of ceiling-send-message"
    print(f"| {label} | {number(rate(case))}{errors(case)} | {latency(case)} | {versus} |")
PY
log "raw results: $RESULTS; logs: $WORK"
