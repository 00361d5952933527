#!/bin/sh
# As the official image's entrypoint: `redis-server …` without a config file listens on
# every address with protected mode off (the network, not Redis, keeps strangers out).
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --bind '* -::*' --protected-mode no "$@"
fi
exec "$@"
