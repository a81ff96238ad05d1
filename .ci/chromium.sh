#!/usr/bin/env bash
# Chromium for the web console's browser test (tests/console-browser.test.ts drives it with
# playwright-core, which downloads no browser of its own):
#
#   bash .ci/chromium.sh check      # exit 0 when /usr/bin/chromium (or $MINSTORE_TEST_CHROMIUM) is here
#   bash .ci/chromium.sh install    # apt-get install chromium when it is missing (root)
set -euo pipefail

CHROMIUM=${MINSTORE_TEST_CHROMIUM:-/usr/bin/chromium}

cmd_check() {
  [ -x "$CHROMIUM" ]
}

cmd_install() {
  if cmd_check; then return; fi
  echo "chromium.sh: $CHROMIUM not found; installing Debian's chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq chromium >&2
}

case "${1:-}" in
  check) cmd_check ;;
  install) cmd_install ;;
  *) echo "usage: chromium.sh check|install" >&2; exit 2 ;;
esac
