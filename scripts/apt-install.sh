#!/usr/bin/env bash
# Install Debian packages as root, waiting (bounded) for another apt/dpkg process that holds
# the package manager's lock instead of failing at once:
#   scripts/apt-install.sh PACKAGE...
# APT_LOCK_TIMEOUT (seconds, default 600) bounds the wait for each apt-get call.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "needs root and apt-get to install: $* (install them with your package manager)" >&2
  exit 1
fi
TIMEOUT=${APT_LOCK_TIMEOUT:-600}
apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$TIMEOUT" -o "Acquire::Retries=3" "$@"
}
echo "installing $* (Debian packages)..." >&2
# The package lists' lock is not covered by DPkg::Lock::Timeout in every apt: retry update
# within the same bound.
deadline=$((SECONDS + TIMEOUT))
until apt_get update -qq >&2; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "apt-get update kept failing for ${TIMEOUT}s (another apt holding its lock?)" >&2
    exit 1
  fi
  echo "apt-get update failed; trying again in 5 s..." >&2
  sleep 5
done
apt_get install -y -qq "$@" >&2
