#!/usr/bin/env bash
# The contact inbox's write and read paths through the whole server, next to what SQLite itself
# does for the same statements: `ova-bench --mode send-message|list-messages` against a release
# ova-server, and Benchmarks/sqlite-ceiling (a C loop over the repositories' SQL with the
# server's connection settings) on a database of the same schema, on the same disk.
#
#   bash Benchmarks/store-bench.sh               # every case, 10 s each
#   DURATION=5 bash Benchmarks/store-bench.sh
#   CASES="list-c64 ceiling-list-authenticated" bash Benchmarks/store-bench.sh
#   BACKEND=mariadb bash Benchmarks/store-bench.sh   # the same against a throwaway mariadbd
#
# BACKEND=mariadb starts its own mariadbd (mariadb-install-db + mariadbd from the Debian package
# mariadb-server, in the temporary directory, on a free loopback port, stopped on exit) with
# InnoDB's default durability, innodb_flush_log_at_trx_commit=1 (the redo log fsynced at every
# COMMIT), runs Benchmarks/mariadb-ceiling (the same statements from a C loop, one connection,
# and 64 connections for the c=64 comparison) and ova-server with DB_HOST/DB_PORT/DB_USER=root/
# DB_PASSWORD=(empty)/DB_NAME, a fresh database per case. The ova-server cases need an ova-server
# with the MariaDB backend: one that ignores DB_HOST is detected (no schema in the database) and
# its cases are reported as errors, never as MariaDB numbers.
#
# Other knobs: CONNECTIONS (default 2, one per core), WARMUP (s, default 1), ROWS (messages in
# the inbox of the list cases, default 1000), SKIP_BUILD=1 (reuse the release binaries),
# BIN_DIR (run the binaries of that directory, e.g. a copy of another commit's, for A/B runs;
# implies SKIP_BUILD=1),
# TMPDIR (where the databases live: keep it on the disk you mean to measure).
# Every case starts from a fresh data directory (and server). Prints one markdown table; the raw
# JSON lines go to Benchmarks/results/store-<date>.jsonl. See Benchmarks/README.md.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-2}
ROWS=${ROWS:-1000}
BACKEND=${BACKEND:-sqlite}
case "$BACKEND" in
    sqlite) ALL_CASES="ceiling-insert ceiling-send-message send-c1 send-c64 ceiling-list ceiling-list-authenticated list-c1 list-c64" ;;
    mariadb) ALL_CASES="ceiling-insert ceiling-insert-c64 ceiling-send-message ceiling-send-message-c64 send-c1 send-c64 ceiling-list ceiling-list-c64 list-c1 list-c64" ;;
    *) echo "store-bench.sh: BACKEND must be sqlite or mariadb" >&2; exit 2 ;;
