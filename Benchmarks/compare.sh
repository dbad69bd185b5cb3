#!/usr/bin/env bash
# Side-by-side benchmark: OVA (ova-server + ova-bench) against grpc-swift-2
# (Benchmarks/grpc-compare: grpc-echo-server + grpc-bench), same Echo contract, TLS on both,
# same payloads, concurrency and durations, one case at a time on 127.0.0.1. A third side, the
# bare SwiftNIO + swift-nio-ssl echo of Benchmarks/bare-echo, measures the ceiling of the
# request/response cases in the same run.
#
#   bash Benchmarks/compare.sh                 # full run (10 s per case, 1,000 and 10,000 idle)
#   QUICK=1 bash Benchmarks/compare.sh         # 2 s per case, no 10,000-connection case
#   DURATION=30 bash Benchmarks/compare.sh     # longer cases
#
# Other knobs: CONNECTIONS (load cases, default 2), WARMUP (s, default 1), SIDES ("ova grpc bare"), CASES (names from the list below,
# space-separated), SKIP_BUILD=1 (use existing release binaries), GRPC_SERVER_FLAGS (extra
# grpc-echo-server flags, default none), GRPC_SERVER_STREAM_FLAGS (for the server-stream case
# only, default --nio-executor: see "Configuration" in Benchmarks/README.md).
# Prints one markdown table; the raw JSON lines go to Benchmarks/results/<date>.jsonl.
# See Benchmarks/README.md for what each case measures.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GRPC_PKG="$ROOT/Benchmarks/grpc-compare"
BARE_PKG="$ROOT/Benchmarks/bare-echo"
QUICK=${QUICK:-0}
# Client connections of the load cases (both sides alike); 2 = one per core of this machine.
CONNECTIONS=${CONNECTIONS:-2}
if [[ -z "${DURATION:-}" ]]; then
    if [[ "$QUICK" == 1 ]]; then DURATION=2; else DURATION=10; fi
