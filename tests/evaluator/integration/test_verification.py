"""End to end on the real services: POST /api/submissions/ → a `celery worker` process runs
maml_ref on the checkpoint → verified and in /api/results, or rejected with its figure.

A checkpoint meta-trained briefly in this session (conftest) is evaluated here in-process first,
so the truthful and the inflated claims are made against its known figure.
"""

import pytest
from rest_framework.test import APIClient

from evaluator.models import Run
from evaluator.protocols import protocol_for_benchmark
from leaderboard.models import Result

from .conftest import BENCHMARK, submit, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def published_rows(client: APIClient) -> list[dict]:
    r = client.get("/api/results", {"dataset": "omniglot", "verified": "true"})
    assert r.status_code == 200
    return r.json()["results"]


def test_a_truthful_claim_is_verified_and_an_inflated_one_rejected(
    workers, api, omniglot_5w1s, trained_checkpoint
):
    path, truth = trained_checkpoint
    tolerance = protocol_for_benchmark(BENCHMARK).tolerance
    truthful = round(truth.mean - 0.05, 2)  # as a paper would print it
    inflated = round(truth.mean + truth.ci95 + tolerance + 5.0, 2)
    # Both are queued before any worker runs: nothing may be published meanwhile.
    honest_pk = submit(api, path, truthful, model_name="MAML (brief)")
    inflated_pk = submit(api, path, inflated, model_name="MAML (inflated)")
    assert published_rows(api) == []
    assert Run.objects.get(pk=honest_pk).status == Run.Status.QUEUED

    workers.start("w1")
    seen = set()

    def both_final():
        runs = {r.pk: r for r in Run.objects.filter(pk__in=[honest_pk, inflated_pk])}
        seen.update((r.status, r.progress_done) for r in runs.values())
        for run in runs.values():
            if not run.is_final:  # not published before its run ends
                assert run.result_id is None
                assert not Result.objects.filter(verification_run__pk=run.pk).exists()
        return all(r.is_final for r in runs.values())

    wait_until(both_final, timeout=300, what="both runs to end")
    honest = Run.objects.get(pk=honest_pk)
    rejected = Run.objects.get(pk=inflated_pk)

    assert honest.status == Run.Status.VERIFIED, honest.reason
    # Deterministic: the worker's figure is the one found in-process on the same 600 episodes.
    assert honest.reproduced_value == pytest.approx(truth.mean, abs=1e-6)
    assert honest.ci95 == pytest.approx(truth.ci95, abs=1e-6)
    assert len(honest.episode_scores) == 600 and honest.progress_done == 600
    assert honest.attempts == 1 and honest.maml_ref_version and honest.host
    assert honest.evaluation_mode == "transductive" and honest.device == "cpu"
    assert honest.seeds["evaluation"] == truth.seed and honest.wall_seconds > 0
    assert "evaluating: 600/600" in honest.log_tail
    assert any(status == Run.Status.RUNNING for status, _ in seen) or honest.wall_seconds < 1

    assert rejected.status == Run.Status.REJECTED
    assert rejected.reproduced_value == pytest.approx(truth.mean, abs=1e-6)
    assert f"{inflated:.4g}" in rejected.reason and "not supported" in rejected.reason
    assert rejected.result is None

    rows = published_rows(APIClient())
    assert len(rows) == 1
    row = rows[0]
    assert row["model"] == "MAML (brief)" and row["claimed_value"] == pytest.approx(truthful)
    assert row["verified"] is True and row["source"] == "verified"
    # The row's number is what the worker measured (the claim beside it).
    assert row["value"] == row["reproduced_value"] == pytest.approx(truth.mean, abs=1e-6)
    assert row["ci95"] == pytest.approx(truth.ci95, abs=1e-6)
    assert row["verification_url"] == f"/results/{honest.result_id}/evidence/"
    assert row["evidence_url"] == row["verification_url"]
    assert row["verification_level"] == "evaluated"
    assert honest.episodes_fingerprint == truth.episodes_sha256
    assert honest.parameters["inner_steps"] == truth.inner_steps
    assert row["evaluation_mode"] == "transductive"
    # Each run was claimed once, by the one worker.
    for run in (honest, rejected):
        assert list(run.events.values_list("kind", flat=True)) == [
            "queued",
            "claimed",
            run.status,
        ]
    # The worker's publication is the ledger's one entry, with the run's figures and SHA-256s,
    # and the chain and the site agree (``manage.py verify_ledger``, docs/ledger.md).
    from leaderboard.models import LedgerEntry
    from leaderboard.results import ledger_chain

    (entry,) = LedgerEntry.objects.all()
    content = ledger_chain.line(entry)["content"]
    assert (entry.kind, entry.result_id) == ("publication", honest.result_id)
    assert content["value"] == honest.reproduced_value and content["claimed_value"] == truthful
    assert content["checkpoint_sha256"] == honest.submission.checkpoint_sha256
    assert content["episodes_fingerprint"] == truth.episodes_sha256
    assert ledger_chain.verify().ok
