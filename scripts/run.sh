#!/usr/bin/env bash
# Start the embedded portal: a local Tryton ERP (its own venv, SQLite), the portal on SQLite (WAL)
# with the django-q2 ORM broker, one qcluster and the web server. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${1:-127.0.0.1}
PORT=${2:-8000}
ERP_PORT=${ERP_PORT:-8800}
PY=.venv/bin/python
mkdir -p var

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  $PY tools/tryton/erp.py down >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

echo "Starting the local Tryton ERP on port $ERP_PORT (the first run builds it: about a minute)…"
$PY tools/tryton/erp.py up --port "$ERP_PORT" > var/erp.env
set -a
# shellcheck disable=SC1091
source var/erp.env
set +a
echo "ERP at $ERP_URL (database $ERP_DATABASE, user $ERP_USERNAME)"

$PY manage.py migrate --noinput -v 0
$PY manage.py erp_sync --pull || echo "The first pull failed; the worker will retry every 30 s."
# Demo companies, users and orders; --erp-demo pushes the demo orders to this ERP and ships and invoices
# some of them there (as its warehouse and accounting would), so every order state has an example.
$PY manage.py seed_demo --erp-demo | tee var/demo-logins.txt

$PY manage.py qcluster >var/qcluster.log 2>&1 &
pids+=($!)
$PY manage.py runserver "$HOST:$PORT" --noreload >var/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 50); do
  if curl -fsS -o /dev/null "http://$HOST:$PORT/accounts/login/" 2>/dev/null; then break; fi
  sleep 0.2
done

cat <<MSG

  The portal is running at http://$HOST:$PORT/
  Sign in with one of the demo logins above (they are saved in var/demo-logins.txt).
  ERP sync monitor: http://$HOST:$PORT/staff/sync/ and health: http://$HOST:$PORT/staff/health/
  (sign in as admin@wholesale.example). The ERP itself: $ERP_URL (admin / admin).
  Logs: var/web.log, var/qcluster.log, .erp/run/trytond.log.  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
