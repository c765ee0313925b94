"""The verification task and the reaper, run in-process on the real test database.

The reference implementation is replaced by a tiny fake here (the unit under test is the task:
claiming, recording, deciding, publishing); the integration tests run the real maml_ref in
real worker processes.
"""

import math
import os
import socket
import sys
import types
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.utils import OperationalError
from django.utils import timezone

from evaluator import runs, services
from evaluator.models import Run, RunEvent, Submission
from evaluator.reaper import reap
from evaluator.tasks import verify_run
from leaderboard.models import MLModel, Paper, Result
from maml_ref.api import EvalResult

from . import catalogue

pytestmark = pytest.mark.django_db


class FakeCheckpointError(Exception):
    pass


def FakeResult(mean, ci95, scores, transductive=True) -> EvalResult:
    """What maml_ref's evaluation returns (its real result type), with these figures."""
    return EvalResult(
        mean=mean,
        ci95=ci95,
        scores=scores,
        episodes=len(scores),
        protocol="omniglot-5w1s",
        transductive=transductive,
        queries=15,
        seed=1234,
        device="cpu",
        seconds=0.1,
    )


@pytest.fixture
def fake_maml(monkeypatch):
    """maml_ref.api / maml_ref.checkpoint replaced; ``calls`` records every evaluation."""
    calls = []
    behaviour = {"mean": 97.0, "ci95": 0.5, "raise": None}

    def run_evaluate(path, protocol, *, transductive=True, progress=None, **kwargs):
        calls.append({"path": path, "protocol": protocol, "transductive": transductive, **kwargs})
        if behaviour["raise"]:
            raise behaviour["raise"]
        for done in range(0, 11):
            progress("evaluate", done, 10)
        scores = [behaviour["mean"]] * 10
        return FakeResult(behaviour["mean"], behaviour["ci95"], scores, transductive)

    api = types.ModuleType("maml_ref.api")
    api.run_evaluate = run_evaluate
    api.run_reproduce = lambda *a, **k: pytest.fail("reproduce not expected")
    checkpoint = types.ModuleType("maml_ref.checkpoint")
    checkpoint.CheckpointError = FakeCheckpointError
    monkeypatch.setitem(sys.modules, "maml_ref.api", api)
    monkeypatch.setitem(sys.modules, "maml_ref.checkpoint", checkpoint)
    return types.SimpleNamespace(calls=calls, behaviour=behaviour)


@pytest.fixture
def submit(owner, django_capture_on_commit_callbacks):
    def make(claimed=96.0, benchmark_name="OMNIGLOT - 1-Shot, 5-way", metric="Accuracy", **kw):
        bench = catalogue.benchmark(benchmark_name, metric_name=metric)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            submission = services.create_submission(
                owner,
                benchmark=bench,
                metric=catalogue.metric(metric),
                claimed_value=claimed,
                model_name=kw.pop("model_name", "MAML"),
                kind="evaluate",
                checkpoint_file=SimpleUploadedFile("init.safetensors", b"weights"),
                paper=kw.pop("paper", None),
                **kw,
            )
        make.callbacks = callbacks
        return submission

    return make


def test_create_submission_queues_a_run_dispatched_on_commit(submit):
    submission = submit()
    run = submission.current_run
    assert run.status == Run.Status.QUEUED
    assert run.protocol == submission.protocol == "omniglot-5w1s"
    assert len(submit.callbacks) == 1  # the task is sent only once the transaction commits
    assert submission.checkpoint_sha256 and submission.checkpoint.name.endswith(".safetensors")
    assert list(run.events.values_list("kind", flat=True)) == ["queued"]


def test_a_benchmark_without_runner_is_stored_unverifiable_and_never_queued(submit):
    submission = submit(benchmark_name="Mini-ImageNet - 1-Shot Learning")
    run = submission.current_run
    assert run.status == Run.Status.UNVERIFIABLE
    assert "No reference runner" in run.reason
    assert submit.callbacks == []
    assert not Result.objects.exists()


