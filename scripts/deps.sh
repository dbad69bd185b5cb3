#!/usr/bin/env bash
# Installs the Debian packages OVA builds and tests with, but only those missing:
# reruns on a provisioned machine touch neither the network nor apt's lists.
set -euo pipefail
packages=(
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotoc-dev
  libsqlite3-dev libcurl4-openssl-dev libssl-dev pkg-config libcrypt-dev
  libespeak-ng-dev espeak-ng-data
  libpocketsphinx-dev libsphinxbase-dev pocketsphinx-en-us
  python3-venv
  libmariadb-dev mariadb-server
  prometheus
)
# Packages installed for their binaries only, whose install would start a system service.
service_packages=(mariadb-server prometheus)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# mariadb-server and prometheus are installed for their binaries only: the tests start their own
# throwaway mariadbd (Tests/Support/OvaMariaDBServer) and run promtool on /metrics. Their
# packages would start and enable a system service where init allows it, so unless the machine
# already has a policy (containers do), a temporary policy-rc.d refuses every service start
# during this install (exit 101, "action forbidden").
policy=/usr/sbin/policy-rc.d
starts_service=false
for package in "${service_packages[@]}"; do
  if [[ " ${missing[*]} " == *" $package "* ]]; then starts_service=true; fi
done
if $starts_service && [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, from OVA scripts/deps.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
