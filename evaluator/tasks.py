"""Celery tasks: verify a run (queues ``cpu`` and ``gpu``) and reap runs of dead workers.

``verify_run`` gets a run's primary key only. It claims the run with a conditional update, so
two workers (or a message delivered twice) never run it twice; a run no longer queued
(cancelled, finished, or claimed by someone else) is left alone. It retries with backoff only on
infrastructure errors (the database, the broker or the checkpoint storage out of reach), never
on a rejection or a bad checkpoint. Whatever the site cannot do (read the stored checkpoint or
the dataset, survive a worker killed or out of memory, a bug) ends the run ``failed`` with a
reason that says it is the site's fault (``services.site_fault``), never ``rejected``.
``acks_late`` with prefetch 1 (settings) means a message is acknowledged only after its run
ends; a worker that dies mid-run leaves its run ``running`` with a heartbeat that stops, and
``reap_stale_runs`` (celery beat, and once at every worker start) re-queues it at most
``EVALUATOR_MAX_ATTEMPTS`` times, then marks it ``failed`` with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.db import transaction
from django.db.models import Q
from django.db.utils import InterfaceError
from django.db.utils import OperationalError as DatabaseError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from .device import log_worker_device
from .models import Run
from .protocols import log_data_report, protocol_by_maml_name
from .services import NOT_SENT, dispatch, enqueue_on_commit, fail_run, queue_name, site_fault
from .worker import StorageUnavailable, execute, new_token, setting

log = logging.getLogger(__name__)

#: Errors of the machinery, not of the claim: worth a retry with backoff.
INFRASTRUCTURE_ERRORS = (
    DatabaseError,
    InterfaceError,
    BrokerError,
    ConnectionError,
    StorageUnavailable,
)


@shared_task(bind=True, acks_late=True, max_retries=5, ignore_result=True)
def verify_run(self, run_pk: int) -> str:
    token = new_token()
    try:
        with transaction.atomic():  # the claim and its event: one state change
            claimed = Run.objects.claim(run_pk, token, host=socket.gethostname())
            if claimed:
                run = Run.objects.get(pk=run_pk)
                run.add_event("claimed", f"attempt {run.attempts} by {token}")
        if not claimed:
            log.info("run %s is not queued (taken, cancelled or finished): skipped", run_pk)
            return "skipped"
    except INFRASTRUCTURE_ERRORS as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc

    try:
        return execute(run_pk, token)
    except SoftTimeLimitExceeded:
        limit = (self.request.timelimit or (None, None))[1] or _soft_limit(run_pk)
        fail_run(run_pk, token, site_fault(f"Exceeded the time limit of {limit} s"), kind="timeout")
        return Run.Status.FAILED
    except INFRASTRUCTURE_ERRORS as exc:
        if self.request.retries >= self.max_retries:
            fail_run(
                run_pk,
                token,
                site_fault(f"Gave up after {self.max_retries} retries: {exc}"),
                kind="site fault",
            )
            raise
        log.warning("run %s: infrastructure error, will retry: %s", run_pk, exc)
        try:
            with transaction.atomic():
                if Run.objects.owned(run_pk, token).update(
                    status=Run.Status.QUEUED, worker="", phase=f"retrying after: {exc}"[:100]
                ):
                    Run.objects.get(pk=run_pk).add_event("retry", f"infrastructure error: {exc}")
        except Exception:  # still out of reach: the reaper re-queues the stale run
            log.warning("run %s could not be put back on the queue", run_pk, exc_info=True)
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from exc
    except Exception as exc:  # a bug, memory: the site's (a bad artefact is rejected in execute)
        log.exception("run %s failed", run_pk)
        reason = site_fault(f"The run failed: {type(exc).__name__}: {exc}")
        fail_run(run_pk, token, reason, kind="site fault")
        return Run.Status.FAILED


def _soft_limit(run_pk: int) -> int | str:
    run = Run.objects.select_related("submission").get(pk=run_pk)
    protocol = protocol_by_maml_name(run.protocol)
    return protocol.limits_for(run.submission.kind).soft if protocol else "?"


def backoff(retries: int) -> int:
    return min(300, 5 * 2**retries)


def _pid_alive(pid: int) -> bool:
    """Whether a process of this host is alive (a zombie, killed but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        stat = ""
    if stat:
        return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
    try:  # no /proc: ask the kernel
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _dead_here(token: str) -> bool:
    """Whether the claim token names a process of this host that no longer exists."""
    host, _, rest = token.partition("/")
    pid = rest.partition("/")[0]
    return host == socket.gethostname() and pid.isdigit() and not _pid_alive(int(pid))


def reap(now=None, *, include_dead_here: bool = False) -> dict[str, int]:
    """Re-queue runs whose worker died (stale heartbeat), or fail them past the attempt limit.

    With ``include_dead_here`` (at worker start) a run whose claim names a process of this host
    that no longer exists is reaped at once, without waiting for its heartbeat to go stale.
    Queued runs whose message could not be sent are sent again.
    """
    now = now or timezone.now()
    stale_after = timedelta(seconds=float(setting("EVALUATOR_STALE_AFTER_SECONDS", 60)))
    max_attempts = int(setting("EVALUATOR_MAX_ATTEMPTS", 3))
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    candidates = set(Run.objects.stale(now - stale_after).values_list("pk", flat=True))
    if include_dead_here:
        for pk, token in Run.objects.filter(status=Run.Status.RUNNING).values_list("pk", "worker"):
            if _dead_here(token):
                candidates.add(pk)
    for pk in sorted(candidates):
        with transaction.atomic():
            run = Run.objects.select_for_update().filter(pk=pk, status=Run.Status.RUNNING).first()
            if run is None:
                continue
            beat = run.heartbeat_at or run.started_at
            if not (beat and beat < now - stale_after) and not _dead_here(run.worker):
                continue  # it came back to life meanwhile
            lost = f"Worker {run.worker or '?'} lost (last heartbeat {beat:%Y-%m-%d %H:%M:%S})."
            protocol = protocol_by_maml_name(run.protocol)
            hard = protocol.limits_for(run.submission.kind).hard if protocol else None
            ran = (now - run.started_at).total_seconds() if run.started_at else 0
            if hard and ran > hard:
                reason = site_fault(f"{lost} It ran past the hard time limit of {hard} s")
            elif run.attempts >= max_attempts:
                reason = site_fault(
                    f"{lost} Gave up after {run.attempts} attempts (the worker stopped: killed, "
                    "or out of memory)"
                )
            else:
                reason = ""
            run.worker = ""
            if reason:
                run.status, run.phase, run.reason = Run.Status.FAILED, "failed", reason
                run.finished_at = now
                run.save()
                run.add_event("failed", reason)
                counts["failed"] += 1
            else:
                run.status, run.phase, run.queued_at = Run.Status.QUEUED, "re-queued", now
                run.save()
                run.add_event(
                    "reaped", f"{lost} Re-queued (attempt {run.attempts} of {max_attempts})."
                )
                enqueue_on_commit(run)
                counts["requeued"] += 1
    # Resend what never reached the broker, and what waited in the queue so long that its message
    # may be lost (the file-system broker has no acknowledgements: a worker that died between
    # taking a message and claiming its run took the message with it). A duplicate message is
    # harmless: the claim is conditional, so the second delivery is skipped.
    resend_after = timedelta(seconds=float(setting("EVALUATOR_RESEND_QUEUED_AFTER_SECONDS", 1800)))
    waiting = Run.objects.filter(status=Run.Status.QUEUED).filter(
        Q(phase=NOT_SENT) | Q(queued_at__lt=now - resend_after)
    )
    for run in waiting.select_related("submission__benchmark"):
        protocol = protocol_by_maml_name(run.protocol)
        if protocol is None:
            continue
        limits = protocol.limits_for(run.submission.kind)
        if dispatch(run.pk, queue_name(protocol, run.submission.kind), limits.soft, limits.hard):
            Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
                phase="queued", queued_at=now
            )
            run.add_event("resent", "The task message was sent again.")
            counts["resent"] += 1
    if any(counts.values()):
        log.info("reaper: %s", counts)
    return counts


@shared_task(ignore_result=True)
def reap_stale_runs() -> dict[str, int]:
    return reap()


@worker_ready.connect
def report_data_at_worker_start(sender=None, **kwargs) -> None:
    """Which protocols this worker can run with the data it sees, and which not, and why."""
    try:
        log_data_report(log)
    except Exception:
        log.exception("data report at worker start failed")


@worker_ready.connect
def report_device_at_worker_start(sender=None, **kwargs) -> None:
    """The queues this worker serves and the device its runs use (evaluator/device.py)."""
    try:
        queues = sorted((sender.app.amqp.queues.consume_from or {}).keys())
    except AttributeError:
        queues = []
    try:
        log_worker_device(log, queues)
    except Exception:
        log.exception("device report at worker start failed")


@worker_ready.connect
def reap_at_worker_start(sender=None, **kwargs) -> None:
    try:
        reap(include_dead_here=True)
    except Exception:
        log.exception("reaper at worker start failed")
