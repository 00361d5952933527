#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (/usr/bin/chromium) with Playwright; Playwright's
# own browser download is not used (and cannot work without the internet).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
"$(dirname "$0")/apt-install.sh" chromium || {
  echo "/usr/bin/chromium is missing: install the chromium package (browser tests need it)" >&2
  exit 1
}
