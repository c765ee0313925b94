"""One checkpoint, one row; a re-run replaces, never adds; a verified row's number is what the
run measured (``evaluator.publishing.publish``), through the real finish path a worker takes."""

import pytest

from evaluator import runs, services
from evaluator.decision import REJECTED, VERIFIED, Decision
from evaluator.models import Run
from leaderboard.models import Result
from tests.evaluator.evidence_helpers import finished_run
from tests.evaluator.web_helpers import checkpoint_bytes

pytestmark = pytest.mark.django_db

# 600 episodes whose mean is 61.33 (the run's ci95 is 1.5: evidence_helpers).
SCORES = [60.0, 62.66] * 300
FILE = checkpoint_bytes(seed=42)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def finish(run: Run, scores, verdict=VERIFIED) -> Run:
    """Run ``run`` to its end as a worker does: claim, then the verdict with its figures."""
    assert Run.objects.claim(run.pk, "test/2/token")
    evidence = {"reproduced_value": sum(scores) / len(scores), "ci95": 1.2}
    evidence["episode_scores"] = scores
    assert runs.finish_run(run.pk, "test/2/token", Decision(verdict, "checked"), evidence)
    run.refresh_from_db()
    return run


def test_two_claims_on_one_checkpoint_are_one_row_at_the_reproduced_value(client, owner):
    first = finished_run(owner, scores=SCORES, claimed=61.3, checkpoint=FILE)
    second = finished_run(owner, scores=SCORES, claimed=61.0, checkpoint=FILE)
    row = Result.objects.get()
    assert first.result == row and second.result is None
    assert (row.value, row.ci95, row.claimed_value) == (pytest.approx(61.33), 1.5, 61.3)
    assert row.checkpoint_sha256 == first.submission.checkpoint_sha256
    # The second claim was checked (verified) and linked to the row, and told so.
    assert second.status == Run.Status.VERIFIED and second.same_checkpoint_as == row
    assert f"your own submission #{first.submission_id}" in second.reason
    assert f"as result #{row.pk}" in second.reason
    # Every reader sees one row, with the measured figure first and the claim beside it.
    (api_row,) = client.get("/api/results").json()["results"]
    assert (api_row["value"], api_row["claimed_value"]) == (pytest.approx(61.33), 61.3)
    page = client.get(row.benchmark.get_absolute_url()).content.decode()
    assert page.count("verified-row") == 1
    assert '>61.33</span> <small class="ci">± 1.50</small>' in page
    assert "(claimed 61.3)" in page and "(claimed 61)" not in page
    # The second submission links to the row's evidence, which counts the second claim.
    client.force_login(owner)
    status = client.get(f"/api/submissions/{second.submission_id}/").json()
    assert status["evidence_url"].endswith(row.verification_url)
    assert status["run"]["same_checkpoint_as"] == row.pk
    evidence = client.get(row.verification_url).content.decode()
    assert 'id="same-checkpoint-claims"' in evidence and "claimed 61%" in evidence
    detail = client.get(f"/submissions/{second.submission_id}/").content.decode()
    assert 'id="same-checkpoint"' in detail and f'href="{row.verification_url}"' in detail


def test_another_owners_copy_of_a_checkpoint_leaves_the_first_its_row(owner, other_user):
    first = finished_run(owner, scores=SCORES, claimed=61.3, checkpoint=FILE, model_name="Mine")
    copy = finished_run(other_user, scores=SCORES, claimed=61.3, checkpoint=FILE, model_name="X")
    row = Result.objects.get()
    assert row == first.result and row.model.name == "Mine"
    assert copy.result is None and copy.same_checkpoint_as == row
    assert "another user, who keeps the row" in copy.reason


def test_the_same_checkpoint_in_the_other_evaluation_mode_is_its_own_row(owner):
    finished_run(owner, scores=SCORES, checkpoint=FILE)
    submission = finished_run(owner, scores=SCORES, checkpoint=FILE).submission
    assert Result.objects.count() == 1
    submission.transductive = False  # what a non-transductive claim of the file would be
    submission.save()
    run = services.requeue(submission)
    finish(run, SCORES)
    modes = sorted(Result.objects.values_list("evaluation_mode", flat=True))
    assert modes == ["non-transductive", "transductive"]


def test_a_requeued_verified_run_replaces_its_row(owner, staff):
    first = finished_run(owner, scores=SCORES, claimed=61.3)
    row = first.result
    rerun = services.requeue(first.submission, actor=staff)
    rerun = finish(rerun, [70.0, 72.0] * 300)
    assert Result.objects.count() == 1
    row.refresh_from_db()
    assert rerun.result == row and Run.objects.get(pk=first.pk).result is None
    assert (row.value, row.ci95, row.claimed_value) == (71.0, 1.2, 61.3)
    assert row.verification_url == f"/results/{row.pk}/evidence/"  # the same address
    assert "now shows run" in first.events.get(kind="superseded").message
    assert rerun.events.filter(kind="replaced").exists()


def test_a_requeued_run_that_does_not_support_the_claim_withdraws_the_row(owner, staff):
    first = finished_run(owner, scores=SCORES, claimed=61.3)
    rerun = finish(services.requeue(first.submission, actor=staff), [50.0] * 600, REJECTED)
    assert rerun.status == Run.Status.REJECTED and not Result.objects.exists()
    assert "Unpublished result" in first.events.get(kind="superseded").message
    first.refresh_from_db()
    assert first.result is None and first.reproduced_value == pytest.approx(61.33)


def test_a_requeue_that_fails_leaves_the_row_as_it_was(owner, staff):
    first = finished_run(owner, scores=SCORES, claimed=61.3)
    rerun = services.requeue(first.submission, actor=staff)
    Run.objects.claim(rerun.pk, "test/3/token")
    runs.fail_run(rerun.pk, "test/3/token", runs.site_fault("The disk is gone"))
    row = Result.objects.get()
    assert row == Run.objects.get(pk=first.pk).result and row.value == pytest.approx(61.33)


def test_a_curators_override_publishes_the_measured_value_and_the_ledger_says_so(
    client, owner, staff
):
    rejected = finished_run(owner, scores=SCORES, claimed=64.0, verdict=REJECTED)
    assert not Result.objects.exists()
    assert services.override(rejected, "verified", "protocol differs by one step", staff)
    row = Result.objects.get()
    assert (row.value, row.claimed_value) == (pytest.approx(61.33), 64.0)
    assert "curator's override" in row.verification_note
    assert "protocol differs by one step" in row.verification_note
    event = rejected.events.get(kind="override")
    assert event.actor == staff and "rejected → verified" in event.message
    ledger = client.get("/log/").content.decode()
    assert f'id="ledger-note-{row.pk}"' in ledger and "protocol differs by one step" in ledger
    feed = client.get("/log/feed.atom").content.decode()
    assert "protocol differs by one step" in feed and "claimed 64" in feed


def test_an_override_cannot_publish_a_run_that_measured_nothing(owner, staff):
    run = finished_run(owner, scores=SCORES)
    services.override(run, "rejected", "wrong benchmark", staff)
    failed = services.requeue(run.submission, actor=staff)
    Run.objects.claim(failed.pk, "test/4/token")
    runs.fail_run(failed.pk, "test/4/token", runs.site_fault("The disk is gone"))
    with pytest.raises(services.NothingMeasured):
        services.override(Run.objects.get(pk=failed.pk), "verified", "trust me", staff)
    assert not Result.objects.exists()
    assert Run.objects.get(pk=failed.pk).status == Run.Status.FAILED