fi
WARMUP=${WARMUP:-1}
SIDES=${SIDES:-"ova grpc bare"}
GRPC_SERVER_FLAGS=${GRPC_SERVER_FLAGS-}
GRPC_SERVER_STREAM_FLAGS=${GRPC_SERVER_STREAM_FLAGS---nio-executor}
# NAME-one-core is case NAME with server and load client pinned to CPU 0 (taskset), and
# NAME-two-cores with the server on CPU 0 and the client on CPU 1: at c=1 a call is two
# wake-ups of the other process, and on this VM waking a thread on the other, idle vCPU costs
# far more than a switch on the same one. Unpinned, the scheduler picks one of the two
# placements per run, so both are also measured on purpose (docs/PERFORMANCE.md, "Where the
# c=1 round trip goes").
ALL_CASES="unary-c1 unary-c1-one-core unary-c1-two-cores unary-c64 server-stream client-stream bidi-c1 bidi-c1-one-core bidi-c1-two-cores bidi-c64 idle-1000 idle-10000"
if [[ "$QUICK" == 1 ]]; then ALL_CASES=${ALL_CASES/ idle-10000/}; fi
CASES=${CASES:-$ALL_CASES}

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "compare.sh: $*" >&2; }
command -v python3 >/dev/null || die "python3 is required"
command -v swift >/dev/null || die "swift is required"
[[ "$DURATION" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "DURATION must be a number of seconds"
[[ "$WARMUP" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "WARMUP must be a number of seconds"
if [[ "$CASES" == *-core* ]] && { ! command -v taskset >/dev/null || (( $(nproc) < 2 )); }; then
    log "taskset or a second CPU missing: skipping the pinned cases"
    CASES=$(for c in $CASES; do [[ $c == *-one-core || $c == *-two-cores ]] || printf '%s ' "$c"; done)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ova-compare.XXXXXX")
RESULTS_DIR="$ROOT/Benchmarks/results"
mkdir -p "$RESULTS_DIR"
RESULTS="$RESULTS_DIR/$(date +%Y-%m-%d-%H%M%S).jsonl"
RUN_LINES="$WORK/run.jsonl"
: >"$RUN_LINES"

SERVER_PID=""
BENCH_PID=""
# shellcheck source=Benchmarks/server-control.sh
source "$ROOT/Benchmarks/server-control.sh"
cleanup() {
    if [[ -n "$BENCH_PID" ]]; then kill "$BENCH_PID" 2>/dev/null; fi
    stop_server
    rm -rf "$WORK/data"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# Idle cases open thousands of sockets in each process.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# Build

declare -A SIDE_OK SIDE_WHY SIDE_BIN
SIDE_NAME_ova="OVA"
SIDE_NAME_grpc="gRPC"
SIDE_NAME_bare="bare echo"
for side in ova grpc bare; do SIDE_OK[$side]=0; SIDE_WHY[$side]="not requested (SIDES)"; done

wants_side() { [[ " $SIDES " == *" $1 "* ]]; }

if wants_side ova; then
    SIDE_OK[ova]=1
    if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
        log "building OVA (ova-server, ova-bench) in release; log: $WORK/build-ova.log"
        # `--product` cannot be given twice, so two builds (the second is incremental).
        if ! (cd "$ROOT" && swift build -c release --product ova-server && swift build -c release --product ova-bench) >"$WORK/build-ova.log" 2>&1; then
            SIDE_OK[ova]=0
            SIDE_WHY[ova]="release build failed (see $WORK/build-ova.log: $(grep -m1 'error:' "$WORK/build-ova.log" | cut -c1-160))"
        fi
    fi
    SIDE_BIN[ova]=$(cd "$ROOT" && swift build -c release --show-bin-path 2>/dev/null)
    if [[ "${SIDE_OK[ova]}" == 1 ]]; then
        if [[ ! -x "${SIDE_BIN[ova]}/ova-server" ]]; then
            SIDE_OK[ova]=0; SIDE_WHY[ova]="ova-server not found in ${SIDE_BIN[ova]}"
        elif [[ ! -x "${SIDE_BIN[ova]}/ova-bench" ]]; then
            SIDE_OK[ova]=0; SIDE_WHY[ova]="ova-bench not found in ${SIDE_BIN[ova]} (not built yet?)"
        fi
    fi
fi

# build_package SIDE DIR SERVER BENCH: release build of a benchmark package, then checks its tools.
build_package() {
    local side=$1 dir=$2 exe
    SIDE_OK[$side]=1
    if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
        log "building $(basename "$dir") in release (the first build takes minutes); log: $WORK/build-$side.log"
        # SwiftPM keeps the root package's source lists from its last manifest load, so a file
        # added to BenchKit (a path dependency) would be missing from the build; touching the
        # manifest makes it load the package graph again.
        touch "$dir/Package.swift"
        if ! (cd "$dir" && swift build -c release) >"$WORK/build-$side.log" 2>&1; then
            SIDE_OK[$side]=0
            SIDE_WHY[$side]="release build failed (see $WORK/build-$side.log: $(grep -m1 'error:' "$WORK/build-$side.log" | cut -c1-160))"
        fi
    fi
    SIDE_BIN[$side]=$(cd "$dir" && swift build -c release --show-bin-path 2>/dev/null)
    if [[ "${SIDE_OK[$side]}" == 1 ]]; then
        for exe in "$3" "$4"; do
            if [[ ! -x "${SIDE_BIN[$side]}/$exe" ]]; then
                SIDE_OK[$side]=0; SIDE_WHY[$side]="$exe not found in ${SIDE_BIN[$side]}"
            fi
        done
    fi
}
if wants_side grpc; then build_package grpc "$GRPC_PKG" grpc-echo-server grpc-bench; fi
if wants_side bare; then build_package bare "$BARE_PKG" bare-echo-server bare-echo-bench; fi

for side in ova grpc bare; do
    name_var="SIDE_NAME_$side"
    if wants_side "$side" && [[ "${SIDE_OK[$side]}" != 1 ]]; then
        log "${!name_var} side unavailable: ${SIDE_WHY[$side]}"
    fi
done
if [[ "${SIDE_OK[ova]}" != 1 && "${SIDE_OK[grpc]}" != 1 && "${SIDE_OK[bare]}" != 1 ]]; then
    die "no side can run; logs in $WORK"
fi

# ---------------------------------------------------------------------------------------------
# Servers

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Waits (at most 60 s) until 127.0.0.1:$1 accepts TCP connections while pid $2 lives.
wait_for_port() {
    python3 - "$1" "$2" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 60
while time.time() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# start_server SIDE PORT LOG CASE -> sets SERVER_PID; returns non-zero if it did not come up.
start_server() {
    local side=$1 port=$2 logfile=$3 case_name=$4 flags=$GRPC_SERVER_FLAGS
    if [[ "$case_name" == server-stream ]]; then flags="$flags $GRPC_SERVER_STREAM_FLAGS"; fi
    case "$side" in
        ova)
            rm -rf "$WORK/data" && mkdir -p "$WORK/data"
            "${PIN[@]}" "${SIDE_BIN[ova]}/ova-server" --listen "127.0.0.1:$port" --data-dir "$WORK/data" --log-level warning \
                >"$logfile" 2>&1 &
            ;;
        grpc)
            # shellcheck disable=SC2086
            "${PIN[@]}" "${SIDE_BIN[grpc]}/grpc-echo-server" --host 127.0.0.1 --port "$port" $flags >"$logfile" 2>&1 &
            ;;
        bare)
            "${PIN[@]}" "${SIDE_BIN[bare]}/bare-echo-server" --host 127.0.0.1 --port "$port" >"$logfile" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    wait_for_port "$port" "$SERVER_PID"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

bench_bin() {
    case "$1" in
        ova) echo "${SIDE_BIN[ova]}/ova-bench" ;;
        grpc) echo "${SIDE_BIN[grpc]}/grpc-bench" ;;
        bare) echo "${SIDE_BIN[bare]}/bare-echo-bench" ;;
    esac
}

# The bare echo is request/response only: it has the unary and ping-pong cases.
side_has_case() {
    [[ "$1" != bare ]] && return 0
    local base=${2%-one-core}
    case "${base%-two-cores}" in unary-c1|unary-c64|bidi-c1|bidi-c64) return 0 ;; *) return 1 ;; esac
}

