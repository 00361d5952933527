#!/bin/sh
# The image's entrypoint: one image, three roles.
#   web      gunicorn on 0.0.0.0:$PORT, WEB_WORKERS processes of WEB_THREADS threads
#            (more than one process needs RATE_LIMIT_STORAGE_URI=redis://…: gunicorn.conf.py
#            refuses to start otherwise)
#   worker   the dispatch loop and the ticks (flask callbacks worker); its /metrics and
#            /healthz on WORKER_METRICS_PORT when set
#   migrate  the migrations to head (flask callbacks init-db), then exit: run it once per
#            release before starting web and workers
# Anything else is run as given (`docker run … callbacks flask --app wsgi callbacks backup`).
set -eu

role=${1:-web}
[ $# -gt 0 ] && shift

case "$role" in
  web)
    # prometheus_client's multiprocess mode, so that /metrics adds up every process of the
    # server: its directory must start empty at every start (docs/operations.md).
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/prometheus}"
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    exec gunicorn --config gunicorn.conf.py --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_WORKERS:-1}" --threads "${WEB_THREADS:-8}" "$@" wsgi:app
    ;;
  worker)
    # The worker's counters are served on its own port, not shared with a web process.
    unset PROMETHEUS_MULTIPROC_DIR
    exec flask --app wsgi callbacks worker "$@"
    ;;
  migrate)
    unset PROMETHEUS_MULTIPROC_DIR
    exec flask --app wsgi callbacks init-db "$@"
    ;;
  *)
    unset PROMETHEUS_MULTIPROC_DIR
    exec "$role" "$@"
    ;;
esac
