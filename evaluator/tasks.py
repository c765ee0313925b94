"""Celery tasks: verify a run (queues ``cpu`` and ``gpu``) and reap runs of dead workers.

Thin wrappers over ``runs.py`` and ``reaper.py``, taking a run's primary key only. ``verify_run``
claims the run (a conditional update: a run no longer queued is skipped) and executes it. It
retries with backoff only on infrastructure errors (the database, the broker or the checkpoint
storage out of reach), never on a rejection or a bad checkpoint. Whatever the site cannot do
(a time limit, retries run out, a worker out of memory, a bug) ends the run ``failed`` with a
reason that says it is the site's fault (``runs.site_fault``), never ``rejected``.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.db.utils import InterfaceError
from django.db.utils import OperationalError as DatabaseError
from kombu.exceptions import OperationalError as BrokerError

from .device import log_worker_device
from .models import Run
from .protocols import log_data_report, protocol_by_maml_name
from .reaper import reap
from .runs import claim, execute, fail_run, new_token, put_back, site_fault
from .worker import StorageUnavailable

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
        if not claim(run_pk, token):
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
            put_back(run_pk, token, exc)
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
