#!/usr/bin/env bash
# Installs Debian's Chromium (for the browser CORS test in test/src/browser-cors.test.ts) when
# /usr/bin/chromium is absent. Debian/Ubuntu only; quiet and non-interactive. Never downloads a
# Playwright browser: playwright-core drives this system Chromium.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: apt-get not found; install Chromium at /usr/bin/chromium by hand" >&2
  exit 1
fi
bash "$(dirname "$0")/apt-install.sh" chromium
[ -x /usr/bin/chromium ]
