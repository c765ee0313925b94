"""Real services for the integration tests: the test database, the broker, `celery worker`
processes started here, and a checkpoint meta-trained briefly by maml_ref once per session.

The workers get this process's environment, with DATABASE_URL pointing at the test database
(its file for SQLite, its name for PostgreSQL) and queue names of their own
(EVALUATOR_QUEUE_SUFFIX), so messages left by other tests never reach them. The broker is
CELERY_BROKER_URL when set (Redis in CI), else the file-system transport under VAR_DIR.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run
from tests.conftest import omniglot_or_skip
from tests.evaluator import catalogue

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = "omniglot-5w1s"
BENCHMARK = "OMNIGLOT - 1-Shot, 5-way"


@pytest.fixture(autouse=True)
def workers_see_omniglot():
    """Real runs on real data: no placeholder (see tests/evaluator/conftest.py)."""


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory):
    """A 5-way 1-shot initialisation meta-trained for 40 iterations (seconds on a CPU), and its
    true figure: evaluated here, in-process, on the protocol's 600 fixed test episodes."""
    from maml_ref.api import run_evaluate
    from maml_ref.checkpoint import metadata_for, save_checkpoint
    from maml_ref.data.loading import load_pool
    from maml_ref.protocols import get_protocol
    from maml_ref.train import TrainConfig, meta_train

    omniglot_or_skip()
    protocol = get_protocol(PROTOCOL)
    config = TrainConfig.from_protocol(protocol, iterations=40, meta_batch=8, seed=7)
    pool = load_pool(protocol, "train", settings.MAML_DATA_DIR)
    params = meta_train(protocol, config, pool, device="cpu")
    path = tmp_path_factory.mktemp("checkpoint") / "maml-5w1s.safetensors"
    save_checkpoint(path, params, metadata_for(protocol, iterations=config.iterations))
    truth = run_evaluate(path, PROTOCOL, data_dir=settings.MAML_DATA_DIR, device="cpu")
    assert truth.episodes == 600
    return path, truth


def _database_url() -> str:
    """The test database, as a DATABASE_URL a worker process can open."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


class Workers:
    """`celery worker` processes on this test's queues; each in a process group of its own, so
    that a kill takes the pool's children with it, as when a machine dies."""

    def __init__(self, suffix: str, log_dir: Path):
        self.suffix = suffix
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=_database_url(),
            EVALUATOR_QUEUE_SUFFIX=self.suffix,
            VAR_DIR=str(settings.VAR_DIR),
            MEDIA_ROOT=str(settings.MEDIA_ROOT),
            MAML_DATA_DIR=str(settings.MAML_DATA_DIR),
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            PYTHONPATH=str(ROOT),
        )
        env.pop("TEST_DATABASE_NAME", None)
        env.update(extra)
        return env

    def start(
        self, name: str, *, wait: bool = True, queues: str = "cpu,gpu", **extra_env: str
    ) -> subprocess.Popen:
        log = self.log_dir / f"worker-{name}.log"
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--queues",
            ",".join(f"{queue}{self.suffix}" for queue in queues.split(",")),
            "--concurrency",
            "1",
            "--hostname",
            f"{name}-{self.suffix}@%h",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env(**extra_env),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log = log
        self.procs.append(proc)
        if wait:
            self.wait_ready(proc)
        return proc

    def wait_ready(self, proc: subprocess.Popen, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in proc.log.read_text():
                return
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"worker did not start:\n{proc.log.read_text()[-3000:]}")

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()  # the main process: a warm shutdown that stops its pool
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def no_per_user_limits(settings):
    """These tests load the pipeline (twenty submissions of one user at once): the per-user
    throttle and active-run cap are tested in tests/evaluator/test_limits.py."""
    settings.SUBMISSION_RATE = settings.SUBMISSION_ATTEMPT_RATE = "100000/hour"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 0, "gpu": 0}


@pytest.fixture
def workers(transactional_db, settings, tmp_path):
    """Start workers with ``workers.start(name)``; all are stopped after the test."""
    suffix = f"-it-{uuid.uuid4().hex[:8]}"
    settings.EVALUATOR_QUEUE_SUFFIX = suffix
    settings.MEDIA_ROOT = tmp_path / "media"
    pool = Workers(suffix, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
def omniglot_5w1s(transactional_db):
    omniglot_or_skip()
    return catalogue.benchmark(BENCHMARK)


@pytest.fixture
def api(transactional_db, owner):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    return client


def submit(api, checkpoint: Path, claimed: float, model_name: str = "MAML") -> int:
    """POST /api/submissions/ as the owner; returns the new run's primary key."""
    with checkpoint.open("rb") as f:
        r = api.post(
            "/api/submissions/",
            {
                "benchmark": BENCHMARK,
                "metric": "Accuracy",
                "claimed_value": f"{claimed:.6f}",
                "model_name": model_name,
                "paper_title": "A brief meta-training",
                "paper_arxiv_id": "2611.00001",
                "paper_authors": "A. Tester",
                "checkpoint": f,
            },
            format="multipart",
        )
    assert r.status_code == 201, r.content
    return Run.objects.get(submission_id=r.json()["id"]).pk


def wait_until(predicate, timeout: float, what: str, every: float = 0.25):
    """Poll ``predicate`` until it returns something truthy (a guard, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"gave up waiting for {what} after {timeout} s")
