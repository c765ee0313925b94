"""Faults with real worker processes: a worker killed mid-run, and two workers racing.

A killed worker leaves its run ``running`` with a heartbeat that stops; the next worker to start
reaps it (its claim names a process of this host that no longer exists) and runs it again, or
marks it ``failed`` once the attempt limit is reached. A run is never left ``running``.
"""

import signal
from collections import Counter
from pathlib import Path

import pytest

from evaluator.models import Run, RunEvent
from leaderboard.models import Result

from .conftest import submit, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def kill_mid_run(workers, run_pk: int):
    """Start a worker, let it evaluate part of the episodes, then SIGKILL it and its pool."""
    proc = workers.start("doomed")

    def evaluating():
        run = Run.objects.get(pk=run_pk)
        return run.phase == "evaluating" and 0 < run.progress_done < run.progress_total

    wait_until(evaluating, timeout=180, what="the run to be part-way through its episodes")
    workers.kill(proc, signal.SIGKILL)
    run = Run.objects.get(pk=run_pk)
    assert run.status == Run.Status.RUNNING  # the dead worker could not say anything
    return run


def test_a_run_of_a_killed_worker_is_rerun_by_the_next_worker(
    workers, api, omniglot_5w1s, trained_checkpoint
):
    path, truth = trained_checkpoint
    run_pk = submit(api, path, round(truth.mean - 1.0, 2))
    killed = kill_mid_run(workers, run_pk)

    workers.start("rescuer")
    run = wait_until(
        lambda: (r := Run.objects.get(pk=run_pk)).is_final and r,
        timeout=240,
        what="the re-queued run to end",
    )
    assert run.status == Run.Status.VERIFIED, run.reason
    assert run.reproduced_value == pytest.approx(truth.mean, abs=1e-6)
    assert run.attempts == 2 and run.worker != killed.worker
    kinds = list(run.events.values_list("kind", flat=True))
    assert kinds == ["queued", "claimed", "reaped", "claimed", "verified"]
    assert "lost" in run.events.get(kind="reaped").message
    assert Result.objects.filter(pk=run.result_id).exists()


def test_a_run_killed_past_the_attempt_limit_fails_with_the_reason(
    workers, api, omniglot_5w1s, trained_checkpoint
):
    path, truth = trained_checkpoint
    run_pk = submit(api, path, round(truth.mean - 1.0, 2))
    kill_mid_run(workers, run_pk)

    workers.start("rescuer", EVALUATOR_MAX_ATTEMPTS="1")
    run = wait_until(
        lambda: (r := Run.objects.get(pk=run_pk)).is_final and r,
        timeout=60,
        what="the reaper to fail the run",
    )
    assert run.status == Run.Status.FAILED
    assert "lost" in run.reason and "Gave up after 1 attempts" in run.reason
    assert run.attempts == 1 and run.result is None
    assert not Result.objects.exists()


def test_two_workers_and_twenty_submissions_run_each_exactly_once(
    workers, api, omniglot_5w1s, trained_checkpoint
):
    # What is counted here is executions, not figures: 20 evaluations of the full 600 episodes
    # would take minutes on two shared cores, so these workers evaluate the first 30 of the
    # protocol's fixed episodes (MAML_EVAL_EPISODES, a test-only setting; the production
    # protocol stays at 600 episodes, as test_verification.py checks end to end).
    path, _ = trained_checkpoint
    first = workers.start("w1", wait=False, MAML_EVAL_EPISODES="30")
    second = workers.start("w2", wait=False, MAML_EVAL_EPISODES="30")
    workers.wait_ready(first)
    workers.wait_ready(second)
    run_pks = [submit(api, path, 20.0, model_name=f"MAML #{i}") for i in range(20)]

    wait_until(
        lambda: (
            Run.objects.filter(pk__in=run_pks, status=Run.Status.VERIFIED).count() == 20
            or Run.objects.filter(pk__in=run_pks, status__in=Run.FINAL).count() == 20
        ),
        timeout=300,
        what="twenty runs to end",
    )
    runs = list(Run.objects.filter(pk__in=run_pks))
    reasons = {r.pk: (r.status, r.reason) for r in runs if r.status != Run.Status.VERIFIED}
    assert Counter(r.status for r in runs) == {Run.Status.VERIFIED: 20}, reasons
    events = {r.pk: list(r.events.values_list("kind", "message")) for r in runs if r.attempts != 1}
    assert [r.attempts for r in runs] == [1] * 20, events
    assert [len(r.episode_scores) for r in runs] == [30] * 20
    claims = Counter(
        RunEvent.objects.filter(run__in=run_pks, kind="claimed").values_list("run", flat=True)
    )
    assert claims == dict.fromkeys(run_pks, 1)  # exactly one claim per run
    # One checkpoint, one row: the twenty runs of one file published one row between the two
    # workers; the other nineteen are linked to it.
    row = Result.objects.verified().get()
    linked = Run.objects.filter(pk__in=run_pks, same_checkpoint_as=row)
    assert linked.count() == 19 and Run.objects.filter(pk__in=run_pks, result=row).count() == 1
    # Both workers took a share (each claim token names its process).
    processes = {r.worker.split("/")[1] for r in runs}
    assert len(processes) == 2, Counter(r.worker for r in runs)


def test_a_checkpoint_deleted_from_storage_fails_as_the_sites_fault(
    workers, api, omniglot_5w1s, tmp_path
):
    """The stored copy of a submitted checkpoint is gone before a real worker runs it: the run
    ends ``failed`` (not ``rejected``: the file was fine when it was sent), saying whose fault."""
    from evaluator.models import Submission
    from tests.evaluator.web_helpers import checkpoint_bytes

    path = tmp_path / "maml.safetensors"
    path.write_bytes(checkpoint_bytes(seed=5))
    run_pk = submit(api, path, 50.0, model_name="MAML (file lost)")
    submission = Submission.objects.get(runs=run_pk)
    Path(submission.checkpoint.path).unlink()  # the storage loses it while it waits

    workers.start("w1")
    run = wait_until(
        lambda: (r := Run.objects.get(pk=run_pk)).is_final and r,
        timeout=120,
        what="the run to end",
    )
    assert run.status == Run.Status.FAILED, run.reason
    assert "stored copy of the checkpoint is missing" in run.reason
    assert "This is the site's fault, not a verdict on the claim" in run.reason
    assert run.attempts == 1 and run.result is None and not Result.objects.exists()
    assert list(run.events.values_list("kind", flat=True)) == ["queued", "claimed", "site fault"]
