"""A run's life, in one place: sent to a queue, claimed, executed, finished or failed.

Every write after the claim is conditional on the run still being this worker's (status
``running``, this claim token): a run cancelled by a curator or re-queued by the reaper is
abandoned at the next write, and its verdict is never recorded. A run's message carries its
primary key only, and is sent once the transaction that queued it has committed
(``enqueue_on_commit``), so a worker never looks for a row it cannot see yet.

Above this module: the Celery tasks (``tasks.py``: thin wrappers that retry what a retry may
cure), the reaper (``reaper.py``) and people's acts (``services.py``). Below it: what a worker
computes (``worker.py``, no database write), the verdict (``decision.py``) and the published row
(``publishing.py``).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .decision import REJECTED, Decision, decide
from .device import DeviceUnavailable, worker_device
from .models import Run, Submission
from .protocols import REPRODUCE, protocol_by_maml_name, protocol_for_benchmark
from .publishing import publish, withdraw_earlier
from .worker import SiteFault, Unevaluable, evidence, kept_state, measure, training_fields

log = logging.getLogger(__name__)

#: The phase of a queued run whose message could not be sent: the reaper sends it again.
NOT_SENT = "not sent: broker unreachable"
#: The task a run's message names (``tasks.verify_run``), found by its name in Celery's registry:
#: the tasks sit above this module (they call ``claim`` and ``execute``); ``apps.py`` imports
#: them at start, so the registry holds it in every process.
VERIFY_TASK = "evaluator.tasks.verify_run"
LOG_TAIL_LINES = 50
PROGRESS_EVERY_SECONDS = 0.5


# --- Queued -----------------------------------------------------------------------------------


def enqueue_on_commit(run: Run) -> None:
    """Send the run's task once the current transaction commits (at once outside one)."""
    submission = run.submission
    protocol = protocol_for_benchmark(submission.benchmark)
    queue = queue_name(protocol, submission.kind)
    limits = protocol.limits_for(submission.kind)
    pk = run.pk
    transaction.on_commit(lambda: dispatch(pk, queue, limits.soft, limits.hard))


def queue_name(protocol, kind: str) -> str:
    """The Celery queue of a kind of run: ``cpu`` or ``gpu``, plus EVALUATOR_QUEUE_SUFFIX (empty
    in production; the integration tests give their workers queues of their own)."""
    return protocol.queue_for(kind) + settings.EVALUATOR_QUEUE_SUFFIX


def dispatch(run_pk: int, queue: str, soft: int, hard: int) -> bool:
    """Publish the task message. A broker error is logged, not raised: the run stays queued
    (its row is committed) and the reaper sends it again later."""
    try:
        current_app.tasks[VERIFY_TASK].apply_async(
            args=[run_pk], queue=queue, routing_key=queue, soft_time_limit=soft, time_limit=hard
        )
    except Exception:
        log.exception("could not queue run %s; the reaper will send it again", run_pk)
        Run.objects.filter(pk=run_pk, status=Run.Status.QUEUED).update(phase=NOT_SENT)
        return False
    return True


# --- Claimed ----------------------------------------------------------------------------------


def new_token() -> str:
    """A claim token naming the host and process, unique per claim."""
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:12]}"


def claim(run_pk: int, token: str) -> bool:
    """Take a queued run for this worker (a conditional update: two workers, or one message
    delivered twice, never both get it), with its event; False when it is not queued."""
    with transaction.atomic():  # the claim and its event: one state change
        claimed = Run.objects.claim(run_pk, token, host=socket.gethostname())
        if claimed:
            run = Run.objects.get(pk=run_pk)
            run.add_event("claimed", f"attempt {run.attempts} by {token}")
    return bool(claimed)


def put_back(run_pk: int, token: str, error: Exception) -> bool:
    """Queue a run this worker holds again, after an error a retry may cure (its task retries)."""
    with transaction.atomic():
        if Run.objects.owned(run_pk, token).update(
            status=Run.Status.QUEUED, worker="", phase=f"retrying after: {error}"[:100]
        ):
            Run.objects.get(pk=run_pk).add_event("retry", f"infrastructure error: {error}")
            return True
    return False


class RunAbandoned(Exception):
    """The run is no longer this worker's (cancelled, or re-queued as stale): stop quietly."""


