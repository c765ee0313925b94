"""A reproduce run on the `gpu` queue: a worker serving only that queue re-trains from the
submitted configuration (sinusoid regression: seconds on a CPU) and decides on MSE, where
lower is better."""

import pytest

from evaluator.models import Run
from leaderboard.models import Result
from tests.evaluator import catalogue

from .conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SINUSOID = "Sinusoid Regression (10-shot)"


def reproduce(api, claimed: float, config: dict) -> int:
    r = api.post(
        "/api/submissions/",
        {
            "benchmark": SINUSOID,
            "metric": "MSE",
            "claimed_value": claimed,
            "model_name": "MAML (sinusoid, brief)",
            "kind": "reproduce",
            "config": config,
            "paper": catalogue.maml_paper().slug,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["kind"] == "reproduce"
    return Run.objects.get(submission_id=r.json()["id"]).pk


def test_a_reproduce_run_is_trained_on_the_gpu_queue_and_decided_on_mse(workers, api):
    catalogue.benchmark(SINUSOID, dataset="Sinusoid", metric_name="MSE", ways=None, shots=10)
    config = {"meta_iterations": 30, "meta_batch_size": 5, "seed": 3}
    modest = reproduce(api, 50.0, config)  # an MSE above the reproduction: supported
    boastful = reproduce(api, 0.0001, config)  # far below it: not supported
    workers.start("gpu-only", queues="gpu")
    wait_until(
        lambda: all(r.is_final for r in Run.objects.filter(pk__in=[modest, boastful])),
        timeout=240,
        what="both reproduce runs to end",
    )
    verified, rejected = Run.objects.get(pk=modest), Run.objects.get(pk=boastful)
    assert verified.status == Run.Status.VERIFIED, verified.reason
    assert rejected.status == Run.Status.REJECTED
    assert "not supported" in rejected.reason and "at least" in rejected.reason
    # Same configuration and seed: the same figure, trained twice.
    assert verified.reproduced_value == rejected.reproduced_value > 0.0001
    assert verified.seeds["training"] == 3
    assert "training" in verified.log_tail and len(verified.episode_scores) == 600
    result = Result.objects.get(pk=verified.result_id)
    # The row's number is the reproduced MSE; the (modest) claim stands beside it.
    assert (result.value, result.ci95) == (verified.reproduced_value, verified.ci95)
    assert (result.claimed_value, result.metric.name) == (50.0, "MSE")
    assert result.checkpoint_sha256 == ""  # a reproduction: the site's own weights
