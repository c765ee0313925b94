"""The owner cancels a running evaluation on a real worker: the worker stops at its next
progress report (no further progress is written), the run ends ``cancelled`` with both acts on
its event log, nothing is published; another user cannot cancel it (404)."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evaluator.models import Run
from leaderboard.models import Result

from .conftest import submit, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_owner_cancels_a_running_evaluation_and_another_user_gets_404(
    workers, api, omniglot_5w1s, trained_checkpoint
):
    path, truth = trained_checkpoint
    run_pk = submit(api, path, round(truth.mean, 2), model_name="MAML (cancelled)")
    run = Run.objects.get(pk=run_pk)
    worker = workers.start("w1")

    def evaluating():
        r = Run.objects.get(pk=run_pk)
        return r.status == Run.Status.RUNNING and r.phase == "evaluating" and r.progress_done > 0

    wait_until(evaluating, timeout=240, what="the evaluation to report progress", every=0.05)

    other = get_user_model().objects.create_user("mallory", "m@example.org", "mallory-pass-1")
    intruder = APIClient()
    intruder.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other).key}")
    url = f"/api/submissions/{run.submission_id}/cancel/"
    assert intruder.post(url).status_code == 404
    assert Run.objects.get(pk=run_pk).status == Run.Status.RUNNING  # untouched

    r = api.post(url)
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "cancelled"
    at_cancel = Run.objects.get(pk=run_pk)
    assert at_cancel.status == Run.Status.CANCELLED
    assert at_cancel.progress_done < at_cancel.progress_total == 600

    # The worker notices at its next progress report and records where it stopped.
    wait_until(
        lambda: Run.objects.get(pk=run_pk).events.filter(kind="stopped").exists(),
        timeout=60,
        what="the worker to stop",
        every=0.1,
    )
    done = Run.objects.get(pk=run_pk)
    assert done.status == Run.Status.CANCELLED and done.result_id is None
    assert done.progress_done == at_cancel.progress_done  # no progress written after the cancel
    assert "no longer ours" in worker.log.read_text()
    kinds = list(done.events.values_list("kind", flat=True))
    assert kinds == ["queued", "claimed", "cancelled", "stopped"]
    cancelled = done.events.get(kind="cancelled")
    assert cancelled.actor == at_cancel.submission.owner
    assert "its owner" in cancelled.message
    assert not Result.objects.filter(model__name="MAML (cancelled)").exists()
    assert api.post(url).status_code == 409  # nothing left to cancel
