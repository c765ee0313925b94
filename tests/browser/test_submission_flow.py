"""The whole flow in a real Chromium against the live server and a real Celery worker process:
sign up, submit a briefly trained checkpoint through the form, watch the progress bar move to
``verified`` without the page reloading, then find the row with its badge on the benchmark page.

Runs on whatever services the settings name: SQLite and the file-system broker by default,
PostgreSQL and Redis in CI (DATABASE_URL, CELERY_BROKER_URL); the worker gets the test database.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from evaluator.models import Run, Submission
from leaderboard.models import Result

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

BASE_DIR = Path(settings.BASE_DIR)
BENCHMARK = "OMNIGLOT - 1-Shot, 5-way"
MODEL_NAME = "MAML (browser flow)"
# A modest claim: accuracy well above chance (20%) that a briefly trained 5-way 1-shot
# initialisation reaches (about 50% after 10 meta-updates here); the run says what it reaches.
CLAIM = "30"
FINAL_TIMEOUT_S = 240


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory) -> Path:
    """An initialisation meta-trained briefly by maml_ref (10 meta-updates of 4 tasks)."""
    from maml_ref.checkpoint import metadata_for, save_checkpoint
    from maml_ref.data.loading import load_pool
    from maml_ref.protocols import get_protocol
    from maml_ref.train import TrainConfig, meta_train

    protocol = get_protocol("omniglot-5w1s")
    config = TrainConfig.from_protocol(protocol, iterations=10, meta_batch=4, seed=3)
    pool = load_pool(protocol, "train", settings.MAML_DATA_DIR)
    params = meta_train(protocol, config, pool, device="cpu")
    path = tmp_path_factory.mktemp("checkpoints") / "maml-5w1s-brief.safetensors"
    save_checkpoint(path, params, metadata_for(protocol, iterations=10, train=config.to_dict()))
    return path


def database_url_for_worker() -> str:
    """The test database (not the development one) as a URL for the worker process."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def purge_queue() -> None:
    """Drop messages an earlier, interrupted session may have left on the broker."""
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("cpu")
    except Exception:  # the queue does not exist yet
        pass


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    """A real Celery worker process serving the ``cpu`` queue, stopped after the test."""
    settings.MEDIA_ROOT = tmp_path / "media"
    env = os.environ.copy()
    env.update(
        DATABASE_URL=database_url_for_worker(),
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        VAR_DIR=str(settings.VAR_DIR),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        MAML_DATA_DIR=str(settings.MAML_DATA_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.pop("TEST_DATABASE_NAME", None)
    purge_queue()
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--queues",
                "cpu",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"browser-{os.getpid()}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while b" ready." not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_sign_up_submit_and_watch_it_verified(live_server, worker, trained_checkpoint, page):
    """``page`` is tests/browser/conftest.py's: a fresh context of the session's Chromium."""
    call_command("load_seed", verbosity=0)
    base = live_server.url

    # Sign up: the account page shows the new API token.
    page.goto(f"{base}/accounts/signup/")
    page.fill("#id_username", "grace")
    page.fill("#id_email", "grace@example.org")
    page.fill("#id_password1", "compiler-a0-1952")
    page.fill("#id_password2", "compiler-a0-1952")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/accounts/")
    assert len(page.inner_text("#api-token").strip()) == 40

    # Submit the checkpoint through the form, reached from the header link.
    page.click("header >> text=Submit")
    page.wait_for_url(f"{base}/submit/")
    page.select_option("#id_benchmark", label=BENCHMARK)
    page.select_option("#id_metric", label="Accuracy")
    page.fill("#id_claimed_value", CLAIM)
    page.fill("#id_model_name", MODEL_NAME)
    page.select_option(
        "#id_paper", label="Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks"
    )
    page.check("input[name=kind][value=evaluate]")
    page.set_input_files("#id_checkpoint", str(trained_checkpoint))
    page.click("#submit-button")
    page.wait_for_url(f"{base}/submissions/*/")

    submission = Submission.objects.get()
    assert submission.owner.username == "grace"
    assert Result.objects.filter(model__name=MODEL_NAME).count() == 0  # not before its run ends

    # Watch it: the script updates the bar in place; a reload would lose this marker.
    page.evaluate("window.__sameDocument = true")
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + FINAL_TIMEOUT_S
    while time.monotonic() < deadline:
        status = page.inner_text("#run-status").strip()
        value = page.evaluate("document.getElementById('run-progress').value")
        if not seen or seen[-1] != (status, value):
            seen.append((status, value))
        if status in {"verified", "rejected", "failed", "cancelled"}:
            break
        time.sleep(0.25)
    worker_log = worker.read_text()[-3000:]
    assert seen[-1] == ("verified", 100), f"{seen}\n{worker_log}"
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert any(s == "running" for s, _ in seen), seen
    assert any(0 < v < 100 for _, v in seen), f"the bar never showed progress: {seen}"
    values = [v for _, v in seen]
    assert values == sorted(values), f"the bar went backwards: {seen}"

    run = Run.objects.get(submission=submission)
    assert run.status == Run.Status.VERIFIED
    assert run.progress_done == run.progress_total == 600
    badge = page.inner_text("#verified-badge")
    assert f"reproduced {run.reproduced_value:.2f} ± {run.ci95:.2f}%" in badge
    assert run.reproduced_value > float(CLAIM)
    assert page.inner_text("#run-log").strip()

    # The published row, with its badge, on the benchmark page.
    page.click("#benchmark-link")
    page.wait_for_url(f"{base}{submission.benchmark.get_absolute_url()}")
    row = page.locator("tr", has_text=MODEL_NAME)
    assert row.count() == 1
    row_badge = row.locator(".badge.verified")
    assert row_badge.count() == 1
    assert f"{run.reproduced_value:.1f}" in row_badge.inner_text() or (
        f"{run.reproduced_value:.2f}" in row_badge.inner_text()
    )
    result = Result.objects.get(model__name=MODEL_NAME)
    assert result.is_verified
    assert result.value == float(CLAIM)
    assert result.verification_url == submission.get_absolute_url()
