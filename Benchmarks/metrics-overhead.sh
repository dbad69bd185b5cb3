#!/usr/bin/env bash
# Unary overhead of the operator metrics (OVA_ADMIN_LISTEN): the same release ova-server with
# the admin listener off and on, alternating; calls/s, p50/p99 and the server's CPU per call
# (/proc utime+stime over the run / calls). Build first: make release. Loopback only; each run
# is bounded by DURATION (default 5 s), ROUNDS (default 3) x 2 concurrencies x off/on.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERVER=${SERVER:-$ROOT/.build/release/ova-server}; BENCH=${BENCH:-$ROOT/.build/release/ova-bench}; DURATION=${DURATION:-5}; ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d /tmp/ova-metrics-bench.XXXX)
tick=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
one() {
  local label=$1 conc=$2 admin=$3 port=$((20000 + RANDOM % 20000))
  rm -rf "$WORK/data"; mkdir -p "$WORK/data"
  if [[ $admin == on ]]; then export OVA_ADMIN_LISTEN=127.0.0.1:$((port+1)); else unset OVA_ADMIN_LISTEN; fi
  "$SERVER" --listen 127.0.0.1:$port --data-dir "$WORK/data" --log-level warning >"$WORK/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do [[ -f $WORK/data/dev-cert.pem ]] && (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  local before; before=$(cpu_ticks $pid)
  "$BENCH" --addr 127.0.0.1:$port --ca "$WORK/data/dev-cert.pem" --mode unary --connections 2 --concurrency $conc \
     --duration "$DURATION" --warmup 0 --json > "$WORK/out.json"
  local after; after=$(cpu_ticks $pid)
  if [[ $admin == on ]]; then curl -fsS "http://127.0.0.1:$((port+1))/metrics" | promtool check metrics && echo "  promtool ok"; fi
  kill -TERM $pid; wait $pid || true
  python3 - "$label" "$conc" "$admin" "$WORK/out.json" "$before" "$after" "$tick" "$DURATION" <<'PY'
import json, sys
label, conc, admin, path, before, after, tick, duration = sys.argv[1:9]
obj = [json.loads(l) for l in open(path) if l.strip().startswith("{")][-1]
calls = obj["calls"]
cpu = (int(after) - int(before)) / int(tick)
lat = obj["latency_us"]
print(f"{label:>3} c={conc:<3} admin={admin:<3} calls/s={obj['calls_per_s']:>9} p50={lat.get('p50')} p99={lat.get('p99')} server_cpu_us_per_call={cpu / calls * 1e6:.2f} errors={obj['errors']}", flush=True)
PY
}
for round in $(seq $ROUNDS); do
  for conc in 1 64; do
    one r$round $conc off
    one r$round $conc on
  done
done
rm -rf "$WORK"