def test_verify_run_verifies_and_publishes_a_truthful_claim(submit, fake_maml):
    submission = submit(claimed=97.3, paper=catalogue.maml_paper(), transductive=False)
    run = submission.current_run
    assert verify_run.apply(args=[run.pk]).get() == Run.Status.VERIFIED
    run.refresh_from_db()
    assert run.status == Run.Status.VERIFIED
    assert (run.reproduced_value, run.ci95) == (97.0, 0.5)
    assert run.attempts == 1 and run.progress_percent == 100
    assert run.evaluation_mode == "non-transductive"
    assert run.device == "cpu" and run.seeds["evaluation"] == 1234
    assert "evaluate: 10/10" in run.log_tail
    assert fake_maml.calls[0]["transductive"] is False
    result = run.result
    assert result.source == Result.Source.VERIFIED
    # The row's number is what the run measured; the claim is beside it.
    assert (result.value, result.ci95, result.claimed_value) == (97.0, 0.5, 97.3)
    assert result.raw_value == "" and result.checkpoint_sha256 == submission.checkpoint_sha256
    assert result.evaluation_mode == "non-transductive"
    assert result.paper == catalogue.maml_paper()
    assert result.verification_url == f"/results/{result.pk}/evidence/"
    assert result.verification_level == "evaluated"
    assert result.episode_scores == run.episode_scores
    assert result.model.name == "MAML"
    kinds = list(run.events.values_list("kind", flat=True))
    assert kinds == ["queued", "claimed", "verified"]


def test_verify_run_rejects_an_inflated_claim_and_publishes_nothing(submit, fake_maml):
    run = submit(claimed=99.9).current_run
    verify_run.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED
    assert run.reproduced_value == 97.0
    assert "not supported" in run.reason and "99.9" in run.reason
    assert run.result is None and not Result.objects.exists()


def test_a_new_paper_is_created_from_the_submission_when_published(submit, fake_maml):
    fields = {"title": "A New Method", "arxiv_id": "2601.00001", "authors": ["A. Author"]}
    submission = submit(claimed=96.0, paper_fields=fields, model_name="New-MAML")
    assert not Paper.objects.filter(title="A New Method").exists()  # not before it is verified
    verify_run.apply(args=[submission.current_run.pk])
    paper = Paper.objects.get(title="A New Method")
    assert paper.arxiv_id == "2601.00001" and paper.authors == ["A. Author"]
    submission.refresh_from_db()
    assert submission.paper == paper
    assert MLModel.objects.filter(name="New-MAML").exists()


def test_a_bad_checkpoint_is_rejected_with_the_reason_and_not_retried(submit, fake_maml):
    fake_maml.behaviour["raise"] = FakeCheckpointError("tensor conv1.weight has shape (1, 2)")
    run = submit().current_run
    verify_run.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED
    assert "conv1.weight has shape" in run.reason
    assert run.attempts == 1 and len(fake_maml.calls) == 1


def test_an_unexpected_error_fails_the_run_with_the_reason(submit, fake_maml):
    fake_maml.behaviour["raise"] = RuntimeError("boom")
    run = submit().current_run
    verify_run.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "RuntimeError: boom" in run.reason
    assert len(fake_maml.calls) == 1


def test_a_nan_reproduction_is_rejected(submit, fake_maml):
    fake_maml.behaviour["mean"] = math.nan
    run = submit().current_run
    verify_run.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED
    assert "not a finite number" in run.reason
    assert run.reproduced_value is None and run.episode_scores == [None] * 10


def test_infrastructure_errors_are_retried_then_the_run_fails(submit, fake_maml, monkeypatch):
    fake_maml.behaviour["raise"] = OperationalError("server closed the connection")
    run = submit().current_run
    verify_run.apply(args=[run.pk])  # eager: the retries run at once, without their countdown
    run.refresh_from_db()
    assert len(fake_maml.calls) == verify_run.max_retries + 1
    assert run.attempts == verify_run.max_retries + 1
    assert run.status == Run.Status.FAILED
    assert "Gave up after" in run.reason and "server closed" in run.reason
    assert run.events.filter(kind="retry").count() == verify_run.max_retries


def test_a_cancelled_run_is_never_executed(submit, fake_maml, staff):
    run = submit().current_run
    assert services.cancel(run, actor=staff)
    assert verify_run.apply(args=[run.pk]).get() == "skipped"
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED and run.attempts == 0
    assert fake_maml.calls == []
    event = run.events.get(kind="cancelled")
    assert event.actor == staff


