#!/usr/bin/env bash
# End-to-end smoke test of the real executables: starts ova-server on a free loopback port with
# no configuration but a temporary data dir, talks to it with `ova` and a short `ova-bench` run of
# every mode (checks that it works, not how fast), then stops it with SIGTERM and expects a clean,
# graceful exit. Used by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(swift build ${SWIFT_FLAGS:-} --show-bin-path)
data=$(mktemp -d)
log="$data/server.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"

# SendMessage is limited per client address (10 a minute by default); `ova-bench --mode
# send-message` below sends hundreds a second from this one address.
OVA_PUBLIC_RATE_PER_MINUTE=10000000 "$bin/ova-server" --listen "$addr" --data-dir "$data" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

fail() {
  echo "smoke: FAILED: $*" >&2
  echo "--- server log ---" >&2
  cat "$log" >&2
  exit 1
}

for _ in $(seq 1 100); do
  if "$bin/ova" call ova.v1.Health/Check --addr "$addr" --ca "$data/dev-cert.pem" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
health=$("$bin/ova" call ova.v1.Health/Check --addr "$addr" --ca "$data/dev-cert.pem") || fail "Health/Check"
[ "$health" = '{"status":"SERVING"}' ] || fail "Health/Check said $health"
"$bin/ova" list --addr "$addr" --insecure | grep -q "Bidi  bidi-streaming" || fail "ova list"
echo "smoke: ova-server up on $addr; health $health"

check() {  # mode, extra flags...
  local mode=$1; shift
  local out
  out=$("$bin/ova-bench" --addr "$addr" --insecure --mode "$mode" --json "$@") || fail "ova-bench --mode $mode exited $?"
  python3 - "$mode" "$out" <<'PY' || fail "ova-bench --mode $1: $out"
import json, sys
mode, report = sys.argv[1], json.loads(sys.argv[2])
assert report["errors"] == {}, report["errors"]
if mode == "idle":
    assert report["held"] == report["connections"], report
elif mode == "list-messages":
    # Every call read a full page of 50 (the inbox holds what send-message wrote).
    assert report["calls"] > 0 and report["messages"] == 50 * report["calls"], report
else:
    assert report["messages"] > 0, report
print(f"smoke: ova-bench {mode}: {report.get('messages', report.get('held'))} in {report.get('duration_s', '-')} s")
PY
}
check unary --duration 2 --warmup 0.2 --concurrency 8
check server-stream --duration 1 --warmup 0 --concurrency 4
check client-stream --duration 1 --warmup 0 --concurrency 4 --payload 3200
check bidi --duration 1 --warmup 0 --concurrency 4
check audio --duration 1 --warmup 0 --concurrency 2
check idle --duration 0.5 --connections 20
check send-message --duration 1 --warmup 0 --concurrency 4

# Accounts: the first superadmin from the CLI, login, an authenticated call, logout revokes.
export OVA_TOKEN_FILE="$data/cli-token"
printf 'weak\n' | "$bin/ova-server" admin create --data-dir "$data" --email root@example.com --name Root --password-stdin \
  >/dev/null 2>&1 && fail "admin create accepted a weak password"
printf 'Smoke-test-pass-42\n' | "$bin/ova-server" admin create --data-dir "$data" --email root@example.com --name Root \
  --password-stdin >/dev/null || fail "ova-server admin create"
status=0
"$bin/ova" call ova.v1.Admins/ListAdmins --addr "$addr" --insecure >/dev/null 2>&1 || status=$?
[ $status -eq 16 ] || fail "ListAdmins without a token exited $status, expected 16 (UNAUTHENTICATED)"
printf 'Smoke-test-pass-42\n' | "$bin/ova" login --email root@example.com --password-stdin --addr "$addr" --insecure \
  >/dev/null || fail "ova login"
[ "$(stat -c %a "$OVA_TOKEN_FILE")" = "600" ] || fail "the saved token is not mode 0600"
admins=$("$bin/ova" call ova.v1.Admins/ListAdmins --addr "$addr" --insecure) || fail "ListAdmins after login"
# ova-bench with the token `ova login` saved, on the inbox send-message filled above.
check list-messages --duration 1 --warmup 0 --concurrency 4
# Multimodal with the local engines: speak a phrase to a WAV file, then stream it back as a
# microphone would (faster than real time) and expect the exact phrase with a phrase grammar.
"$bin/ova" tts "open the door" --language en -o "$data/phrase.wav" --addr "$addr" --insecure 2>/dev/null \
  || fail "ova tts"
heard=$("$bin/ova" stt "$data/phrase.wav" --no-realtime --phrases "open the door,hello world" --addr "$addr" --insecure) \
  || fail "ova stt"
