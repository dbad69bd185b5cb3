#!/usr/bin/env bash
# The C client (clients/c): builds it warning-free, runs its frame-codec test against
# docs/test-vectors/frames.hex (also under AddressSanitizer/UBSan when the compiler has them),
# then starts the built ova-server on a free loopback port with a temporary data dir and runs
# ova_echo_example against it, trusting the server's development certificate; last, the example
# (sanitizer build when available) against a fake server that sends malformed frames
# (clients/c/hostile_server_test.py): it must fail cleanly, never crash. Used by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

make -s -C clients/c all
make -s -C clients/c check
hostile_example=clients/c/build/ova_echo_example
if echo 'int main(void){return 0;}' | gcc -x c -fsanitize=address,undefined -o /dev/null - >/dev/null 2>&1; then
  make -s -C clients/c check-asan | tail -1
  hostile_example=clients/c/build/ova_echo_example_asan
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
data=$(mktemp -d)
log="$data/server.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$server_bin" --listen "127.0.0.1:$port" --data-dir "$data" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
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
python3 clients/c/hostile_server_test.py "$hostile_example" "$data/dev-cert.pem" "$data/dev-key.pem" \
  || fail "hostile_server_test"
echo "test-c: passed"
