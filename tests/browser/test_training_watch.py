"""Watching a training in a real Chromium: a reproduction runs on a real worker of the `gpu`
queue, and its page, without reloading, shows the iteration, the time left and the validation
curve (server-drawn SVG, swapped in by the page's script under the strict CSP) as it grows."""

import time
import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run
from tests.conftest import omniglot_or_skip
from tests.evaluator import catalogue
from tests.evaluator.integration.conftest import Workers

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

BENCHMARK = "OMNIGLOT - 1-Shot, 5-way"
ITERATIONS = 100
VALIDATE_EVERY = 20


@pytest.fixture
def gpu_worker(transactional_db, settings, tmp_path):
    suffix = f"-watch-{uuid.uuid4().hex[:8]}"
    settings.EVALUATOR_QUEUE_SUFFIX = suffix
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EVALUATOR_MAX_ACTIVE_RUNS = {"cpu": 0, "gpu": 0}
    workers = Workers(suffix, tmp_path)
    try:
        yield workers.start(
            "watch",
            queues="gpu",
            MAML_VALIDATE_EVERY=str(VALIDATE_EVERY),
            MAML_VALIDATE_EPISODES="10",
            MAML_EVAL_EPISODES="20",
        )
    finally:
        workers.stop_all()


def test_the_run_page_draws_the_curve_and_the_time_left_as_training_goes(
    live_server, gpu_worker, owner, page, screenshot
):
    omniglot_or_skip()
    catalogue.benchmark(BENCHMARK)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
    r = api.post(
        "/api/submissions/",
        {
            "benchmark": BENCHMARK,
            "metric": "Accuracy",
            "claimed_value": 20.0,
            "model_name": "MAML (watched)",
            "kind": "reproduce",
            "config": {"meta_iterations": ITERATIONS, "meta_batch_size": 2, "seed": 1},
            "paper": catalogue.maml_paper().slug,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    submission_id = r.json()["id"]

    errors: list[str] = []
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
    )
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = live_server.url
    page.goto(f"{base}/accounts/login/?next=/submissions/{submission_id}/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", "owner-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/submissions/{submission_id}/")
    page.evaluate("window.__sameDocument = true")

    # What the page shows while the run trains: (iteration text, time left, curve points).
    seen: list[tuple[str, str, int]] = []
    deadline = time.monotonic() + 300
    shot = False
    while time.monotonic() < deadline:
        shown = page.evaluate(
            """() => {
                const text = (id) => (document.getElementById(id) || {}).textContent || '';
                const svg = document.getElementById('validation-curve');
                return [text('run-status').trim(), text('run-phase').trim(),
                        text('training-iteration').trim(), text('training-left').trim(),
                        svg ? svg.querySelectorAll('circle').length : 0];
            }"""
        )
        status, phase, iteration, left, points = shown
        if phase == "training" and iteration:
            seen.append((iteration, left, points))
            if not shot and points >= 2 and left not in ("", "—"):
                screenshot("training-watch")
                shot = True
        if status in {"verified", "rejected", "failed", "cancelled"}:
            break
        time.sleep(0.2)
    worker_log = gpu_worker.log.read_text()[-3000:]
    run = Run.objects.get(submission_id=submission_id)
    assert run.is_final, f"{seen}\n{worker_log}"
    assert seen, f"the page never showed the training: {worker_log}"
    # During the training: the iteration of the total, a time left, a curve that grew.
    assert all(it.endswith(f"/ {ITERATIONS}") for it, _, _ in seen)
    # Once the last iteration is in, the page says "training done" while the phase
    # is still "training" (validation and the evaluation follow): no time left then.
    with_time = [
        left
        for it, left, _ in seen
        if left not in ("", "—") and not it.startswith(f"{ITERATIONS} /")
    ]
    assert with_time and all(("s" in left or "min" in left) for left in with_time), seen
    assert all(left == "training done" for it, left, _ in seen if it.startswith(f"{ITERATIONS} /"))
    points = [n for _, _, n in seen]
    assert points[0] >= 1 and max(points) > points[0], f"the curve never grew: {seen}"
    assert points == sorted(points), seen
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"
    # After the end the whole curve stays: iteration 0, every 20th, the last.
    page.wait_for_selector("#validation-curve")
    final_points = page.locator("#validation-curve circle").count()
    assert final_points == ITERATIONS // VALIDATE_EVERY + 1
    assert [i for i, _ in run.training["validation"]] == list(range(0, ITERATIONS + 1, 20))
    assert page.evaluate("window.__csp") == [] and errors == [], (
        page.evaluate("window.__csp"),
        errors,
    )