[ "$heard" = "open the door" ] || fail "ova stt heard '$heard'"
status=0
"$bin/ova" chat "hello" --addr "$addr" --insecure >/dev/null 2>&1 || status=$?
[ $status -eq 9 ] || fail "ova chat without a configured LLM exited $status, expected 9 (FAILED_PRECONDITION)"
echo "smoke: ova tts → ova stt round trip heard '$heard'; unconfigured chat is FAILED_PRECONDITION"

# The README's assistant commands as written (between its smoke:assistant markers), logged in:
# `swift run ova` becomes the built binary and OVA_ADDR points it at this server; they run in a
# scratch directory that sees the repository's Examples/. Without a provider configured, chat,
# voice, vision and sign must answer FAILED_PRECONDITION naming the setting to set.
readme_commands() {
  sed -n '/^<!-- smoke:assistant/,/^<!-- \/smoke:assistant -->$/p' README.md | grep -E '^(swift run |arecord )' || true
}
[ "$(readme_commands | wc -l)" -ge 8 ] || fail "README.md: no smoke:assistant block of commands"
workdir="$data/readme"
mkdir "$workdir"
ln -s "$PWD/Examples" "$workdir/Examples"
ran=0
while IFS= read -r line; do
  case "$line" in
    arecord*) continue ;;  # a live microphone: none on a test machine
  esac
  command=${line//swift run ova /\"\$bin/ova\" }
  status=0
  (cd "$workdir" && export OVA_ADDR="$addr" && eval "$command") </dev/null >"$data/readme.out" 2>"$data/readme.err" || status=$?
  case "$line" in
    *"ova chat "*|*"ova voice "*|*"ova vision "*|*"ova sign "*)
      [ $status -eq 9 ] || fail "README: '$line' exited $status, expected 9 (FAILED_PRECONDITION): $(cat "$data/readme.err")"
      grep -qE '^ova: FAILED_PRECONDITION: .*(HF_API_KEY|HF_MODELO_LLM|OVA_LLM_BASE_URL)' "$data/readme.err" \
        || fail "README: '$line' did not name the setting: $(cat "$data/readme.err")"
      ;;
    *)
      [ $status -eq 0 ] || fail "README: '$line' exited $status: $(cat "$data/readme.err")"
      ;;
  esac
  case "$line" in
    *"ova stt question.wav"*) [ "$(cat "$data/readme.out")" = "open the door" ] || fail "README: stt heard '$(cat "$data/readme.out")'" ;;
  esac
  ran=$((ran + 1))
done < <(readme_commands)
[ -s "$workdir/question.wav" ] && [ -s "$workdir/hola.wav" ] || fail "README: the tts lines wrote no WAV files"
echo "smoke: the README's $ran assistant commands ran as written (providers unconfigured: FAILED_PRECONDITION naming the setting)"
echo "$admins" | grep -q '"email":"root@example.com"' || fail "ListAdmins said $admins"
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$OVA_TOKEN_FILE")
"$bin/ova" logout --addr "$addr" --insecure >/dev/null || fail "ova logout"
[ ! -e "$OVA_TOKEN_FILE" ] || fail "ova logout left the token file"
status=0
"$bin/ova" call ova.v1.Auth/WhoAmI --addr "$addr" --insecure -H "authorization=Bearer $token" >/dev/null 2>&1 || status=$?
[ $status -eq 16 ] || fail "a logged-out token still worked (exit $status)"
[ "$(stat -c %a "$data/jwt-secret")" = "600" ] || fail "the generated JWT secret is not mode 0600"
# A forgotten password: reset it from the CLI while the server runs; only the new one logs in.
printf 'Reset-smoke-pass-43\n' | "$bin/ova-server" admin reset-password --data-dir "$data" --email root@example.com \
  --password-stdin >/dev/null || fail "ova-server admin reset-password"
printf 'Smoke-test-pass-42\n' | "$bin/ova" login --email root@example.com --password-stdin --addr "$addr" --insecure \
  >/dev/null 2>&1 && fail "the old password still logs in after admin reset-password"
printf 'Reset-smoke-pass-43\n' | "$bin/ova" login --email root@example.com --password-stdin --addr "$addr" --insecure \
  >/dev/null || fail "ova login with the reset password"
echo "smoke: admin create, login, authenticated call, logout (token revoked), admin reset-password"

# Backups: a copy of the live database while the server runs; it is private, opens, and holds
# the administrator. A second run refuses to overwrite it unless --force; no database and a
# MariaDB configuration are clear refusals.
mkdir "$data/backups"
backup="$data/backups/ova.sqlite3"
out=$("$bin/ova-server" backup --data-dir "$data" --to "$backup") || fail "ova-server backup"
echo "$out" | grep -qE "^backed up $data/ova.sqlite3 to $backup: [0-9]+ pages of [0-9]+ bytes, .*integrity_check ok$" \
  || fail "ova-server backup said: $out"
