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
)
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
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
