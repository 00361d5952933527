#!/usr/bin/env bash
# nginx for tests/integration/test_nginx_recipe.py (deploy/verify/nginx.sh runs its own
# nginx on loopback ports with the recipe in deploy/nginx): installs Debian's package if
# missing. The package's own service is left as the package sets it up; the test never uses it.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
"$(dirname "$0")/apt-install.sh" nginx || {
  echo "nginx not found: install the nginx package" >&2
  exit 1
}
