"""paperswithcode-client 0.3.1 in its own virtualenv (its pins — pydantic 1.6, httpx 0.14 —
clash with the project's), built once by ``.ci/tool_venvs.sh`` (``.ci/run`` runs it), never
here: tests/tool_venvs.py finds it ($VERISOTA_PWC_CLIENT_VENV or the script's cache path)."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.tool_venvs import PWC_CLIENT, tool_python

DRIVER = Path(__file__).with_name("driver.py")


@pytest.fixture(scope="session")
def pwc_python():
    return tool_python(PWC_CLIENT)


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
