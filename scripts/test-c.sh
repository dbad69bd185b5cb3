#!/usr/bin/env bash
# The C client (clients/c): builds it warning-free, runs its frame-codec test against
# docs/test-vectors/frames.hex (also under AddressSanitizer/UBSan when the compiler has them),
# then starts the built ova-server on a free loopback port with a temporary data dir and runs
# ova_echo_example against it, trusting the server's development certificate; last, the example
# (sanitizer build when available) against a fake server that sends malformed frames
# (clients/c/hostile_server_test.py): it must fail cleanly, never crash; and ova_failover_test (a
# client with several addresses) against two more servers, one of them sending GOAWAY at a
# maximum connection age, and two dead ports. Used by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

make -s -C clients/c all
make -s -C clients/c check
hostile_example=clients/c/build/ova_echo_example
failover_test=clients/c/build/ova_failover_test
if echo 'int main(void){return 0;}' | gcc -x c -fsanitize=address,undefined -o /dev/null - >/dev/null 2>&1; then
  make -s -C clients/c check-asan | tail -1
  hostile_example=clients/c/build/ova_echo_example_asan
  failover_test=clients/c/build/ova_failover_test_asan
else
  echo "test-c: compiler without -fsanitize=address,undefined; skipping the sanitizer run"
fi

# OVA_SERVER_BIN=path/to/ova-server tests against that binary instead of this checkout's build.
if [ -n "${OVA_SERVER_BIN:-}" ]; then
  server_bin=$OVA_SERVER_BIN
else
  swift build ${SWIFT_FLAGS:-} --product ova-server >/dev/null
  server_bin="$(swift build ${SWIFT_FLAGS:-} --show-bin-path)/ova-server"
fi
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
data=$(mktemp -d)
log="$data/server.log"
port=$(free_port)

"$server_bin" --listen "127.0.0.1:$port" --data-dir "$data" >"$log" 2>&1 &
server=$!
more_servers=()
more_data=()
cleanup() {
  for pid in "$server" "${more_servers[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$data" "${more_data[@]}"
}
trap cleanup EXIT

fail() {
  echo "test-c: FAILED: $*" >&2
  echo "--- server log ---" >&2
  cat "$log" >&2
  exit 1
}

for _ in $(seq 1 150); do
  if [ -s "$data/dev-cert.pem" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$server" 2>/dev/null || fail "ova-server exited early"
  sleep 0.1
done
clients/c/build/ova_echo_example --addr "127.0.0.1:$port" --ca "$data/dev-cert.pem" || fail "ova_echo_example exited $?"

# Several addresses. start_more <env assignment or ""> starts one more server, serving the first
# one's development certificate (instances of one service); sets more_port, more_pid.
start_more() {
  local dir more_port_local pid
  dir=$(mktemp -d)
  more_data+=("$dir")
  cp "$data/dev-cert.pem" "$data/dev-key.pem" "$dir/"
  more_port_local=$(free_port)
  env ${1:+"$1"} "$server_bin" --listen "127.0.0.1:$more_port_local" --data-dir "$dir" >"$dir/server.log" 2>&1 &
  pid=$!
  more_servers+=("$pid")
  for _ in $(seq 1 150); do
    if [ -s "$dir/dev-cert.pem" ] && (exec 3<>"/dev/tcp/127.0.0.1/$more_port_local") 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || fail "ova-server ($dir) exited early"
    sleep 0.1
  done
  more_port=$more_port_local
  more_pid=$pid
}
start_more ""
second_port=$more_port second_pid=$more_pid
start_more OVA_MAX_CONNECTION_AGE_SECONDS=1
aged_port=$more_port
# The probe prints "serving <port>" and waits for a line: that server is stopped (and has exited)
# before it goes on.
mkfifo "$data/probe.in"
$failover_test --ca "$data/dev-cert.pem" --dead "$(free_port),$(free_port)" \
  --aged "$aged_port" --pair "$port,$second_port" <"$data/probe.in" >"$data/probe.out" 2>&1 &
probe=$!
exec 4>"$data/probe.in"
until grep -q '^serving ' "$data/probe.out" || ! kill -0 "$probe" 2>/dev/null; do sleep 0.1; done
case $(grep '^serving ' "$data/probe.out") in
  "serving $port") serving=$server ;;
  "serving $second_port") serving=$second_pid ;;
  *) serving="" ;;
esac
if [ -n "$serving" ]; then
  kill -TERM "$serving"
  wait "$serving" || true
fi
echo go >&4
exec 4>&-
probe_status=0
wait "$probe" || probe_status=$?
cat "$data/probe.out"
[ "$probe_status" -eq 0 ] || fail "ova_failover_test exited $probe_status"
[ -n "$serving" ] || fail "ova_failover_test never said which server it was on"

python3 clients/c/hostile_server_test.py "$hostile_example" "$data/dev-cert.pem" "$data/dev-key.pem" \
  || fail "hostile_server_test"
echo "test-c: passed"
