#!/usr/bin/env bash
# Serve the site on http://127.0.0.1:8000 with the verification workers beside it:
#   cpu  checkpoint evaluations (minutes), with beat for the reaper of dead workers' runs
#   gpu  re-training from a configuration (hours on a CPU): its own process, so a long training
#        never holds up a checkpoint check
# The embedded broker is Celery's file-system transport under $VAR_DIR/broker (no server).
# Ctrl-C stops the web server and both workers.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
VAR_DIR=${VAR_DIR:-var}
mkdir -p "$VAR_DIR"
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT INT TERM
# What can be verified with the data present (each worker logs it again when it is ready).
"$PY" manage.py verification_report
"$PY" -m celery -A config worker --queues cpu --concurrency 1 --hostname "cpu@%h" \
  --beat --schedule "$VAR_DIR/celerybeat-schedule" --loglevel INFO &
pids+=($!)
"$PY" -m celery -A config worker --queues gpu --concurrency 1 --hostname "gpu@%h" \
  --loglevel INFO &
pids+=($!)
"$PY" manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