def test_a_run_is_claimed_once(submit):
    run = submit().current_run
    assert Run.objects.claim(run.pk, "worker-a")
    assert not Run.objects.claim(run.pk, "worker-b")
    run.refresh_from_db()
    assert run.worker == "worker-a" and run.attempts == 1


def test_a_run_cancelled_while_running_is_abandoned_without_verdict(submit, fake_maml, staff):
    run = submit().current_run

    def cancelling_evaluate(path, protocol, *, progress=None, **kwargs):
        progress("evaluate", 1, 10)
        services.cancel(Run.objects.get(pk=run.pk), actor=staff)
        progress("evaluate", 10, 10)  # the next write finds the run no longer ours
        return FakeResult(97.0, 0.5, [97.0])

    sys.modules["maml_ref.api"].run_evaluate = cancelling_evaluate
    assert verify_run.apply(args=[run.pk]).get() == "abandoned"
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert run.reproduced_value is None and not Result.objects.exists()


def test_finish_run_refuses_a_worker_that_lost_its_claim(submit):
    from evaluator.decision import VERIFIED, Decision

    run = submit().current_run
    Run.objects.claim(run.pk, "worker-a")
    assert not runs.finish_run(run.pk, "worker-b", Decision(VERIFIED, "ok"), {})
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING
    assert not Result.objects.exists()


def _running(run, token="gone-host/1/x", beat_age=600, attempts=1, started_age=None):
    now = timezone.now()
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING,
        worker=token,
        attempts=attempts,
        started_at=now - timedelta(seconds=started_age or beat_age),
        heartbeat_at=now - timedelta(seconds=beat_age),
    )


def test_the_reaper_requeues_a_run_with_a_stale_heartbeat(
    submit, django_capture_on_commit_callbacks
):
    run = submit().current_run
    _running(run)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert reap()["requeued"] == 1
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and run.worker == ""
    assert len(callbacks) == 1
    assert "lost" in run.events.get(kind="reaped").message


def test_the_reaper_leaves_a_live_run_alone(submit):
    run = submit().current_run
    _running(run, beat_age=1)
    assert reap() == {"requeued": 0, "failed": 0, "resent": 0}
    assert Run.objects.get(pk=run.pk).status == Run.Status.RUNNING


def test_the_reaper_fails_a_run_after_the_attempt_limit(submit, settings):
    settings.EVALUATOR_MAX_ATTEMPTS = 2
    run = submit().current_run
    _running(run, attempts=2)
    assert reap()["failed"] == 1
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert "Gave up after 2 attempts" in run.reason
    assert run.finished_at is not None


def test_the_reaper_fails_a_run_past_its_hard_time_limit(submit):
    run = submit().current_run
    _running(run, beat_age=600, started_age=10_000)
    assert reap()["failed"] == 1
    assert "hard time limit" in Run.objects.get(pk=run.pk).reason


def test_at_worker_start_a_run_of_a_dead_local_process_is_reaped_at_once(
    submit, django_capture_on_commit_callbacks
):
    run = submit().current_run
    dead_pid = 2**22 + 12345  # above the kernel's pid_max default: never alive
    _running(run, token=f"{socket.gethostname()}/{dead_pid}/abc", beat_age=1)
    assert reap()["requeued"] == 0  # its heartbeat is fresh
    with django_capture_on_commit_callbacks(execute=False):
        assert reap(include_dead_here=True)["requeued"] == 1
    # ...but never one of a live process.
    run2 = submit().current_run
    _running(run2, token=f"{socket.gethostname()}/{os.getpid()}/abc", beat_age=1)
    assert reap(include_dead_here=True)["requeued"] == 0


def test_the_reaper_resends_a_run_whose_message_was_not_sent(submit, monkeypatch):
    sent = []
    run = submit().current_run
    Run.objects.filter(pk=run.pk).update(phase=runs.NOT_SENT)
    monkeypatch.setattr(
        "evaluator.reaper.dispatch", lambda pk, queue, soft, hard: sent.append((pk, queue)) or True
    )
    assert reap()["resent"] == 1
    assert sent == [(run.pk, "cpu")]
    assert Run.objects.get(pk=run.pk).phase == "queued"