esac
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
MARIADB_PID=""
# shellcheck source=Benchmarks/server-control.sh
source "$ROOT/Benchmarks/server-control.sh"
stop_mariadb() {
    if [[ -n "$MARIADB_PID" ]] && kill -0 "$MARIADB_PID" 2>/dev/null; then
        kill "$MARIADB_PID" 2>/dev/null
        for _ in $(seq 1 300); do kill -0 "$MARIADB_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$MARIADB_PID" 2>/dev/null
        wait "$MARIADB_PID" 2>/dev/null
    fi
    MARIADB_PID=""
    rm -rf "$WORK/mariadb"
}
cleanup() {
    stop_server
    stop_mariadb
    rm -rf "$WORK/data"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Build

if [[ -n "${BIN_DIR:-}" ]]; then
    BIN=$BIN_DIR
    SKIP_BUILD=1
else
    BIN=$(cd "$ROOT" && swift build -c release --show-bin-path 2>/dev/null) || die "swift build --show-bin-path failed"
fi
CEILING="$BIN/sqlite-ceiling"
MARIADB_CEILING="$BIN/mariadb-ceiling"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building ova-server, ova, ova-bench in release and sqlite-ceiling; log: $WORK/build.log"
    # `--product` cannot be given twice, so three builds (the later ones are incremental).
    (cd "$ROOT" && for product in ova-server ova ova-bench; do swift build -c release --product "$product" || exit 1; done) \
        >"$WORK/build.log" 2>&1 || die "release build failed: $(grep -m1 'error:' "$WORK/build.log") (log: $WORK/build.log)"
    # shellcheck disable=SC2046
    cc -O2 -Wall -Wextra -o "$CEILING" "$ROOT/Benchmarks/sqlite-ceiling/sqlite-ceiling.c" $(pkg-config --cflags --libs sqlite3) \
        >>"$WORK/build.log" 2>&1 || die "sqlite-ceiling did not compile (log: $WORK/build.log)"
    if [[ "$BACKEND" == mariadb ]]; then
        # shellcheck disable=SC2046
        cc -O2 -Wall -Wextra -o "$MARIADB_CEILING" "$ROOT/Benchmarks/mariadb-ceiling/mariadb-ceiling.c" \
            $(pkg-config --cflags --libs libmariadb) -lpthread >>"$WORK/build.log" 2>&1 \
            || die "mariadb-ceiling did not compile (libmariadb-dev installed? log: $WORK/build.log)"
    fi
fi
TOOLS="ova-server ova ova-bench sqlite-ceiling"
[[ "$BACKEND" == mariadb ]] && TOOLS="$TOOLS mariadb-ceiling"
for tool in $TOOLS; do
    [[ -x "$BIN/$tool" ]] || die "$tool not found in $BIN (run without SKIP_BUILD=1)"
done

# ---------------------------------------------------------------------------------------------
# Cases

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------------------------------------
# MariaDB (BACKEND=mariadb): one throwaway server for the run, a fresh database per case

MARIADB_PORT=""
DATABASE_NUMBER=0
DB_NAME=""

mariadb_root() {  # SQL as root over the server's unix socket
    mariadb --no-defaults --socket="$WORK/mariadb/sock" --user=root --batch --skip-column-names -e "$1"
}

start_mariadb() {
    local directory="$WORK/mariadb" sizing
    command -v mariadbd >/dev/null || PATH="$PATH:/usr/sbin"
    command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null \
        || die "BACKEND=mariadb needs mariadbd and mariadb-install-db (Debian: mariadb-server)"
    mkdir -p "$directory"
    # The buffer pool holds every table of a run; the durability settings are InnoDB's defaults,
    # spelled out so the run states them.
    sizing=(--innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=1 --sync-binlog=0)
    mariadb-install-db --no-defaults --datadir="$directory/data" --user=root --auth-root-authentication-method=normal \
        --skip-test-db --skip-name-resolve --tmpdir="$directory" "${sizing[@]}" >"$directory/install.log" 2>&1 \
        || die "mariadb-install-db failed: $(tail -c 500 "$directory/install.log")"
    MARIADB_PORT=$(free_port)
    mariadbd --no-defaults --datadir="$directory/data" --socket="$directory/sock" --bind-address=127.0.0.1 \
        --port="$MARIADB_PORT" --pid-file="$directory/mariadbd.pid" --log-error="$directory/err.log" --tmpdir="$directory" \
        --skip-name-resolve --user=root "${sizing[@]}" >/dev/null 2>&1 &
    MARIADB_PID=$!
    for _ in $(seq 1 600); do
        mariadb_root "SELECT 1" >/dev/null 2>&1 && break
        kill -0 "$MARIADB_PID" 2>/dev/null || die "mariadbd exited: $(tail -c 500 "$directory/err.log")"
        sleep 0.1
    done
    mariadb_root "SELECT 1" >/dev/null 2>&1 || die "mariadbd did not start: $(tail -c 500 "$directory/err.log")"
    # mariadb-install-db makes root@127.0.0.1 with the same empty password; make sure of it.
    mariadb_root "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
        || die "cannot set up root@127.0.0.1"
    log "mariadbd $(mariadb_root "SELECT @@version") on 127.0.0.1:$MARIADB_PORT, innodb_flush_log_at_trx_commit=$(mariadb_root "SELECT @@innodb_flush_log_at_trx_commit")"
}

fresh_database() {
    DATABASE_NUMBER=$((DATABASE_NUMBER + 1))
    DB_NAME="ova_bench_$DATABASE_NUMBER"
    mariadb_root "DROP DATABASE IF EXISTS $DB_NAME; CREATE DATABASE $DB_NAME CHARACTER SET utf8mb4;" || die "cannot create $DB_NAME"
}

# Runs ova-server with the MariaDB settings when BACKEND=mariadb (the variables the original
# backend read, which OVA's MariaDB backend reads too).
ova_server() {
    if [[ "$BACKEND" == mariadb ]]; then
        DB_HOST=127.0.0.1 DB_PORT=$MARIADB_PORT DB_USER=root DB_PASSWORD= DB_NAME=$DB_NAME "$BIN/ova-server" "$@"
    else
        "$BIN/ova-server" "$@"
    fi
}

# A fresh data directory (and, for MariaDB, database) with a migrated schema and a superadmin to
# log in as.
fresh_data() {
    rm -rf "$WORK/data" && mkdir -p "$WORK/data"
    [[ "$BACKEND" == mariadb ]] && fresh_database
    printf '%s\n' "$PASSWORD" | ova_server admin create --data-dir "$WORK/data" --email inbox-admin@example.com \
        --name Bench --password-stdin >/dev/null 2>"$WORK/admin-create.err" && return 0
    # On MariaDB the ceiling cases stay worth running when this ova-server cannot use it.
    [[ "$BACKEND" == mariadb ]] || die "ova-server admin create failed: $(cat "$WORK/admin-create.err")"
    return 1
}

# Whether ova-server really used MariaDB: an ova-server without the backend ignores DB_HOST and
# would be measured on SQLite under the MariaDB label.
server_used_mariadb() {
    [[ "$(mariadb_root "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$DB_NAME' AND table_name = 'contact_messages'")" == 1 ]]
}

# start_server PORT: a release ova-server on the fresh data directory, as compare.sh starts it.
start_server() {
    OVA_PUBLIC_RATE_PER_MINUTE=$RATE_PER_MINUTE ova_server --listen "127.0.0.1:$1" --data-dir "$WORK/data" \
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

run_mariadb_ceiling() {  # case, mariadb-ceiling mode, connections
    fresh_database
    "$MARIADB_CEILING" --host 127.0.0.1 --port "$MARIADB_PORT" --user root --database "$DB_NAME" --mode "$2" --threads "$3" \
        --rows "$ROWS" --duration "$DURATION" --warmup "$WARMUP" --json >"$WORK/$1.json" 2>"$WORK/$1.err" \
        || log "$1: mariadb-ceiling failed: $(cat "$WORK/$1.err")"
    record "$1" "$WORK/$1.json"
}

run_ova() {  # case, ova-bench mode, concurrency
    local port addr limit
    if ! fresh_data; then
        log "$1: not measured: ova-server admin create failed on MariaDB: $(cat "$WORK/admin-create.err")"
        python3 -c 'import json, sys; print(json.dumps({"error": "ova-server admin create failed on MariaDB: " + sys.argv[1].strip()}))' \
            "$(cat "$WORK/admin-create.err")" >"$WORK/$1.json"
        record "$1" "$WORK/$1.json"
        return
    fi
    port=$(free_port)
    addr="127.0.0.1:$port"
    start_server "$port"
    if [[ "$BACKEND" == mariadb ]] && ! server_used_mariadb; then
        log "$1: this ova-server ignored DB_HOST (no MariaDB backend in this build?): not measured"
        echo '{"error":"ova-server did not use MariaDB"}' >"$WORK/$1.json"
        record "$1" "$WORK/$1.json"
        stop_server
        return
    fi
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

[[ "$BACKEND" == mariadb ]] && start_mariadb

printf '{"tool":"store-bench.sh","date":"%s","git":"%s","backend":"%s","duration_s":%s,"warmup_s":%s,"cores":%s,"rows":%s,"connections":%s,"load":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$BACKEND" \
    "$DURATION" "$WARMUP" "$(nproc)" "$ROWS" "$CONNECTIONS" "$(cut -d' ' -f1-3 /proc/loadavg)" >"$RUN_LINES"

for name in $CASES; do
    log "$name"
    if [[ "$BACKEND" == mariadb ]]; then
        case "$name" in
            ceiling-insert) run_mariadb_ceiling "$name" insert 1 ;;
            ceiling-insert-c64) run_mariadb_ceiling "$name" insert 64 ;;
            ceiling-send-message) run_mariadb_ceiling "$name" send-message 1 ;;
            ceiling-send-message-c64) run_mariadb_ceiling "$name" send-message 64 ;;
            ceiling-list) run_mariadb_ceiling "$name" list 1 ;;
            ceiling-list-c64) run_mariadb_ceiling "$name" list 64 ;;
            send-c1) run_ova "$name" send-message 1 ;;
            send-c64) run_ova "$name" send-message 64 ;;
            list-c1) run_ova "$name" list-messages 1 ;;
            list-c64) run_ova "$name" list-messages 64 ;;
            *) log "unknown case $name (cases: $ALL_CASES)" ;;
        esac
        continue
    fi
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
    if "error" in r and "calls_per_s" not in r:
        return "not measured: " + r["error"]
    e = r.get("errors") or {}
    return " (errors: " + ", ".join(f"{k} {v}" for k, v in sorted(e.items())) + ")" if e else ""

