"""Long trainings on real workers: a reproduction whose worker is SIGKILLed mid-training resumes
from its last saved state on the next attempt (the log says from which iteration) and ends with
the same parameters, bit for bit, as an uninterrupted run of the same configuration; a cancelled
training stops within one progress interval and keeps its last state.

The configurations are tiny (Omniglot 5-way 1-shot, meta-batch 2, a few dozen iterations) and
the workers save the state after every iteration (MAML_STATE_EVERY_SECONDS=0), validate every
10 iterations on 10 episodes and evaluate on 20 (the module: 3.5 minutes at load 5)."""

import signal

import pytest
import torch

from evaluator.models import Run
from evaluator.runs import PROGRESS_EVERY_SECONDS
from evaluator.worker import state_path
from maml_ref.checkpoint import load_checkpoint
from maml_ref.state import load_state
from tests.evaluator import catalogue

from .conftest import BENCHMARK, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKER_ENV = {
    "MAML_STATE_EVERY_SECONDS": "0",
    "MAML_VALIDATE_EVERY": "10",
    "MAML_VALIDATE_EPISODES": "10",
    "MAML_EVAL_EPISODES": "20",
}


def reproduce(api, config: dict) -> int:
    r = api.post(
        "/api/submissions/",
        {
            "benchmark": BENCHMARK,
            "metric": "Accuracy",
            "claimed_value": 20.0,
            "model_name": "MAML (brief reproduction)",
            "kind": "reproduce",
            "config": config,
            "paper": catalogue.maml_paper().slug,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    return Run.objects.get(submission_id=r.json()["id"]).pk


def final(run_pk: int, timeout: float = 300) -> Run:
    return wait_until(
        lambda: (r := Run.objects.get(pk=run_pk)).is_final and r,
        timeout=timeout,
        what=f"run {run_pk} to end",
    )


def test_a_killed_training_resumes_from_its_state_and_ends_as_an_uninterrupted_one(
    workers, api, omniglot_5w1s
):
    config = {"meta_iterations": 40, "meta_batch_size": 2, "seed": 5}
    killed_pk = reproduce(api, config)
    doomed = workers.start("doomed", queues="gpu", **WORKER_ENV)
    # The worker says at start which device its runs use (no CUDA here: the CPU).
    assert "maml_ref runs on cpu" in doomed.log.read_text()
    state = state_path(killed_pk)
    wait_until(state.exists, timeout=240, what="the first saved training state", every=0.02)
    workers.kill(doomed, signal.SIGKILL)
    stopped_at = load_state(state).iteration
    assert 0 < stopped_at < 40, "the worker was to be killed mid-training"
    assert Run.objects.get(pk=killed_pk).status == Run.Status.RUNNING  # it could not say

    workers.start("rescuer", queues="gpu", **WORKER_ENV)
    resumed = final(killed_pk)
    assert resumed.status in (Run.Status.VERIFIED, Run.Status.REJECTED), resumed.reason
    assert resumed.attempts == 2
    assert f"resuming from the training state saved at iteration {stopped_at} of 40" in (
        resumed.log_tail
    )
    kinds = list(resumed.events.values_list("kind", flat=True))
    assert kinds[:4] == ["queued", "claimed", "reaped", "claimed"]
    assert resumed.training["resumed_from"] == stopped_at
    assert resumed.training["iteration"] == 40

    # The same configuration in one go, on the same worker.
    whole_pk = reproduce(api, config)
    whole = final(whole_pk)
    assert whole.attempts == 1 and whole.training["resumed_from"] == 0
    a = load_checkpoint(state.parent / f"run-{killed_pk}.safetensors").params
    b = load_checkpoint(state.parent / f"run-{whole_pk}.safetensors").params
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert resumed.episode_scores == whole.episode_scores
    assert resumed.reproduced_value == whole.reproduced_value
    # The validation curve, rebuilt from the state, is the uninterrupted run's.
    assert resumed.training["validation"] == whole.training["validation"]
    assert [i for i, _ in whole.training["validation"]] == [0, 10, 20, 30, 40]


def test_a_cancelled_training_stops_within_one_progress_interval_and_keeps_its_state(
    workers, api, omniglot_5w1s
):
    config = {"meta_iterations": 80, "meta_batch_size": 2, "seed": 6}
    run_pk = reproduce(api, config)
    worker = workers.start("w1", queues="gpu", **WORKER_ENV)

    def training():
        r = Run.objects.get(pk=run_pk)
        return r.phase == "training" and r.progress_done >= 3 and r.training.get("seconds_per_100")

    wait_until(training, timeout=240, what="the training to report progress", every=0.05)
    r = api.post(f"/api/submissions/{Run.objects.get(pk=run_pk).submission_id}/cancel/")
    assert r.status_code == 200, r.content
    at_cancel = Run.objects.get(pk=run_pk)
    assert at_cancel.status == Run.Status.CANCELLED
    wait_until(
        lambda: Run.objects.get(pk=run_pk).events.filter(kind="stopped").exists(),
        timeout=60,
        what="the worker to stop",
        every=0.1,
    )
    done = Run.objects.get(pk=run_pk)
    assert done.status == Run.Status.CANCELLED and done.result_id is None
    assert done.progress_done == at_cancel.progress_done  # nothing written after the cancel
    kept = load_state(state_path(run_pk))
    assert at_cancel.progress_done <= kept.iteration < 80
    assert f"training state is kept at iteration {kept.iteration}" in (
        done.events.get(kind="stopped").message
    )
    # Within one progress interval: no more iterations after the cancel than that interval
    # holds at the run's own rate (with room for the iteration in flight and scheduling).
    per_iteration = at_cancel.training["seconds_per_100"] / 100
    assert (
        kept.iteration - at_cancel.progress_done <= 3 * PROGRESS_EVERY_SECONDS / per_iteration + 3
    )
    assert "no longer ours" in worker.log.read_text()
