#!/usr/bin/env bash
# The Python client's conformance suite (clients/python/tests) against the real ova-server.
# A venv in .build/pyenv gets ./clients/python and pytest, reinstalled only when the client's
# sources change (a stamp of their hash), so reruns skip pip entirely. Used by `make test`.
#
#   OVA_SERVER_BIN   the server to test (default: the debug build of SWIFT_FLAGS)
#   PYTEST_ARGS      extra pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=${OVA_PYENV:-$root/.build/pyenv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.ova-client-stamp"
want=$( (cd clients/python && find pyproject.toml README.md ova_client -name '*.py' -o -name '*.toml' -o -name '*.md' | LC_ALL=C sort | xargs sha256sum; echo pytest) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "test-python: installing ./clients/python and pytest into $venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade ./clients/python 'pytest>=7'
  rm -rf clients/python/build clients/python/*.egg-info
  echo "$want" > "$stamp"
fi
export OVA_SERVER_BIN=${OVA_SERVER_BIN:-$(swift build ${SWIFT_FLAGS:-} --show-bin-path)/ova-server}
# Test the installed package, not the source tree beside the tests.
cd clients/python/tests
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} .
