#!/usr/bin/env bash
# Checks deploy/nginx/callbacks.conf for real, natively: nginx with the recipe as shipped
# (only its name, certificate, ports and upstream substituted) terminating TLS in front
# of gunicorn and a worker on this machine (SQLite, the simulator), then the same checks
# as the containers get (deploy/verify/smoke.py) through https. Needs nginx and openssl;
# the venv (.venv) runs the app. Leaves nothing behind.
#
#   deploy/verify/nginx.sh
#   HTTPS_PORT=8444 HTTP_PORT=8081 APP_PORT=8010 deploy/verify/nginx.sh   # the defaults
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}

HTTPS_PORT=${HTTPS_PORT:-8444}
APP_PORT=${APP_PORT:-8010}
HTTP_PORT=${HTTP_PORT:-8081}
HOST=callbacks.localhost
BASE="https://$HOST:$HTTPS_PORT"
LIMIT=10
work=$(mktemp -d)
pids=()
cleanup() {
  status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  [ $status = 0 ] || tail -n 20 "$work"/*.log >&2 || true
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "a certificate for $HOST (its own CA, as Caddy's local one)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$HOST" \
  -addext "subjectAltName=DNS:$HOST" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

step "nginx with deploy/nginx/callbacks.conf"
mkdir -p "$work/nginx" "$work/letsencrypt"
sed -e "s/callbacks\.example\.com;/$HOST;/" \
    -e "s#/etc/letsencrypt/live/callbacks.example.com/fullchain.pem#$work/cert.pem#" \
    -e "s#/etc/letsencrypt/live/callbacks.example.com/privkey.pem#$work/key.pem#" \
    -e "s#/var/www/letsencrypt#$work/letsencrypt#" \
    -e "s/listen 443 ssl/listen $HTTPS_PORT ssl/" -e "s/listen \[::\]:443 ssl/listen [::]:$HTTPS_PORT ssl/" \
    -e "s/listen 80;/listen $HTTP_PORT;/" -e "s/listen \[::\]:80;/listen [::]:$HTTP_PORT;/" \
    -e "s/server 127.0.0.1:8000;/server 127.0.0.1:$APP_PORT;/" \
    deploy/nginx/callbacks.conf >"$work/nginx/callbacks.conf"
cat >"$work/nginx.conf" <<CONF
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events {}
http {
    access_log $work/nginx-access.log;
    client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
    include $work/nginx/callbacks.conf;
}
CONF
nginx -t -q -p "$work" -c "$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf"

step "gunicorn on 127.0.0.1:$APP_PORT and a worker (SQLite in $work)"
export INSTANCE_PATH=$work DATABASE_URL="sqlite:///$work/callbacks.db" PUBLIC_BASE_URL=$BASE
export TRUSTED_PROXIES=1 API_RATE_LIMIT=$LIMIT/minute TELEPHONY_PROVIDER=simulator METRICS_BEARER_TOKEN=verify-metrics-token
export TWILIO_ACCOUNT_SID=ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa TWILIO_AUTH_TOKEN=verify-auth-token
export PROMETHEUS_MULTIPROC_DIR=$work/prometheus && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
"$VENV"/bin/flask --app wsgi callbacks init-db >"$work/migrate.log" 2>&1
for queue in deploy/verify/queues/*.json; do "$VENV"/bin/flask --app wsgi callbacks queue import - <"$queue"; done
key=$("$VENV"/bin/flask --app wsgi callbacks create-api-key --name verify | tail -n 1)
"$VENV"/bin/gunicorn --config gunicorn.conf.py --bind "127.0.0.1:$APP_PORT" --workers 1 --threads 8 wsgi:app \
  >"$work/web.log" 2>&1 & pids+=($!)
"$VENV"/bin/flask --app wsgi callbacks worker >"$work/worker.log" 2>&1 & pids+=($!)

step "checks through $BASE"
"$VENV"/bin/python deploy/verify/smoke.py --base "$BASE" --ca "$work/cert.pem" --key "$key" \
  --sql ""$VENV"/bin/python deploy/verify/sqlite_query.py $work/callbacks.db" \
  --twilio-token verify-auth-token --address-limit "$LIMIT"
echo
echo "deploy/nginx/callbacks.conf verified"