[ "$(stat -c %a "$backup")" = "600" ] || fail "the backup is not mode 0600"
python3 - "$backup" <<'PY' || fail "the backup does not open as a database holding the administrator"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
assert db.execute("SELECT email FROM administrators").fetchall() == [("root@example.com",)]
db.close()
PY
status=0
"$bin/ova-server" backup --data-dir "$data" --to "$backup" >/dev/null 2>"$data/backup.err" || status=$?
[ $status -eq 73 ] && grep -q "already exists; pass --force to replace it" "$data/backup.err" \
  || fail "a second backup to the same file exited $status: $(cat "$data/backup.err")"
"$bin/ova-server" backup --data-dir "$data" --to "$backup" --force >/dev/null || fail "ova-server backup --force"
status=0
"$bin/ova-server" backup --data-dir "$data/nowhere" --to "$data/none.sqlite3" >/dev/null 2>"$data/backup.err" || status=$?
[ $status -eq 66 ] && grep -q "there is no database at $data/nowhere/ova.sqlite3" "$data/backup.err" \
  || fail "a backup without a database exited $status: $(cat "$data/backup.err")"
[ ! -e "$data/nowhere" ] && [ ! -e "$data/none.sqlite3" ] || fail "a failed backup created files"
status=0
DB_HOST=db.example DB_USER=ova DB_NAME=ova "$bin/ova-server" backup --to "$data/ova.sql" >/dev/null 2>"$data/backup.err" \
  || status=$?
[ $status -eq 64 ] && grep -q "mariadb-dump --single-transaction --routines --events -h db.example -P 3306 -u ova -p ova" "$data/backup.err" \
  || fail "backup with DB_HOST set exited $status: $(cat "$data/backup.err")"
[ ! -e "$data/ova.sql" ] || fail "backup with DB_HOST set wrote a file"
echo "smoke: ova-server backup while serving (0600, integrity ok, administrator present); refusals: existing file, no database, MariaDB"

kill -TERM "$server"
status=0
wait "$server" || status=$?
[ $status -eq 0 ] || fail "ova-server exited $status after SIGTERM"
grep -q "ova-server stopped" "$log" || fail "no graceful stop in the log"
echo "smoke: ova-server stopped gracefully"

# Restore (docs/OPERATIONS.md): the backup, copied 0600 as the database of a fresh data
# directory, is a working database holding the administrator (a password reset finds it).
mkdir -m 700 "$data/restored"
install -m 600 "$backup" "$data/restored/ova.sqlite3"
printf 'Restored-smoke-pass-44\n' | "$bin/ova-server" admin reset-password --data-dir "$data/restored" \
  --email root@example.com --password-stdin >/dev/null || fail "the restored database does not hold the administrator"
echo "smoke: the backup restored as a database works"

# .env: a server started without flags in a directory with a .env takes its settings from it
# (the real environment would win), says which file it read, and keeps its data files private.
envdir="$data/env-run"
mkdir "$envdir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
addr="127.0.0.1:$port"
cat >"$envdir/.env" <<EOF
# written by scripts/smoke.sh
export OVA_LISTEN=$addr
OVA_DATA_DIR='$envdir/data'   # quoted, with a comment
OVA_LOG_LEVEL="debug"
EOF
log="$envdir/server.log"
(cd "$envdir" && unset OVA_LISTEN OVA_DATA_DIR OVA_LOG_LEVEL OVA_ENV_FILE && exec "$bin/ova-server") >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  if "$bin/ova" call ova.v1.Health/Check --addr "$addr" --insecure >/dev/null 2>&1; then break; fi
  sleep 0.1
done
"$bin/ova" call ova.v1.Health/Check --addr "$addr" --insecure >/dev/null || fail "Health/Check on the address from .env"
grep -q "read 3 settings from $envdir/.env: OVA_LISTEN, OVA_DATA_DIR, OVA_LOG_LEVEL" "$log" \
  || fail "the log does not say that .env was read"
for entry in data:700 data/ova.sqlite3:600 data/ova.sqlite3-wal:600 data/ova.sqlite3-shm:600 data/jwt-secret:600 \
  data/dev-key.pem:600; do
  file=${entry%%:*} expected=${entry##*:}
  mode=$(stat -c %a "$envdir/$file") || fail "$file is missing"
  [ "$mode" = "$expected" ] || fail "$file has mode $mode, expected $expected"
done
kill -TERM "$server"
status=0
wait "$server" || status=$?
[ $status -eq 0 ] || fail "the server started from .env exited $status after SIGTERM"
echo "smoke: ova-server took its settings from .env; data directory 700; database, WAL, SHM, secret and key 600"
echo "smoke: passed"
