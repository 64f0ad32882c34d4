#!/usr/bin/env bash
# Installs the NATS server (for the NATS JetStream store's tests, which start their own 3-node
# cluster on free loopback ports) when it is not installed yet. Debian/Ubuntu only; quiet.
set -euo pipefail

# Debian puts the binary in /usr/sbin, which a non-root PATH may lack; the tests look there too.
if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "nats.sh: apt-get not found; install nats-server (2.9 or later) by hand" >&2
  exit 1
fi
bash "$(dirname "$0")/apt-install.sh" nats-server
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
# The package enables a system server on port 4222; the tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nats-server 2>/dev/null; then
  $SUDO systemctl stop nats-server || true
fi
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]
