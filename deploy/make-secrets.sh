#!/bin/sh
# Writes the secrets compose.yaml reads, once: deploy/secrets/postgres_password, the
# database_url holding the same password, secret_key (signs sessions, links and
# tokens; the same for every process) and metrics_token (for /metrics). Existing files are kept: run it again safely.
set -eu
dir=$(dirname "$0")/secrets
mkdir -p "$dir"
umask 077
random() { python3 -c 'import secrets; print(secrets.token_urlsafe(32))'; }
if [ ! -s "$dir/postgres_password" ]; then
  random | tr -d '\n' >"$dir/postgres_password"
  rm -f "$dir/database_url"
fi
if [ ! -s "$dir/database_url" ]; then
  printf 'postgresql+psycopg://callbacks:%s@db:5432/callbacks' "$(cat "$dir/postgres_password")" >"$dir/database_url"
fi
[ -s "$dir/secret_key" ] || random | tr -d '\n' >"$dir/secret_key"
# The bearer token Prometheus presents to /metrics (required: PUBLIC_BASE_URL is https).
[ -s "$dir/metrics_token" ] || random | tr -d '\n' >"$dir/metrics_token"
# The containers run as other users than the one who wrote these (uid 10001, postgres):
# compose mounts them read-only; make them readable to those users.
chmod 0644 "$dir"/*
chmod 0700 "$dir" 2>/dev/null || true
echo "secrets in $dir: postgres_password, database_url, secret_key, metrics_token"
