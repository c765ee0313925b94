"""Every publication, correction, curator's override and withdrawal of a verified result appends
its entry to the ledger's hash chain, in the verdict's transaction (``evaluator.publishing``,
``leaderboard/results/ledger_chain.py``), through the paths a worker and a curator take."""

import json

import pytest

from evaluator import runs, services
from evaluator.decision import REJECTED, VERIFIED, Decision
from evaluator.models import Run
from leaderboard.models import LedgerEntry, Result
from leaderboard.results import ledger_chain
from tests.evaluator.evidence_helpers import finished_run
from tests.evaluator.web_helpers import checkpoint_bytes

pytestmark = pytest.mark.django_db

SCORES = [60.0, 62.66] * 300  # mean 61.33


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def finish(run: Run, scores, verdict=VERIFIED) -> Run:
    assert Run.objects.claim(run.pk, "test/2/token")
    evidence = {"reproduced_value": sum(scores) / len(scores), "ci95": 1.2}
    evidence["episode_scores"] = scores
    assert runs.finish_run(run.pk, "test/2/token", Decision(verdict, "checked"), evidence)
    run.refresh_from_db()
    return run


def entries() -> list[tuple[str, int | None, dict]]:
    return [
        (e.kind, e.result_id, json.loads(e.content)) for e in LedgerEntry.objects.order_by("seq")
    ]


def assert_verified() -> None:
    report = ledger_chain.verify()
    assert report.ok, (report.chain.describe(), report.mismatches)


def test_a_publication_records_the_measured_figures_and_the_evidence_sha256s(owner):
    run = finished_run(owner, scores=SCORES, claimed=61.3)
    row = run.result
    ((kind, result_id, content),) = entries()
    assert (kind, result_id) == ("publication", row.pk)
    assert (content["value"], content["ci95"], content["claimed_value"]) == (
        row.value,
        1.5,
        61.3,
    )
    assert content["checkpoint_sha256"] == run.submission.checkpoint_sha256 == row.checkpoint_sha256
    assert content["episodes_fingerprint"] == "ab" * 32
    assert content["evidence"] == row.verification_url
    assert content["run"]["id"] == run.pk and content["run"]["kind"] == "evaluate"
    assert content["run"]["checkpoint_sha256"] == run.submission.checkpoint_sha256
    assert content["reason"] == "within tolerance"
    assert_verified()


def test_a_rerun_corrects_a_curator_overrides_and_withdraws_each_an_entry(owner, staff):
    first = finished_run(owner, scores=SCORES, claimed=61.3)
    row = first.result
    rerun = finish(services.requeue(first.submission, actor=staff), [70.0, 72.0] * 300)
    assert services.override(rerun, "verified", "the protocol's tolerance was wrong", staff)
    assert services.override(rerun, "rejected", "wrong benchmark", staff)
    assert not Result.objects.exists()
    kinds = [(kind, result_id) for kind, result_id, _ in entries()]
    assert kinds == [
        ("publication", row.pk),
        ("correction", row.pk),
        ("override", row.pk),
        ("withdrawal", row.pk),
    ]
    _, correction, override, withdrawal = [content for _, _, content in entries()]
    assert correction["value"] == 71.0 and correction["run"]["id"] == rerun.pk
    assert "now shows run" in correction["reason"]
    assert override["actor"] == "staff" and "tolerance was wrong" in override["reason"]
    assert override["verification_note"].startswith("Published by a curator's override")
    assert withdrawal["value"] == 71.0 and withdrawal["actor"] == "staff"
    assert "wrong benchmark" in withdrawal["reason"]
    assert_verified()  # the withdrawn row is gone, as its latest entry says


def test_a_rerun_that_does_not_support_the_claim_appends_a_withdrawal(owner, staff):
    first = finished_run(owner, scores=SCORES, claimed=61.3)
    finish(services.requeue(first.submission, actor=staff), [50.0] * 600, REJECTED)
    assert [kind for kind, _, _ in entries()] == ["publication", "withdrawal"]
    assert "does not support the claim" in entries()[-1][2]["reason"]
    assert_verified()


def test_an_override_that_publishes_is_an_override_entry(owner, staff):
    rejected = finished_run(owner, scores=SCORES, claimed=64.0, verdict=REJECTED)
    assert entries() == []  # a rejection publishes nothing
    services.override(rejected, "verified", "protocol differs by one step", staff)
    ((kind, result_id, content),) = entries()
    assert (kind, result_id) == ("override", Result.objects.get().pk)
    assert content["actor"] == "staff" and "protocol differs by one step" in content["reason"]
    assert_verified()


def test_a_second_claim_on_a_published_checkpoint_appends_nothing(owner):
    file = checkpoint_bytes(seed=7)
    finished_run(owner, scores=SCORES, checkpoint=file)
    finished_run(owner, scores=SCORES, checkpoint=file)
    assert [kind for kind, _, _ in entries()] == ["publication"]
    assert_verified()


def test_a_verdict_that_fails_to_append_publishes_nothing(owner, monkeypatch):
    """One transaction: when the entry cannot be appended, the row is not published either."""

    def broken(*args, **kwargs):
        raise RuntimeError("the ledger is down")

    monkeypatch.setattr(ledger_chain, "append", broken)
    with pytest.raises(RuntimeError, match="the ledger is down"):
        finished_run(owner, scores=SCORES)
    assert not Result.objects.exists() and not LedgerEntry.objects.exists()
    assert not Run.objects.filter(status=Run.Status.VERIFIED).exists()
