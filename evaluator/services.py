"""What people do: submit a claim, and curators' acts (re-queue, cancel, override).

Every state change is one transaction. A new or re-queued run is sent to a worker only once
that transaction has committed (``runs.enqueue_on_commit``). A run's life after that (claim,
execute, finish or fail) is ``runs.py``; its published row is ``publishing.py``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.utils import timezone

from leaderboard.models import (
    LedgerEntry,
    Paper,
)
from leaderboard.results import ledger_chain

from .limits import check_submission_limits
from .models import Run, RunEvent, Submission
from .protocols import REPRODUCE, protocol_for_benchmark, unverifiable_reason
from .publishing import actor_name, publish, run_evidence, unpublish
from .runs import enqueue_on_commit

# --- Submitting -------------------------------------------------------------------------------


def _sha256(uploaded) -> str:
    digest = hashlib.sha256()
    uploaded.seek(0)
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def create_submission(
    owner,
    *,
    benchmark,
    metric,
    claimed_value: float,
    model_name: str,
    kind: str,
    checkpoint_file=None,
    config: dict | None = None,
    paper: Paper | None = None,
    paper_fields: dict[str, Any] | None = None,
    transductive: bool = True,
    uses_additional_data: bool = False,
    checkpoint_public: bool = True,
) -> Submission:
    """Store a validated claim with its first run, and queue the run once this commits.

    The caller has validated the input (form or serializer). A benchmark the reference runner
    cannot check gives a run that is ``unverifiable`` with the reason, never queued. A user at
    their limit of submissions per period gets ``limits.SubmissionRateLimit``, at their limit of
    active runs on the run's queue ``limits.ActiveRunLimit``: nothing stored.
    """
    if kind not in Submission.Kind.values:
        raise ValueError(f"unknown kind {kind!r}")
    protocol = protocol_for_benchmark(benchmark)
    paper_fields = paper_fields or {}
    why_not = unverifiable_reason(protocol, kind, metric.name)
    with transaction.atomic():
        # Before anything is stored, under the owner's row lock: raises SubmissionRateLimit or
        # ActiveRunLimit (the transaction rolls back).
        check_submission_limits(owner, kind, verifiable=not why_not)
        submission = Submission(
            owner=owner,
            benchmark=benchmark,
            metric=metric,
            claimed_value=claimed_value,
            model_name=model_name,
            kind=kind,
            transductive=transductive,
            uses_additional_data=uses_additional_data,
            checkpoint_public=checkpoint_public,
            paper=paper,
            paper_title=paper_fields.get("title") or "",
            paper_url=paper_fields.get("url") or "",
            paper_arxiv_id=paper_fields.get("arxiv_id") or "",
            paper_authors=list(paper_fields.get("authors") or []),
            paper_date=paper_fields.get("date"),
            config=config if kind == REPRODUCE else None,
            protocol=protocol.maml_protocol if protocol else "",
        )
        if checkpoint_file is not None:
            submission.checkpoint_sha256 = _sha256(checkpoint_file)
            submission.checkpoint.save(
                f"{submission.checkpoint_sha256[:16]}.safetensors", checkpoint_file, save=False
            )
        submission.save()
        if why_not:
            run = Run.objects.create(
                submission=submission,
                status=Run.Status.UNVERIFIABLE,
                reason=why_not,
                protocol=submission.protocol,
                finished_at=timezone.now(),
            )
            run.add_event("unverifiable", why_not)
        else:
            run = Run.objects.create(
                submission=submission,
                protocol=protocol.maml_protocol,
                queued_at=timezone.now(),
            )
            run.add_event("queued", f"{kind} on queue {protocol.queue_for(kind)}")
            enqueue_on_commit(run)
    return submission


def create_submissions(owner, claims: list[dict]) -> list[Submission]:
    """``create_submission`` for each of ``claims`` (a model-index block's), all or none: a limit
    reached by one of them stores none. The checkpoint, shared, is read again for each."""
    with transaction.atomic():
        created = []
        for kwargs in claims:
            upload = kwargs.get("checkpoint_file")
            if upload is not None:
                upload.seek(0)
            created.append(create_submission(owner, **kwargs))
    return created


# --- Curators' acts (each recorded on the run with its actor) ---------------------------------


def requeue(submission: Submission, actor=None, note: str = "") -> Run | None:
    """A new run for the submission (the old ones stay), unless one is queued or running. Its
    verdict replaces the row an earlier run published (``publish``, ``finish_run``): a re-queue
    never adds a row."""
    protocol = protocol_for_benchmark(submission.benchmark)
    if unverifiable_reason(protocol, submission.kind, submission.metric.name):
        return None
    with transaction.atomic():
        if submission.runs.active().exists():
            return None
        run = Run.objects.create(
            submission=submission, protocol=protocol.maml_protocol, queued_at=timezone.now()
        )
        run.add_event("requeued", note or "re-queued by a curator", actor=actor)
        enqueue_on_commit(run)
    return run


def cancel_by_owner(submission: Submission, user) -> bool:
    """The owner (or staff) cancels the submission's queued or running run, recorded with them
    as actor. False when nothing is active."""
    run = submission.runs.active().order_by("-created_at", "-id").first()
    if run is None:
        return False
    who = "its owner" if submission.owner_id == user.pk else "a curator"
    return cancel(run, actor=user, note=f"Cancelled by {who} ({user.get_username()}).")


def cancel(run: Run, actor=None, note: str = "") -> bool:
    """Cancel a queued or running run: it is never executed, or its worker stops at its next
    progress report and its verdict is discarded."""
    with transaction.atomic():
        changed = Run.objects.filter(
            pk=run.pk, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]
        ).update(
            status=Run.Status.CANCELLED,
            phase="cancelled",
            reason=note or "Cancelled by a curator.",
            finished_at=timezone.now(),
        )
        if changed:
            run.refresh_from_db()
            run.add_event("cancelled", run.reason, actor=actor)
    return bool(changed)


class NothingMeasured(ValueError):
    """An override to verified of a run that measured nothing: the site publishes only numbers
    it measured, so there is no row to publish (re-queue the run instead)."""


def override(run: Run, verdict: str, reason: str, actor) -> bool:
    """A curator's verdict on a run: verified (published, at the value the run measured) or
    rejected (unpublished). Recorded on the run's event log with the curator, and, for a
    published row, on the public ledger with the reason (``Result.verification_note``)."""
    if verdict not in (Run.Status.VERIFIED, Run.Status.REJECTED):
        raise ValueError(f"override verdict must be verified or rejected, not {verdict!r}")
    if not reason.strip():
        raise ValueError("an override needs a reason")
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status == Run.Status.RUNNING:
            return False
        if verdict == Run.Status.VERIFIED and run.reproduced_value is None:
            raise NothingMeasured(
                f"Run #{run.pk} measured nothing ({run.status}): only a measured figure is "
                "published. Re-queue it instead."
            )
        previous = run.status
        run.status = verdict
        run.reason = f"Curator override: {reason}"
        run.finished_at = run.finished_at or timezone.now()
        unpublished = ""
        if verdict == Run.Status.VERIFIED:
            note = f"Published by a curator's override of the verdict ({previous}): {reason}"
            if run.result_id:
                run.result.verification_note = note[:500]
                run.result.save(update_fields=["verification_note"])
                ledger_chain.append(
                    LedgerEntry.Kind.OVERRIDE,
                    run.result,
                    reason=note,
                    actor=actor_name(actor),
                    run=run_evidence(run),
                )
            else:
                publish(run, note=note, actor=actor)
        elif run.result_id:
            unpublished = unpublish(
                run, "a curator's override.", actor=actor, detail=f"Curator override: {reason}"
            )
        run.save()
        RunEvent.objects.create(
            run=run,
            kind="override",
            actor=actor,
            message=f"{previous} → {verdict}: {reason}{unpublished}",
        )
    return True
