#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages quietly and non-interactively for the .ci
# installers (mosquitto.sh, chromium.sh). The package index is refreshed only when a package has
# no candidate in it or the install fails (a stale index), so a CI run updates it at most once per need.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
install() { $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }

for package in "$@"; do
  if ! apt-cache policy "$package" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $SUDO apt-get update -qq
    break
  fi
done
if ! install "$@"; then
  $SUDO apt-get update -qq
  install "$@"
fi
