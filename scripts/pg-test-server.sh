#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback for the test suite and the benchmarks.
#   scripts/pg-test-server.sh start   -> installs PostgreSQL (Debian) if missing, starts it, prints its URL
#   scripts/pg-test-server.sh stop
#   scripts/pg-test-server.sh url
# PGTEST_DIR (default /tmp/callbacks-pgtest), PGTEST_PORT (default 54329),
# PGTEST_DURABLE=1 keeps fsync on (benchmarks); tests run without it for speed.
set -euo pipefail

DIR=${PGTEST_DIR:-/tmp/callbacks-pgtest}
PORT=${PGTEST_PORT:-54329}
DBNAME=${PGTEST_DB:-callbacks_test}
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/${DBNAME}"

find_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && command -v pg_config >/dev/null 2>&1; then dir=$(pg_config --bindir); fi
  echo "$dir"
}

BINDIR=$(find_bindir)
if [ -z "$BINDIR" ] || [ ! -x "$BINDIR/initdb" ]; then
  "$(dirname "$0")/apt-install.sh" postgresql || {
    echo "PostgreSQL server binaries not found: install the postgresql package (initdb, pg_ctl)" >&2
    exit 1
  }
  BINDIR=$(find_bindir)
fi

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    if [ -f "$DIR/data/postmaster.pid" ]; then
      as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_owner "$BINDIR/initdb" -D "$DIR/data" -A trust -U postgres --no-sync -E UTF8 >"$DIR/initdb.log"
    opts="-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB"
    if [ "${PGTEST_DURABLE:-0}" != 1 ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -o "$opts" -l "$DIR/server.log" -w -t 60 start >/dev/null
    as_owner "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DBNAME"
    echo "$URL"
    ;;
  stop)
    if [ -f "$DIR/data/postmaster.pid" ]; then
      as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    fi
    ;;
  url)
    echo "$URL"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
