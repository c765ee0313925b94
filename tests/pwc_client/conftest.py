"""paperswithcode-client 0.3.1 in its own virtualenv (its pins — pydantic 1.6, httpx 0.14 —
clash with the project's), built once under a cache folder when missing:
``$VERISOTA_CACHE_DIR`` or ``~/.cache/verisota``, subfolder ``pwc-client-0.3.1``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VERSION = "0.3.1"
DRIVER = Path(__file__).with_name("driver.py")


def client_python() -> Path:
    root = Path(os.environ.get("VERISOTA_CACHE_DIR") or Path.home() / ".cache" / "verisota")
    venv = root / f"pwc-client-{VERSION}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        base = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"paperswithcode-client=={VERSION}"],
            check=True,
            timeout=600,
        )
        marker.write_text(VERSION)
    return python


@pytest.fixture(scope="session")
def pwc_python():
    try:
        return client_python()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"cannot build paperswithcode-client's virtualenv: {exc}")


@pytest.fixture
def pwc(pwc_python, live_server):
    """``pwc([(method, args, kwargs), ...], token=None)``: the client's parsed answers, in
    order (each call must succeed)."""

    def run(calls, token=None):
        job = {
            "url": live_server.url,
            "token": token,
            "calls": [[n, list(a), dict(k)] for n, a, k in calls],
        }
        done = subprocess.run(
            [str(pwc_python), str(DRIVER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        answers = json.loads(done.stdout)
        failed = [(c[0], a["error"]) for c, a in zip(calls, answers, strict=True) if not a["ok"]]
        assert not failed, failed
        return [a["value"] for a in answers]

    return run


@pytest.fixture
def pwc_errors(pwc_python, live_server):
    """``pwc_errors([(method, args, kwargs), ...], token=None)``: each call's error text, or
    None where it succeeded."""

    def run(calls, token=None):
        job = {
            "url": live_server.url,
            "token": token,
            "calls": [[n, list(a), dict(k)] for n, a, k in calls],
        }
        done = subprocess.run(
            [str(pwc_python), str(DRIVER)],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return [None if a["ok"] else a["error"] for a in json.loads(done.stdout)]

    return run


def client_methods(python) -> list[str]:
    """The public methods of the client's ``PapersWithCodeClient``, as it lists them."""
    done = subprocess.run(
        [str(python), str(DRIVER)],
        input=json.dumps({"methods": True}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)