def test_the_reaper_resends_a_run_left_queued_too_long(submit, monkeypatch, settings):
    settings.EVALUATOR_RESEND_QUEUED_AFTER_SECONDS = 60
    sent = []
    monkeypatch.setattr(
        "evaluator.reaper.dispatch", lambda pk, queue, soft, hard: sent.append((pk, queue)) or True
    )
    fresh = submit().current_run
    stale = submit().current_run
    Run.objects.filter(pk=stale.pk).update(queued_at=timezone.now() - timedelta(seconds=120))
    assert reap()["resent"] == 1
    assert sent == [(stale.pk, "cpu")]
    stale.refresh_from_db()
    assert stale.status == Run.Status.QUEUED and stale.events.filter(kind="resent").exists()
    # Sent again at most once an interval; a fresh run is left alone.
    assert reap()["resent"] == 0
    assert Run.objects.get(pk=fresh.pk).events.filter(kind="resent").count() == 0


def test_a_broker_error_at_dispatch_leaves_the_run_queued_and_marked(submit, monkeypatch):
    run = submit().current_run

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(verify_run, "apply_async", broken)
    assert runs.dispatch(run.pk, "cpu", 10, 20) is False
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED and run.phase == runs.NOT_SENT


def test_requeue_makes_a_new_run_and_records_the_curator(submit, fake_maml, staff):
    submission = submit(claimed=99.9)
    first = submission.current_run
    verify_run.apply(args=[first.pk])
    run = services.requeue(submission, actor=staff)
    assert run is not None and run.pk != first.pk
    assert services.requeue(submission, actor=staff) is None  # one active run at a time
    assert run.events.get(kind="requeued").actor == staff
    assert Submission.objects.get(pk=submission.pk).runs.count() == 2


def test_override_verify_publishes_and_override_reject_unpublishes(submit, fake_maml, staff):
    run = submit(claimed=99.9).current_run
    verify_run.apply(args=[run.pk])
    assert services.override(Run.objects.get(pk=run.pk), "verified", "checked by hand", staff)
    run.refresh_from_db()
    assert run.status == Run.Status.VERIFIED and run.result is not None
    assert Result.objects.verified().count() == 1
    assert services.override(run, "rejected", "duplicate of #1", staff)
    run.refresh_from_db()
    assert run.status == Run.Status.REJECTED and run.result is None
    assert not Result.objects.exists()
    events = list(run.events.filter(kind="override").values_list("actor__username", "message"))
    assert events[0] == ("staff", "rejected → verified: checked by hand")
    assert events[1][1].startswith("verified → rejected: duplicate of #1")


def test_override_needs_a_reason_and_leaves_a_running_run_alone(submit, staff):
    run = submit().current_run
    with pytest.raises(ValueError):
        services.override(run, "verified", "  ", staff)
    Run.objects.claim(run.pk, "worker-a")
    assert not services.override(run, "verified", "sure", staff)
    assert not RunEvent.objects.filter(kind="override").exists()


def test_a_run_past_its_soft_time_limit_fails_with_the_reason(submit, fake_maml):
    from celery.exceptions import SoftTimeLimitExceeded

    fake_maml.behaviour["raise"] = SoftTimeLimitExceeded()
    run = submit().current_run
    verify_run.apply(args=[run.pk], soft_time_limit=600, time_limit=660)
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.reason.startswith("Exceeded the time limit of 600 s. This is the site's fault")
    assert run.events.filter(kind="timeout").exists()