# ---------------------------------------------------------------------------------------------
# Cases: name -> bench flags

case_args() {
    case "$1" in
        unary-c1)      echo "--mode unary --connections $CONNECTIONS --concurrency 1 --payload 64" ;;
        unary-c64)     echo "--mode unary --connections $CONNECTIONS --concurrency 64 --payload 64" ;;
        server-stream) echo "--mode server-stream --connections $CONNECTIONS --concurrency 64 --payload 64" ;;
        client-stream) echo "--mode client-stream --connections $CONNECTIONS --concurrency 64 --payload 3200" ;;
        bidi-c1)       echo "--mode bidi --connections $CONNECTIONS --concurrency 1 --payload 64" ;;
        bidi-c64)      echo "--mode bidi --connections $CONNECTIONS --concurrency 64 --payload 64" ;;
        idle-1000)     echo "--mode idle --connections 1000" ;;
        idle-10000)    echo "--mode idle --connections 10000" ;;
        *) return 1 ;;
    esac
}

# Records one result line: the bench's JSON plus case/side (and RSS fields for idle).
record() {
    local case_name=$1 side=$2 json_file=$3 extra=$4
    python3 - "$case_name" "$side" "$json_file" "$extra" >>"$RUN_LINES" <<'PY'
import json, sys
case, side, path, extra = sys.argv[1:5]
obj = None
for line in open(path, errors="replace"):
    line = line.strip()
    if line.startswith("{"):
        try:
            obj = json.loads(line)
        except ValueError:
            pass
if obj is None:
    obj = {"error": "no JSON output"}
out = {"case": case, "side": side}
out.update(obj)
if extra:
    out.update(json.loads(extra))
print(json.dumps(out, separators=(",", ":")))
PY
}

