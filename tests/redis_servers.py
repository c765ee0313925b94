"""Redis servers a test can break: one started here on a free port (and stopped when the test
says, never the shared one on 6379; the ``redis_server`` fixture of tests/conftest.py), and an
address where nothing listens.

``cache_settings(url)`` is the site's cache as settings.py builds it for ``CACHE_URL=url``
(django-redis with IGNORE_EXCEPTIONS): assign it to ``settings.CACHES`` in a test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_settings(url: str, key_prefix: str = "verisota-test") -> dict:
    from config.settings import redis_caches

    return redis_caches(url, key_prefix=key_prefix)


def closed_port_url() -> str:
    """A redis:// URL on a loopback port with no server: every connection is refused."""
    return f"redis://127.0.0.1:{free_port()}/0"


class RedisServer:
    """``redis-server`` on a free loopback port, in memory only; ``stop()`` ends it mid-test."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("needs redis-server (Debian: apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None
