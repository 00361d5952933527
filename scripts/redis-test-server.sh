#!/usr/bin/env bash
# A throwaway Redis on loopback for the test suite (shared rate-limit counts):
#   scripts/redis-test-server.sh start   -> installs redis-server (Debian) if missing, starts it, prints its URL
#   scripts/redis-test-server.sh stop
#   scripts/redis-test-server.sh url
# REDISTEST_DIR (default /tmp/callbacks-redistest), REDISTEST_PORT (default 56379).
set -euo pipefail

DIR=${REDISTEST_DIR:-/tmp/callbacks-redistest}
PORT=${REDISTEST_PORT:-56379}
URL="redis://127.0.0.1:${PORT}/0"

case "${1:-}" in
  start)
    if ! command -v redis-server >/dev/null 2>&1; then
      "$(dirname "$0")/apt-install.sh" redis-server || {
        echo "redis-server not found: install the redis-server package" >&2
        exit 1
      }
    fi
    if [ -f "$DIR/redis.pid" ]; then
      kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
      sleep 0.2
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    # No persistence: a test store. Loopback only, no protected-mode surprises.
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save "" --appendonly no \
      --daemonize yes --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null
    for _ in $(seq 1 100); do
      if redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; then
        echo "$URL"
        exit 0
      fi
      sleep 0.1
    done
    echo "redis-server did not answer on port $PORT: see $DIR/redis.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$DIR/redis.pid" ]; then
      kill "$(cat "$DIR/redis.pid")" 2>/dev/null || true
      rm -f "$DIR/redis.pid"
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
