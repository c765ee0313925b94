"""The site under gunicorn, as production serves it (DEBUG off, several worker processes), on the
test database: for tests of what only a real server with several processes shows (concurrent
requests racing a limit, a cache server going down under load).

``Gunicorn(tmp_path, **env).start()`` serves on a free loopback port; ``stop()`` ends it. The
processes get this process's environment with DATABASE_URL pointing at the test database (its
file for SQLite, its name for PostgreSQL), their own VAR_DIR and media, the file-system broker
(nothing consumes what they queue) and the extra variables given.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from tests.redis_servers import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_database_url() -> str:
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


class Gunicorn:
    def __init__(self, workdir: Path, workers: int = 3, threads: int = 4, **extra_env: str):
        self.workdir = workdir
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.extra_env = extra_env
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "gunicorn.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("TEST_DATABASE_NAME", "CACHE_URL", "DJANGO_SETTINGS_MODULE"):
            env.pop(name, None)
        var = self.workdir / "var"
        env.update(
            DATABASE_URL=test_database_url(),
            DEBUG="0",
            SECRET_KEY="test-secret-key-for-a-live-server-" + "x" * 30,
            ALLOWED_HOSTS="127.0.0.1",
            VAR_DIR=str(var),
            MEDIA_ROOT=str(var / "media"),
            CELERY_BROKER_URL="filesystem://",
            MAML_DATA_DIR=str(settings.MAML_DATA_DIR),
            PYTHONPATH=str(ROOT),
        )
        env.update(self.extra_env)
        return env

    def start(self) -> Gunicorn:
        cmd = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--timeout", "120",
            "--limit-request-line", "8190",  # as docker-compose.yml runs it
            "--log-level", "warning",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env(),
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if self.request("GET", "/api/_ping")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def request(
        self, method: str, path: str, body=None, headers: dict | None = None, timeout: float = 60
    ) -> tuple[int, dict, bytes]:
        """One request on a new connection: (status, headers, body)."""
        headers = {"Host": "127.0.0.1", **(headers or {})}
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()
