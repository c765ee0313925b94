#!/usr/bin/env bash
# Serve the site on http://127.0.0.1:8000 with a Celery worker beside it (both queues).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${VENV:-.venv}/bin/python
"$PY" -m celery -A config worker --queues cpu,gpu --concurrency 1 --loglevel INFO &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM
"$PY" manage.py runserver "${HOST:-127.0.0.1}:${PORT:-8000}"