# Samples the server while an idle bench holds its connections: RSS (KiB) at the moment the
# number of established server-side sockets was at its highest (median over that plateau).
sample_idle_rss() {
    python3 - "$1" "$2" "$3" <<'PY'
import os, statistics, sys, time
server, bench, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
hexport = ":%04X" % port
def rss():
    try:
        for line in open(f"/proc/{server}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
def established():
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split(None, 4)
                    if parts[1].endswith(hexport) and parts[3] == "01":
                        count += 1
        except OSError:
            pass
    return count
samples = []
deadline = time.time() + 900
while time.time() < deadline:
    try:
        os.kill(bench, 0)
    except OSError:
        break
    samples.append((established(), rss()))
    time.sleep(0.25)
if not samples:
    print("0 0")
    sys.exit()
peak = max(n for n, _ in samples)
plateau = [r for n, r in samples if n >= peak * 0.99 and peak > 0]
print(peak, int(statistics.median(plateau)) if plateau else 0)
PY
}

# Command prefixes of the running case's server and load client (empty, or a taskset).
PIN=()
BENCH_PIN=()

# run_case NAME SIDE
run_case() {
    local name=$1 side=$2 args port json err rc extra="" limit
    local base=${name%-one-core}
    base=${base%-two-cores}
    args=$(case_args "$base") || { log "unknown case $name"; return; }
    PIN=(); BENCH_PIN=()
    case "$name" in
        *-one-core) PIN=(taskset -c 0); BENCH_PIN=(taskset -c 0) ;;
        *-two-cores) PIN=(taskset -c 0); BENCH_PIN=(taskset -c 1) ;;
    esac
    port=$(free_port)
    json="$WORK/$name-$side.json"
    err="$WORK/$name-$side.err"
    if ! start_server "$side" "$port" "$WORK/$name-$side-server.log" "$name"; then
        log "$side: server did not start for $name (see $WORK/$name-$side-server.log)"
        echo '{"error":"server did not start"}' >"$json"
        record "$name" "$side" "$json" ""
        stop_server
        return
    fi
    local bench
    bench=$(bench_bin "$side")
    if [[ "$name" == idle-* ]]; then
        # Warm the server once (first-connection allocations), then take the baseline.
        timeout 60 "$bench" --addr "127.0.0.1:$port" --insecure --mode unary --requests 50 --duration 2 --warmup 0 --json \
            >/dev/null 2>&1
        sleep 1
        local before after held_sockets
        before=$(rss_kib "$SERVER_PID")
        limit=900
        # shellcheck disable=SC2086
        timeout "$limit" "$bench" --addr "127.0.0.1:$port" --insecure $args --duration "$DURATION" --json \
            >"$json" 2>"$err" &
        BENCH_PID=$!
        read -r held_sockets after < <(sample_idle_rss "$SERVER_PID" "$BENCH_PID" "$port")
        wait "$BENCH_PID"; rc=$?
        BENCH_PID=""
        extra=$(printf '{"rss_before_kib":%s,"rss_held_kib":%s,"server_sockets_held":%s}' "${before:-0}" "${after:-0}" "${held_sockets:-0}")
    else
        limit=$(python3 -c "print(int($DURATION + $WARMUP + 90))")
        # shellcheck disable=SC2086
        "${BENCH_PIN[@]}" timeout "$limit" "$bench" --addr "127.0.0.1:$port" --insecure $args --duration "$DURATION" --warmup "$WARMUP" --json \
            >"$json" 2>"$err"
        rc=$?
    fi
    if [[ $rc != 0 ]]; then
        if [[ $rc == 124 ]]; then log "$side: $name: bench killed after ${limit} s (hung?)"; fi
        log "$side: $name: bench exited $rc: $(tail -c 300 "$err" | tr '\n' ' ')"
        extra=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); d["bench_exit"]=int(sys.argv[2]); print(json.dumps(d))' "$extra" "$rc")
    fi
    record "$name" "$side" "$json" "$extra"
    stop_server
}

GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
printf '{"tool":"compare.sh","date":"%s","git":"%s","duration_s":%s,"warmup_s":%s,"cores":%s,"quick":%s,"grpc_server_flags":"%s","grpc_server_stream_flags":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$GIT_REV" "$DURATION" "$WARMUP" "$(nproc)" "$QUICK" "$GRPC_SERVER_FLAGS" "$GRPC_SERVER_STREAM_FLAGS" >"$RUN_LINES"

for name in $CASES; do
    for side in ova grpc bare; do
        [[ "${SIDE_OK[$side]}" == 1 ]] || continue
        side_has_case "$side" "$name" || continue
        log "$name: $side"
        run_case "$name" "$side"
    done
done

cp "$RUN_LINES" "$RESULTS"

# ---------------------------------------------------------------------------------------------
# Table

python3 - "$RESULTS" "${SIDE_OK[ova]}" "${SIDE_WHY[ova]}" "${SIDE_OK[grpc]}" "${SIDE_WHY[grpc]}" \
    "${SIDE_OK[bare]}" "${SIDE_WHY[bare]}" <<'PY'
import json, sys
path, ova_ok, ova_why, grpc_ok, grpc_why, bare_ok, bare_why = sys.argv[1:8]
lines = [json.loads(l) for l in open(path) if l.strip()]
meta = lines[0] if lines and lines[0].get("tool") == "compare.sh" else {}
results = {(l["case"], l["side"]): l for l in lines if "case" in l}
cases = []
for l in lines:
    if "case" in l and l["case"] not in cases:
        cases.append(l["case"])