class RunReporter:
    """Progress, log tail and heartbeat of one run, written through its claim token."""

    def __init__(self, run_pk: int, token: str):
        self.pk = run_pk
        self.token = token
        self.lines: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self.phase = ""
        self.last_write = 0.0
        self.last_logged_pct = -1
        self.abandoned = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_pk}", daemon=True)

    # Heartbeat: a thread, so that a long phase without progress still shows the worker alive.
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        interval = float(settings.EVALUATOR_HEARTBEAT_SECONDS)
        try:
            while not self._stop.wait(interval):
                try:
                    alive = Run.objects.owned(self.pk, self.token).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a lost database: the next beat tries again
                    log.warning("heartbeat of run %s failed", self.pk, exc_info=True)
                    continue
                if not alive:
                    self.abandoned.set()
                    return
        finally:
            connection.close()

    # Log tail.
    def log(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self.lines.append(f"{stamp} {line}")

    def tail(self) -> str:
        """The last lines, as users see them (server paths cut to their last part)."""
        with self._lock:
            return without_paths("\n".join(self.lines))

    # Progress: called by maml_ref as progress(phase, done, total); throttled.
    def progress(self, phase: str, done: int, total: int, **fields) -> None:
        if self.abandoned.is_set():
            raise RunAbandoned()
        now = time.monotonic()
        changed = phase != self.phase
        if changed:
            self.log(f"{phase}: started ({total} to do)")
            self.phase = phase
            self.last_logged_pct = -1
        pct = int(100 * done / total) if total else 0
        if total and pct // 10 > self.last_logged_pct // 10:
            self.last_logged_pct = pct
            self.log(f"{phase}: {done}/{total}")
        if not changed and done < total and now - self.last_write < PROGRESS_EVERY_SECONDS:
            return
        self.last_write = now
        self.write(phase=phase, progress_done=done, progress_total=total, **fields)

    def training(self, p) -> None:
        """A meta-training report (maml_ref's TrainProgress, every iteration): the progress
        above with the run's ``training`` figures; raises RunAbandoned once cancelled."""
        self.progress("training", p.iteration, p.total, training=training_fields(p))

    def write(self, **fields) -> None:
        fields.setdefault("log_tail", self.tail())
        updated = Run.objects.owned(self.pk, self.token).update(
            heartbeat_at=timezone.now(), **fields
        )
        if not updated:
            self.abandoned.set()
            raise RunAbandoned()


class _TailHandler(logging.Handler):
    def __init__(self, reporter: RunReporter):
        super().__init__(logging.INFO)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        self.reporter.log(record.getMessage())


# --- Executed ---------------------------------------------------------------------------------


def execute(run_pk: int, token: str) -> str:
    """Run a claimed run to its end. Returns the final status (or "abandoned")."""
    import maml_ref

    run = Run.objects.select_related("submission__benchmark", "submission__metric").get(pk=run_pk)
    submission: Submission = run.submission
    protocol = protocol_by_maml_name(run.protocol or submission.protocol)
    reporter = RunReporter(run_pk, token)
    handler = _TailHandler(reporter)
    maml_logger = logging.getLogger("maml_ref")
    maml_logger.addHandler(handler)
    if maml_logger.level == logging.NOTSET or maml_logger.level > logging.INFO:
        maml_logger.setLevel(logging.INFO)
    reporter.start()
    try:
        if protocol is None:
            fail_run(run_pk, token, f"No verification protocol named {run.protocol!r}.")
            return Run.Status.FAILED
        try:
            device = worker_device()
        except DeviceUnavailable as exc:
            fail_run(run_pk, token, f"This worker cannot run it: {exc}.")
            return Run.Status.FAILED
        mode = "transductive" if submission.transductive else "non-transductive"
        reporter.log(
            f"{submission.kind} {protocol.maml_protocol} ({mode}) with maml_ref "
            f"{maml_ref.__version__} on {socket.gethostname()}"
        )
        reporter.write(
            phase="starting",
            maml_ref_version=maml_ref.__version__,
            evaluation_mode=mode,
        )
        try:
            result = measure(
                submission,
                protocol,
                run_pk,
                device=device,
                progress=reporter.progress,
                on_train=reporter.training,
            )
        except SiteFault as fault:
            return _site_fault(run_pk, token, reporter, fault.problem, phase=fault.phase)
        except Unevaluable as exc:
            reason = without_paths(str(exc))
            reporter.log(reason)
            reporter.write(phase="rejected")
            # A bad artefact is the claim's fault, not the worker's: rejected, never retried.
            finish_run(run_pk, token, Decision(REJECTED, reason), {"log_tail": reporter.tail()})
            return Run.Status.REJECTED
        decision = decide(
            submission.claimed_value,
            result.mean,
            result.ci95,
            protocol.higher_is_better,
            protocol.tolerance,
        )
        reporter.log(f"reproduced {result.mean:.4g} ± {result.ci95:.4g}: {decision.verdict}")
        figures = {**evidence(result, submission, mode), "log_tail": reporter.tail()}
        finished = finish_run(run_pk, token, decision, figures)
        return decision.verdict if finished else "abandoned"
    except RunAbandoned:
        log.info("run %s is no longer ours (cancelled or re-queued); stopped", run_pk)
        record_stop(run_pk, token, kept_state(run_pk) if submission.kind == REPRODUCE else "")
        return "abandoned"
    finally:
        reporter.stop()
        maml_logger.removeHandler(handler)


def _site_fault(run_pk, token, reporter, problem: str, phase: str = "site fault") -> str:
    """End the run ``failed``: the site could not do its part (never ``rejected``)."""
    reason = site_fault(problem)
    log.warning("run %s: %s", run_pk, problem)
    reporter.log(reason)
    reporter.write(phase=phase)
    fail_run(run_pk, token, reason, kind="site fault")
    return Run.Status.FAILED


def record_stop(run_pk: int, token: str, kept: str = "") -> None:
    """On the event log of a run cancelled under this worker: where it stopped (and ``kept``:
    what it left, e.g. a training state)."""
    run = Run.objects.filter(pk=run_pk, status=Run.Status.CANCELLED, worker=token).first()
    if run is not None:
        run.add_event(
            "stopped",
            f"The worker stopped at its next progress report "
            f"({run.progress_done}/{run.progress_total}).{kept}",
        )


# --- Finished or failed -----------------------------------------------------------------------


def finish_run(run_pk: int, token: str, decision: Decision, evidence: dict[str, Any]) -> bool:
    """Write a worker's verdict, publishing a verified claim in the same transaction.

    Only the worker that holds the run may finish it: a run cancelled or re-queued meanwhile is
    left as it is (returns False).
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().filter(pk=run_pk).first()
        if run is None or run.status != Run.Status.RUNNING or run.worker != token:
            return False
        for name, value in evidence.items():
            setattr(run, name, value)
        run.status = decision.verdict
        run.reason = decision.reason
        run.phase = "done"
        run.finished_at = timezone.now()
        if run.started_at:
            run.wall_seconds = (run.finished_at - run.started_at).total_seconds()
        withdrawn = ""
        if decision.verified:
            publish(run)
        elif decision.verdict == Run.Status.REJECTED:
            withdrawn = withdraw_earlier(run)
        run.save()
        run.add_event(decision.verdict, decision.reason + withdrawn)
    return True


def site_fault(what: str) -> str:
    """The reason of a run the site could not finish (storage, data, a worker killed or out of
    memory, a bug): it ends ``failed``, never ``rejected``, and its reason says whose fault."""
    return (
        f"{what.strip().rstrip('.')}. This is the site's fault, not a verdict on the claim: the "
        "run can be re-queued once the site has put it right."
    )


_SERVER_PATH = re.compile(r"(?<![\w:/.~])(?:~/|/)(?:[^\s/'\"`:;,()]+/)+([^\s/'\"`:;,()]*)")


def without_paths(text: str) -> str:
    """A message for users: every absolute path on the server cut to its last part."""
    return _SERVER_PATH.sub(lambda m: f"…/{m.group(1)}" if m.group(1) else "…/", text)


def fail_run(run_pk: int, token: str | None, reason: str, kind: str = "failed") -> bool:
    """End a run as failed (a bad artefact, a time limit, an error), if still running. The
    reason is shown to users: server paths in it are cut to their last part."""
    reason = without_paths(reason)
    with transaction.atomic():
        qs = Run.objects.filter(pk=run_pk, status=Run.Status.RUNNING)
        if token is not None:
            qs = qs.filter(worker=token)
        now = timezone.now()
        run = qs.select_for_update().first()
        if run is None:
            return False
        run.status = Run.Status.FAILED
        run.reason = reason
        run.phase = "failed"
        run.finished_at = now
        if run.started_at:
            run.wall_seconds = (now - run.started_at).total_seconds()
        run.save()
        run.add_event(kind, reason)
    return True
