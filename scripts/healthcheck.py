#!/usr/bin/env python
"""Health checks of the docker-compose.yml services; exit status 0 when healthy, 1 otherwise.

    healthcheck.py web [PORT]      GET /api/_ping from gunicorn (default port 8000) as the proxy
                                   sends it (Host: the first of ALLOWED_HOSTS, X-Forwarded-Proto:
                                   https): 200 and {"status": "ok"}
    healthcheck.py beat DIR [AGE]  beat wrote its schedule file in DIR in the last AGE seconds
                                   (default 600; beat writes it at start and every few minutes)

The workers are checked by Celery itself (``celery -A config inspect ping``). Standard library
only: the check must not depend on what it checks.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
from pathlib import Path


def web(port: int = 8000) -> bool:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/api/_ping", headers={"Host": host, "X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return response.status == 200 and json.loads(body) == {"status": "ok"}


def beat(folder: str, max_age: float = 600) -> bool:
    files = [p for p in Path(folder).glob("celerybeat-schedule*") if p.is_file()]
    if not files:
        return False
    newest = max(p.stat().st_mtime for p in files)
    return time.time() - newest <= max_age


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["web"]:
            healthy = web(int(argv[1]) if len(argv) > 1 else 8000)
        elif argv[:1] == ["beat"] and len(argv) >= 2:
            healthy = beat(argv[1], float(argv[2]) if len(argv) > 2 else 600)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    print("healthy" if healthy else "unhealthy")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