labels = {
    "unary-c1": "unary 64 B, c=1",
    "unary-c1-one-core": "unary 64 B, c=1, one core",
    "unary-c1-two-cores": "unary 64 B, c=1, two cores",
    "unary-c64": "unary 64 B, c=64",
    "server-stream": "server-stream 64 B, 64 streams",
    "client-stream": "client-stream 3200 B, 64 streams",
    "bidi-c1": "bidi ping-pong 64 B, c=1",
    "bidi-c1-one-core": "bidi ping-pong 64 B, c=1, one core",
    "bidi-c1-two-cores": "bidi ping-pong 64 B, c=1, two cores",
    "bidi-c64": "bidi ping-pong 64 B, c=64",
    "idle-1000": "1,000 idle TLS connections",
    "idle-10000": "10,000 idle TLS connections",
}

def kib_per_conn(r):
    held = r.get("held") or 0
    if not held or not r.get("rss_held_kib"):
        return None
    return (r["rss_held_kib"] - r["rss_before_kib"]) / held

def metric_rows(case):
    if case.startswith("unary"):
        return [("calls/s", lambda r: r.get("calls_per_s"), True),
                ("p50 µs", lambda r: (r.get("latency_us") or {}).get("p50"), False),
                ("p99 µs", lambda r: (r.get("latency_us") or {}).get("p99"), False)]
    if case.startswith("bidi"):
        return [("msg/s", lambda r: r.get("messages_per_s"), True),
                ("p50 µs", lambda r: (r.get("latency_us") or {}).get("p50"), False),
                ("p99 µs", lambda r: (r.get("latency_us") or {}).get("p99"), False)]
    if case == "server-stream":
        return [("msg/s", lambda r: r.get("messages_per_s"), True)]
    if case == "client-stream":
        return [("MB/s", lambda r: r.get("mb_per_s"), True)]
    if case.startswith("idle"):
        return [("KiB/conn", kib_per_conn, False), ("held", lambda r: r.get("held"), True)]
    return []

def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, float) and v < 100:
        return f"{v:,.1f}"
    return f"{v:,.0f}"

print()
print(f"OVA vs grpc-swift-2, and the bare NIO echo as the ceiling, {meta.get('duration_s', '?')} s per case, "
      f"TLS 1.3 on 127.0.0.1, {meta.get('cores', '?')} cores, git {meta.get('git', '?')}")
print()
print("| case | OVA | gRPC | bare echo | OVA/gRPC | OVA/bare echo |")
print("|---|---:|---:|---:|---:|---:|")
notes = []

def ratio(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b:
        return f"{a / b:.2f}×"
    return "—"

for case in cases:
    ova, grpc, bare = (results.get((case, side)) for side in ("ova", "grpc", "bare"))
    for metric, get, higher_better in metric_rows(case):
        a, b, c = (get(r) if r else None for r in (ova, grpc, bare))
        print(f"| {labels.get(case, case)} — {metric} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {ratio(a, b)} | {ratio(a, c)} |")
    for side, r in (("OVA", ova), ("gRPC", grpc), ("bare echo", bare)):
        if not r:
            continue
        if r.get("errors"):
            notes.append(f"{side} {case}: errors {r['errors']}")
        if r.get("error") or r.get("start_error") or r.get("bench_exit"):
            notes.append(f"{side} {case}: {r.get('error') or r.get('start_error') or 'bench exit ' + str(r['bench_exit'])}")
print()
print("Higher is better for calls/s, msg/s, MB/s and held; lower is better for latency and KiB/conn.")
print(f"gRPC: grpc-swift-2 stock server config{(' + ' + meta['grpc_server_flags']) if meta.get('grpc_server_flags') else ''}"
      f" (server-stream case: {meta.get('grpc_server_stream_flags') or 'same'}); grpc-bench --executor auto.")
print("bare echo: Benchmarks/bare-echo, request/response cases only (the ceiling OVA is measured against).")
if ova_ok != "1":
    notes.insert(0, f"OVA side did not run: {ova_why}")
if grpc_ok != "1":
    notes.insert(0, f"gRPC side did not run: {grpc_why}")
if bare_ok != "1":
    notes.insert(0, f"bare echo side did not run: {bare_why}")
for n in notes:
    print(f"- {n}")
print()
print(f"Raw JSON: {path}")
PY
log "logs: $WORK"