def test_a_web_process_has_the_task_runs_dispatch_sends_by_name():
    """``runs.dispatch`` finds ``tasks.verify_run`` by name in Celery's registry (the task layer
    sits above it): a fresh process that only set Django up has it registered (apps.py)."""
    import subprocess
    from pathlib import Path

    code = (
        "import django; django.setup(); from celery import current_app; "
        "from evaluator.runs import VERIFY_TASK; print(VERIFY_TASK in current_app.tasks)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1:] == ["True"], out.stderr[-2000:]


def test_dispatch_sends_the_run_pk_to_its_queue_with_the_protocols_time_limits(submit, monkeypatch):
    sent = []
    monkeypatch.setattr(verify_run, "apply_async", lambda **kw: sent.append(kw))
    submission = submit()
    for callback in submit.callbacks:
        callback()
    assert sent == [
        {
            "args": [submission.current_run.pk],
            "queue": "cpu",
            "routing_key": "cpu",
            "soft_time_limit": 600,
            "time_limit": 660,
        }
    ]


# --- The site's faults are not the submitter's: failed (retried where it helps), never rejected.


def _site_failed(run) -> Run:
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED, run.reason
    assert "This is the site's fault, not a verdict on the claim" in run.reason
    assert not Result.objects.exists()
    return run


def test_a_deleted_stored_checkpoint_fails_the_run_as_the_sites_fault(submit, fake_maml):
    submission = submit()
    submission.checkpoint.storage.delete(submission.checkpoint.name)
    run = submission.current_run
    assert verify_run.apply(args=[run.pk]).get() == Run.Status.FAILED
    run = _site_failed(run)
    assert "stored copy of the checkpoint is missing" in run.reason
    assert run.attempts == 1 and fake_maml.calls == []  # a retry cannot bring it back
    assert run.events.filter(kind="site fault").exists()


def test_a_damaged_stored_checkpoint_fails_the_run_as_the_sites_fault(submit, fake_maml):
    submission = submit()
    with open(submission.checkpoint.path, "wb") as f:
        f.write(b"not what was sent")
    run = submission.current_run
    verify_run.apply(args=[run.pk])
    assert "is damaged" in _site_failed(run).reason and fake_maml.calls == []


def test_a_checkpoint_gone_while_it_is_read_fails_instead_of_rejecting(submit, fake_maml):
    submission = submit()

    def vanish_then_refuse(path, protocol, **kwargs):
        os.remove(path)
        raise FakeCheckpointError(f"cannot read {path}: No such file or directory")

    sys.modules["maml_ref.api"].run_evaluate = vanish_then_refuse
    run = submission.current_run
    verify_run.apply(args=[run.pk])
    assert "missing" in _site_failed(run).reason


def test_an_unreadable_checkpoint_storage_is_retried_then_fails(submit, fake_maml, monkeypatch):
    import errno

    from django.core.files.storage import FileSystemStorage

    def io_error(self, name, mode="rb"):
        raise OSError(errno.EIO, "Input/output error")

    submission = submit()
    monkeypatch.setattr(FileSystemStorage, "open", io_error)
    run = submission.current_run
    verify_run.apply(args=[run.pk])  # eager: the retries run at once
    run = _site_failed(run)
    assert "Gave up after" in run.reason and "storage is unavailable" in run.reason
    assert run.attempts == verify_run.max_retries + 1 and fake_maml.calls == []
    assert run.events.filter(kind="retry").count() == verify_run.max_retries


def test_a_vanished_dataset_fails_the_run_as_the_sites_fault(submit, fake_maml, settings, tmp_path):
    run = submit().current_run
    settings.MAML_DATA_DIR = str(tmp_path / "no-data")  # gone after the claim was accepted
    fake_maml.behaviour["raise"] = FileNotFoundError("omniglot.npz")
    verify_run.apply(args=[run.pk])
    run = _site_failed(run)
    assert "No Omniglot data on the verification workers" in run.reason


def test_a_worker_out_of_memory_fails_the_run_as_the_sites_fault(submit, fake_maml):
    fake_maml.behaviour["raise"] = MemoryError()
    run = submit().current_run
    verify_run.apply(args=[run.pk])
    assert "MemoryError" in _site_failed(run).reason


def test_a_checkpoint_the_reader_could_not_read_is_retried_not_rejected(submit, fake_maml):
    import errno

    def unreadable(path, protocol, **kwargs):
        fake_maml.calls.append(path)
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError:  # as maml_ref's load_checkpoint words it
            raise FakeCheckpointError("cannot read init.safetensors: Input/output error") from None

    sys.modules["maml_ref.api"].run_evaluate = unreadable
    run = submit().current_run
    verify_run.apply(args=[run.pk])
    run = _site_failed(run)
    assert "could not be read" in run.reason and "Input/output error" in run.reason
    assert len(fake_maml.calls) == verify_run.max_retries + 1