backend = meta.get("backend", "sqlite")
print(f'store-bench.sh, {meta["date"]}, git {meta["git"]}, backend {backend}, {meta["duration_s"]} s per case, '
      f'{meta["cores"]} cores, load average {meta.get("load", "?")} at the start, {meta["connections"]} connections, '
      f'list cases on {meta["rows"]} messages\n')
print("| case | calls/s | p50 / p99 µs | vs ceiling (no RPC) |")
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
if backend == "mariadb":
    rows = [
        ("ceiling-insert", "MariaDB: the SendMessage INSERT, autocommit, 1 connection", None),
        ("ceiling-insert-c64", "MariaDB: the same, 64 connections", None),
        ("ceiling-send-message", "MariaDB: that INSERT + the audit INSERT, 1 connection", None),
        ("ceiling-send-message-c64", "MariaDB: the same, 64 connections", None),
        ("send-c1", "ova-bench send-message, c=1", "ceiling-insert"),
        ("send-c64", "ova-bench send-message, c=64", "ceiling-insert-c64"),
        ("ceiling-list", "MariaDB: the ListMessages COUNT + page SELECT (50), 1 connection", None),
        ("ceiling-list-c64", "MariaDB: the same, 64 connections", None),
        ("list-c1", "ova-bench list-messages, c=1", "ceiling-list"),
        ("list-c64", "ova-bench list-messages, c=64", "ceiling-list-c64"),
    ]
for case, label, ceiling in rows:
    if case not in results:
        continue
    if "calls_per_s" not in results[case]:
        print(f"| {label} | {errors(case)} | — | |")
        continue
    versus = ""
    if ceiling:
        versus = f"{ratio(case, ceiling)} of {ceiling}"
        if case.startswith("send"):
            second = "ceiling-send-message" + ("-c64" if backend == "mariadb" and case.endswith("c64") else "")
            versus += f", {ratio(case, second)} of {second}"
    print(f"| {label} | {number(rate(case))}{errors(case)} | {latency(case)} | {versus} |")
PY
log "raw results: $RESULTS; logs: $WORK"
