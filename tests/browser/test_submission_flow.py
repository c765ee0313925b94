"""The whole flow in a real Chromium against the live server and a real Celery worker process:
sign up, submit a briefly trained checkpoint through the form, watch the progress bar move to
``verified`` without the page reloading, then find the row with its badge on the benchmark page.

Runs on whatever services the settings name: SQLite and the file-system broker by default,
PostgreSQL and Redis in CI (DATABASE_URL, CELERY_BROKER_URL); the worker gets the test database.
"""

import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from evaluator.models import Run, Submission
from leaderboard.models import Result
from tests.conftest import omniglot_or_skip
from tests.evaluator.integration.conftest import Workers

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

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

    omniglot_or_skip()
    protocol = get_protocol("omniglot-5w1s")
    config = TrainConfig.from_protocol(protocol, iterations=10, meta_batch=4, seed=3)
    pool = load_pool(protocol, "train", settings.MAML_DATA_DIR)
    params = meta_train(protocol, config, pool, device="cpu")
    path = tmp_path_factory.mktemp("checkpoints") / "maml-5w1s-brief.safetensors"
    save_checkpoint(path, params, metadata_for(protocol, iterations=10, train=config.to_dict()))
    return path


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    """A real `celery worker` process on queues of this test's own, stopped after the test.

    The process handling is the integration tests' (``Workers``): the test database as
    DATABASE_URL, this test's media folder, the broker of the settings.
    """
    suffix = f"-browser-{uuid.uuid4().hex[:8]}"
    settings.EVALUATOR_QUEUE_SUFFIX = suffix
    settings.MEDIA_ROOT = tmp_path / "media"
    workers = Workers(suffix, tmp_path)
    try:
        yield workers.start("browser")
    finally:
        workers.stop_all()


def test_sign_up_submit_and_watch_it_verified(
    live_server, worker, trained_checkpoint, page, screenshot
):
    """``page`` is tests/browser/conftest.py's: a fresh context of the session's Chromium."""
    call_command("load_seed", verbosity=0)
    base = live_server.url
    # Under the Content-Security-Policy: no console error, no violation, all the way through.
    errors: list[str] = []
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

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
    seen: list[tuple[str, str, float]] = []  # (status, phase, bar value) as the page showed them
    deadline = time.monotonic() + FINAL_TIMEOUT_S
    while time.monotonic() < deadline:
        shown = page.evaluate(
            """() => [document.getElementById('run-status').textContent.trim(),
                      document.getElementById('run-phase').textContent.trim(),
                      document.getElementById('run-progress').value]"""
        )
        if not seen or seen[-1] != tuple(shown):
            seen.append(tuple(shown))
        if shown[0] in {"verified", "rejected", "failed", "cancelled"}:
            break
        time.sleep(0.25)
    worker_log = worker.log.read_text()[-3000:]
    assert (seen[-1][0], seen[-1][2]) == ("verified", 100), f"{seen}\n{worker_log}"
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert any(status == "running" for status, _, _ in seen), seen
    evaluating = [value for _, phase, value in seen if phase == "evaluating"]
    assert any(0 < v < 100 for v in evaluating), f"the bar never showed progress: {seen}"
    assert evaluating == sorted(evaluating), f"the bar went backwards: {seen}"

    run = Run.objects.get(submission=submission)
    assert run.status == Run.Status.VERIFIED
    assert run.progress_done == run.progress_total == 600
    badge = page.inner_text("#verified-badge")
    assert f"reproduced {run.reproduced_value:.2f} ± {run.ci95:.2f}%" in badge
    assert run.reproduced_value > float(CLAIM)
    assert page.inner_text("#run-log").strip()
    assert page.evaluate("window.__csp") == [] and errors == [], (
        page.evaluate("window.__csp"),
        errors,
    )
    screenshot("submission-verified")

    # The published row, with its badge, on the benchmark page.
    page.click("#benchmark-link")
    page.wait_for_url(f"{base}{submission.benchmark.get_absolute_url()}")
    row = page.locator("tr", has_text=MODEL_NAME)
    assert row.count() == 1
    row_badge = row.locator(".badge.verified")
    assert row_badge.count() == 1
    assert "evaluated" in row_badge.inner_text()
    shown = row.locator("td.value").inner_text()
    assert f"{run.reproduced_value:.2f} ± {run.ci95:.2f} (claimed {float(CLAIM):g})" in shown
    result = Result.objects.get(model__name=MODEL_NAME)
    assert result.is_verified
    assert (result.value, result.claimed_value) == (run.reproduced_value, float(CLAIM))
    assert result.verification_url == f"/results/{result.pk}/evidence/"
    assert page.evaluate("window.__csp") == [] and errors == []
