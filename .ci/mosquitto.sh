#!/usr/bin/env bash
# Installs the Mosquitto broker and its command-line clients (for the MQTT binding's external-broker
# tests) when they are not on PATH yet. Debian/Ubuntu only; quiet and non-interactive.
set -euo pipefail

if command -v mosquitto >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "mosquitto.sh: apt-get not found; install mosquitto and mosquitto-clients by hand" >&2
  exit 1
fi
bash "$(dirname "$0")/apt-install.sh" mosquitto mosquitto-clients
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# The package enables a system broker on port 1883; the tests start their own on a free port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $SUDO systemctl stop mosquitto || true
fi
command -v mosquitto >/dev/null
