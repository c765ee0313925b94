"""Curators' admin actions: re-queue, cancel, override; each recorded on the run."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from evaluator import services
from evaluator.models import Run
from leaderboard.models import Result

from . import catalogue

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/evaluator/run/"


@pytest.fixture
def run(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        submission = services.create_submission(
            owner,
            benchmark=catalogue.benchmark(),
            metric=catalogue.metric(),
            claimed_value=97.0,
            model_name="MAML",
            kind="evaluate",
            checkpoint_file=SimpleUploadedFile("init.safetensors", b"weights"),
            paper=catalogue.maml_paper(),
        )
    return submission.current_run


@pytest.fixture
def curator(client, staff):
    client.force_login(staff)
    return client


def finish(run, status, value=96.0):
    Run.objects.filter(pk=run.pk).update(
        status=status, reproduced_value=value, ci95=0.4, reason="by the test"
    )


def test_the_run_list_filters_and_searches(curator, run):
    r = curator.get(CHANGELIST, {"status__exact": "queued", "q": "MAML"})
    assert r.status_code == 200
    assert list(r.context["cl"].result_list) == [run]
    assert curator.get(CHANGELIST, {"status__exact": "verified"}).context["cl"].result_count == 0
    assert curator.get(CHANGELIST, {"q": "nobody-such"}).context["cl"].result_count == 0
    assert curator.get(f"{CHANGELIST}{run.pk}/change/").status_code == 200
    assert curator.get("/admin/evaluator/submission/").status_code == 200


def test_cancel_action_cancels_and_records_the_curator(curator, run, staff):
    r = curator.post(CHANGELIST, {"action": "cancel", "_selected_action": [run.pk]})
    assert r.status_code == 302
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert run.events.get(kind="cancelled").actor == staff


def test_requeue_action_makes_a_new_run(curator, run, staff, django_capture_on_commit_callbacks):
    finish(run, Run.Status.REJECTED)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        curator.post(CHANGELIST, {"action": "requeue", "_selected_action": [run.pk]})
    runs = Run.objects.filter(submission=run.submission_id).order_by("id")
    assert [r.status for r in runs] == [Run.Status.REJECTED, Run.Status.QUEUED]
    assert runs[1].events.get(kind="requeued").actor == staff
    assert len(callbacks) == 1


def test_override_asks_for_a_reason_then_publishes(curator, run, staff):
    finish(run, Run.Status.REJECTED)
    r = curator.post(CHANGELIST, {"action": "override", "_selected_action": [run.pk]})
    assert r.status_code == 200 and b"Override the verdict" in r.content
    assert not Result.objects.exists()  # nothing happens before the form is sent
    # Without a reason: the form again, nothing changed.
    r = curator.post(
        CHANGELIST,
        {"action": "override", "_selected_action": [run.pk], "apply": "1", "verdict": "verified"},
    )
    assert r.status_code == 200
    assert Run.objects.get(pk=run.pk).status == Run.Status.REJECTED
    r = curator.post(
        CHANGELIST,
        {
            "action": "override",
            "_selected_action": [run.pk],
            "apply": "1",
            "verdict": "verified",
            "reason": "<b>re-checked</b> by hand",
        },
    )
    assert r.status_code == 302
    run.refresh_from_db()
    assert run.status == Run.Status.VERIFIED and run.result.source == Result.Source.VERIFIED
    # Published at the figure the run measured, the claim beside it, the reason on the ledger.
    assert (run.result.value, run.result.ci95, run.result.claimed_value) == (96.0, 0.4, 97.0)
    assert "re-checked" in run.result.verification_note
    event = run.events.get(kind="override")
    assert event.actor == staff and "re-checked" in event.message
    page = curator.get(f"{CHANGELIST}{run.pk}/change/").content.decode()
    assert "<b>re-checked</b>" not in page  # escaped


def test_a_non_staff_user_cannot_act(client, owner, run):
    client.force_login(owner)
    r = client.post(CHANGELIST, {"action": "cancel", "_selected_action": [run.pk]})
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
    assert Run.objects.get(pk=run.pk).status == Run.Status.QUEUED


def test_override_cannot_publish_a_run_that_measured_nothing(curator, run):
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED, reason="disk gone")
    r = curator.post(
        CHANGELIST,
        {
            "action": "override",
            "_selected_action": [run.pk],
            "apply": "1",
            "verdict": "verified",
            "reason": "I believe the claim",
        },
        follow=True,
    )
    assert "measured nothing" in r.content.decode()
    assert Run.objects.get(pk=run.pk).status == Run.Status.FAILED
    assert not Result.objects.exists()
