#!/usr/bin/env bash
# Start the embedded portal: SQLite (WAL), the django-q2 ORM broker, one qcluster and the web server.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=${1:-127.0.0.1}
PORT=${2:-8000}
PY=.venv/bin/python
mkdir -p var

$PY manage.py migrate --noinput -v 0
$PY manage.py seed_demo | tee var/demo-logins.txt

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

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
  Staff health page: http://$HOST:$PORT/staff/health/  (sign in as admin@wholesale.example)
  Logs: var/web.log, var/qcluster.log.  Press Ctrl-C to stop.

MSG
wait -n "${pids[@]}"
