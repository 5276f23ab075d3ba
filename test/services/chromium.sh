#!/usr/bin/env bash
# Chromium from Debian's packages for the browser tests (test/browser/, driven by
# playwright-core, which never downloads a browser of its own). Idempotent: installs only when
# /usr/bin/chromium is missing. A font comes with it: a headless Chromium without one draws
# text as empty boxes in the screenshots.
#
#   bash test/services/chromium.sh   (run by `bash test/services.sh up`; as root)
set -euo pipefail

CHROMIUM=/usr/bin/chromium
[[ -x "$CHROMIUM" ]] && exit 0

log_file=/tmp/services-chromium-apt.log
echo "installing chromium (apt-get) ..."
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log_file" 2>&1; then
  echo "chromium.sh: ERROR: apt-get install chromium failed (see $log_file)" >&2
  exit 1
fi
[[ -x "$CHROMIUM" ]] || { echo "chromium.sh: ERROR: $CHROMIUM missing after installing chromium" >&2; exit 1; }
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo installed)"
