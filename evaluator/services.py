"""The verification workflow across apps: submit, dispatch, finish, publish, and curators' acts.

Every state change is one transaction. A task is dispatched only once the transaction that
created or re-queued its run has committed (``transaction.on_commit``), with the run's primary
key as its only argument, so a worker never looks for a row it cannot see yet.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from leaderboard.models import CatalogueVersion, Model, Paper, Result, unique_slug

from .decision import Decision
from .limits import check_submission_limits
from .models import Run, RunEvent, Submission
from .protocols import REPRODUCE, protocol_for_benchmark, unverifiable_reason

log = logging.getLogger(__name__)

#: The phase of a queued run whose message could not be sent: the reaper sends it again.
NOT_SENT = "not sent: broker unreachable"


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
    return protocol.queue_for(kind) + getattr(settings, "EVALUATOR_QUEUE_SUFFIX", "")


def dispatch(run_pk: int, queue: str, soft: int, hard: int) -> bool:
    """Publish the task message. A broker error is logged, not raised: the run stays queued
    (its row is committed) and the reaper sends it again later."""
    from .tasks import verify_run

    try:
        verify_run.apply_async(
            args=[run_pk], queue=queue, routing_key=queue, soft_time_limit=soft, time_limit=hard
        )
    except Exception:
        log.exception("could not queue run %s; the reaper will send it again", run_pk)
        Run.objects.filter(pk=run_pk, status=Run.Status.QUEUED).update(phase=NOT_SENT)
        return False
    return True


# --- Finishing and publishing -----------------------------------------------------------------


def evidence_url(result: Result) -> str:
    """The public evidence page of a published result."""
    return reverse("evaluator:evidence", args=[result.pk])


def submission_url(submission: Submission) -> str:
    try:
        return reverse("evaluator:submission", args=[submission.pk])
    except NoReverseMatch:
        return f"/submissions/{submission.pk}/"


def _paper_for(submission: Submission) -> Paper | None:
    """The submission's paper: the one it named, one already in the catalogue (same arXiv id,
    URL or title), or a new one. Call under ``CatalogueVersion.lock()``."""
    if submission.paper_id:
        return submission.paper
    if not submission.paper_title:
        return None
    same = Q(title__iexact=submission.paper_title)
    if submission.paper_arxiv_id:
        same |= Q(arxiv_id=submission.paper_arxiv_id)
    if submission.paper_url:
        same |= Q(url=submission.paper_url)
    existing = Paper.objects.filter(same).order_by("id").first()
    if existing:
        return existing
    return Paper.objects.create(
        title=submission.paper_title,
        slug=unique_slug(Paper, submission.paper_title),
        authors=submission.paper_authors or [],
        date=submission.paper_date,
        arxiv_id=submission.paper_arxiv_id,
        url=submission.paper_url,
    )


def publish(run: Run) -> Result:
    """Create the published row of a verified run. Call inside the transaction that verifies."""
    if run.result_id:
        return run.result
    submission = run.submission
    # Two workers publishing claims of the same new paper (or model) at once must not both
    # create it: publishers take the catalogue's lock before they look.
    CatalogueVersion.lock()
    paper = _paper_for(submission)
    if paper is not None and submission.paper_id != paper.pk:
        submission.paper = paper
        submission.save(update_fields=["paper"])
    model, _ = Model.objects.get_or_create(
        name=submission.model_name, defaults={"slug": unique_slug(Model, submission.model_name)}
    )
    mode = (
        Result.EvaluationMode.TRANSDUCTIVE
        if submission.transductive
        else Result.EvaluationMode.NON_TRANSDUCTIVE
    )
    result = Result.objects.create(
        benchmark=submission.benchmark,
        metric=submission.metric,
        value=submission.claimed_value,
        raw_value=f"{submission.claimed_value:g}",
        model=model,
        paper=paper,
        uses_additional_data=submission.uses_additional_data,
        source=Result.Source.VERIFIED,
        evaluation_mode=mode,
        reproduced_value=run.reproduced_value,
        reproduced_ci95=run.ci95,
        verified_at=timezone.now(),
        verification_level=(
            Result.VerificationLevel.REPRODUCED
            if submission.kind == REPRODUCE
            else Result.VerificationLevel.EVALUATED
        ),
        episode_scores=list(run.episode_scores or []),
        episodes_fingerprint=run.episodes_fingerprint,
    )
    result.verification_url = evidence_url(result)
    result.save(update_fields=["verification_url"])
    run.result = result
    return result


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
        if decision.verified:
            publish(run)
        run.save()
        run.add_event(decision.verdict, decision.reason)
    return True


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


# --- Curators' acts (each recorded on the run with its actor) ---------------------------------


def requeue(submission: Submission, actor=None, note: str = "") -> Run | None:
    """A new run for the submission (the old ones stay), unless one is queued or running."""
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


def override(run: Run, verdict: str, reason: str, actor) -> bool:
    """A curator's verdict on a run: verified (published) or rejected (unpublished)."""
    if verdict not in (Run.Status.VERIFIED, Run.Status.REJECTED):
        raise ValueError(f"override verdict must be verified or rejected, not {verdict!r}")
    if not reason.strip():
        raise ValueError("an override needs a reason")
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status == Run.Status.RUNNING:
            return False
        previous = run.status
        run.status = verdict
        run.reason = f"Curator override: {reason}"
        run.finished_at = run.finished_at or timezone.now()
        unpublished = ""
        if verdict == Run.Status.VERIFIED:
            publish(run)
        elif run.result_id:
            result = run.result
            unpublished = f" Unpublished result #{result.pk} ({result.value:g})."
            run.result = None
            run.save(update_fields=["result"])
            result.delete()
        run.save()
        RunEvent.objects.create(
            run=run,
            kind="override",
            actor=actor,
            message=f"{previous} → {verdict}: {reason}{unpublished}",
        )
    return True
