#!/usr/bin/env bash
# Starts compose.yaml for real (images built here, PostgreSQL, Redis, 2 web replicas of 2
# processes, 2 workers, Caddy with TLS) and checks it end to end from outside, through
# https (deploy/verify/smoke.py). Needs podman and podman-compose (or COMPOSE="docker
# compose"); the machine's Python venv (.venv, `make run` or `make test` makes it) runs
# the checks. Leaves nothing behind unless KEEP=1.
#
#   deploy/verify/run.sh
#   STANDINS=1 deploy/verify/run.sh   # no registry: PostgreSQL, Redis, Caddy built from Debian
#   BUILD_ARGS="--build-arg PIP_CERT=/run/ca.crt -v /etc/ssl/certs/ca-certificates.crt:/run/ca.crt:ro" …
set -euo pipefail
cd "$(dirname "$0")/../.."

ENGINE=${ENGINE:-podman}
COMPOSE=${COMPOSE:-podman-compose}
PROJECT=callbacks-verify
export COMPOSE_PROJECT_NAME=$PROJECT
export CALLBACKS_IMAGE=localhost/callbacks:verify
export HTTPS_PORT=${HTTPS_PORT:-8443} HTTP_PORT=${HTTP_PORT:-8080}
export CALLBACKS_HOST=callbacks.localhost
export PUBLIC_BASE_URL="https://$CALLBACKS_HOST:$HTTPS_PORT"
export WEB_REPLICAS=2 WORKER_REPLICAS=2 WEB_WORKERS=2
export ADDRESS_LIMIT=10
compose() { $COMPOSE -f compose.yaml -f deploy/verify/compose.verify.yaml "$@"; }

step() { printf '\n== %s\n' "$*"; }
cleanup() {
  status=$?
  if [ "${KEEP:-0}" != 1 ]; then
    step "down"
    compose down --volumes >/dev/null 2>&1 || true
  fi
  exit $status
}
trap cleanup EXIT

step "images"
# shellcheck disable=SC2086
$ENGINE build ${BUILD_ARGS:-} --format docker -q -t "$CALLBACKS_IMAGE" . >/dev/null
if [ "${STANDINS:-0}" = 1 ]; then
  for name in postgres redis caddy; do
    $ENGINE build -q -t "localhost/standin-$name:verify" "deploy/verify/$name" >/dev/null
  done
  export POSTGRES_IMAGE=localhost/standin-postgres:verify
  export REDIS_IMAGE=localhost/standin-redis:verify
  export CADDY_IMAGE=localhost/standin-caddy:verify
fi
$ENGINE images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep ':verify' || true

deploy/make-secrets.sh

step "db, redis"
compose up -d db redis
wait_for() {  # SERVICE COMMAND…: until the command succeeds in the service's container
  local service=$1; shift
  for _ in $(seq 60); do
    if compose exec -T "$service" "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "$service did not become ready" >&2; return 1
}
wait_for db pg_isready --username=callbacks --dbname=callbacks
wait_for redis redis-cli ping

step "migrate, and the queues the checks book into (open all day; three seats an hour)"
compose run --rm --no-deps migrate
for queue in deploy/verify/queues/*.json; do
  compose run --rm --no-deps -T migrate flask --app wsgi callbacks queue import - <"$queue"
done

step "web x$WEB_REPLICAS, worker x$WORKER_REPLICAS, proxy"
compose up -d --no-deps web worker
compose up -d --no-deps proxy
compose ps

step "checks through https://$CALLBACKS_HOST:$HTTPS_PORT"
ca=$(mktemp)
for _ in $(seq 30); do
  if compose exec -T proxy cat /data/caddy/pki/authorities/local/root.crt >"$ca" 2>/dev/null && [ -s "$ca" ]; then break; fi
  sleep 1
done
key=$(compose run --rm --no-deps -T migrate flask --app wsgi callbacks create-api-key --name verify | tr -d "\r" | tail -n 1)
psql="$COMPOSE -f compose.yaml -f deploy/verify/compose.verify.yaml exec -T db psql --username=callbacks --dbname=callbacks -At -c"
.venv/bin/python deploy/verify/smoke.py --base "$PUBLIC_BASE_URL" --ca "$ca" --key "$key" --sql "$psql" \
  --twilio-token verify-auth-token --address-limit "$ADDRESS_LIMIT"

containers() { $ENGINE ps --filter "label=com.docker.compose.project=$PROJECT" \
  --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | sort; }

step "each worker: /healthz, and its own /metrics counting its own dials"
total=0
for name in $(containers worker); do
  $ENGINE exec "$name" python deploy/container/healthcheck.py http://127.0.0.1:9101/healthz
  dials=$($ENGINE exec "$name" python -c 'import urllib.request, re
token = open("/run/secrets/metrics_token").read().strip()
ask = urllib.request.Request("http://127.0.0.1:9101/metrics", headers={"Authorization": f"Bearer {token}"})
body = urllib.request.urlopen(ask, timeout=3).read().decode()
print(int(sum(float(v) for v in re.findall(r"^dispatch_lag_seconds_count\{[^}]*\} (\S+)$", body, re.M))))')
  echo "ok  $name: healthy, dials counted $dials"
  total=$(python3 -c "print(int($total + $dials))")
done
[ "$(containers worker | wc -l)" = "$WORKER_REPLICAS" ] || { echo "expected $WORKER_REPLICAS workers" >&2; exit 1; }
dialed=$($psql 'SELECT count(*) FROM sim_call')
[ "$total" = "$dialed" ] || { echo "the workers' metrics count $total dials, the simulator saw $dialed" >&2; exit 1; }
echo "ok  the workers' metrics together: $total dials = the simulator's $dialed calls"

step "the daily and hourly jobs: once between the workers"
for _ in $(seq 30); do
  [ "$($psql 'SELECT count(*) FROM job_run WHERE last_finished_at IS NOT NULL')" = 3 ] && break
  sleep 1
done
runs=$($psql "SELECT string_agg(name || '=' || runs, ' ' ORDER BY name) FROM job_run")
[ "$runs" = "anonymise=1 extend_slots=1 forget_expired=1" ] || { echo "job runs: $runs" >&2; exit 1; }
echo "ok  job_run: $runs"

step "each web replica answered some of the requests (Caddy spreads them)"
for name in $(containers web); do
  served=$($ENGINE logs "$name" 2>&1 | grep -c '"logger": "app.access"' || true)
  echo "ok  $name: $served requests"
  [ "$served" -gt 0 ] || { echo "$name served nothing" >&2; exit 1; }
done

step "SIGTERM: every service stops cleanly"
compose stop -t 30 proxy web worker >/dev/null 2>&1
codes=$($ENGINE ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}} {{.ExitCode}}' | grep -E '_(web|worker)_' | sort)
echo "$codes"
if echo "$codes" | awk '$2 != 0 {bad=1} END {exit !bad}'; then echo "a process did not stop cleanly" >&2; exit 1; fi
echo "ok  every web and worker container exited 0"
echo
echo "compose.yaml verified"
