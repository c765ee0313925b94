"""The reaper: runs whose worker died are re-queued (or failed past their limits), and queued
runs whose message may be lost are sent again.

A worker acknowledges a run's message only after the run ends (``acks_late``, prefetch 1); one
that dies mid-run leaves its run ``running`` with a heartbeat that stops. ``reap`` (celery beat's
``tasks.reap_stale_runs``, and once at every worker start) re-queues such a run at most
``EVALUATOR_MAX_ATTEMPTS`` times, then marks it ``failed`` with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import Run
from .protocols import protocol_by_maml_name
from .runs import NOT_SENT, dispatch, enqueue_on_commit, queue_name, site_fault

log = logging.getLogger(__name__)


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
    stale_after = timedelta(seconds=float(settings.EVALUATOR_STALE_AFTER_SECONDS))
    max_attempts = int(settings.EVALUATOR_MAX_ATTEMPTS)
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
    resend_after = timedelta(seconds=float(settings.EVALUATOR_RESEND_QUEUED_AFTER_SECONDS))
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
