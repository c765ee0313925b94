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
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from leaderboard.models import (
    CatalogueVersion,
    LedgerEntry,
    Model,
    Paper,
    Result,
    unique_slug,
)
from leaderboard.results import ledger_chain
from leaderboard.results.ledger_hash import canonical

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


def _mode(submission: Submission) -> str:
    return (
        Result.EvaluationMode.TRANSDUCTIVE
        if submission.transductive
        else Result.EvaluationMode.NON_TRANSDUCTIVE
    )


def _level(submission: Submission) -> str:
    return (
        Result.VerificationLevel.REPRODUCED
        if submission.kind == REPRODUCE
        else Result.VerificationLevel.EVALUATED
    )


def _checkpoint_key(submission: Submission) -> str:
    """The SHA-256 that makes a row unique (one checkpoint, one row): an evaluated checkpoint's;
    "" for a reproduction (its weights are the site's own, trained afresh)."""
    return submission.checkpoint_sha256 if submission.kind != REPRODUCE else ""


def _measured(run: Run) -> dict[str, Any]:
    """A verified row's figures, all from the run: its number is what the run measured."""
    return {
        "value": run.reproduced_value,
        "ci95": run.ci95,
        "raw_value": "",
        "verified_at": timezone.now(),
        "episode_scores": list(run.episode_scores or []),
        "episodes_fingerprint": run.episodes_fingerprint,
    }


def run_evidence(run: Run) -> dict[str, Any]:
    """What a ledger entry records of the run behind it (``leaderboard/results/ledger_chain.py``):
    its
    id, the submission, and the SHA-256s of what was run (the checkpoint, or the training
    configuration of a reproduction) and of the test episodes."""
    submission = run.submission
    config = submission.config if submission.kind == REPRODUCE else None
    return {
        "id": run.pk,
        "submission": submission.pk,
        "kind": submission.kind,
        "checkpoint_sha256": submission.checkpoint_sha256 or None,
        "config_sha256": (
            hashlib.sha256(canonical(config).encode()).hexdigest() if config is not None else None
        ),
        "episodes_fingerprint": run.episodes_fingerprint or None,
    }


def _actor_name(actor) -> str:
    return actor.get_username() if actor is not None else ""


def publish(run: Run, note: str = "", actor=None) -> Result | None:
    """Publish the row of a verified run, inside the transaction that verifies it.

    The row's number (``value`` ± ``ci95``) is what the run measured; the claim goes beside it
    (``claimed_value``). Three cases, each one transaction with the verdict:

    - the submission already has a row from an earlier run (a curator re-queued it): that row
      is **replaced** in place (same id and evidence address, this run's figures), never added;
    - the same checkpoint (SHA-256) is already published on this benchmark and evaluation mode
      by another submission: nothing is published; the run is linked to that row
      (``same_checkpoint_as``) and its reason says whose it is (returns None);
    - else a new row. Two runs of one checkpoint racing here are serialized by the catalogue's
      lock, and the database's unique index (``unique_verified_checkpoint``) backs it up.

    ``note`` (a curator's override) is shown with the row on the public ledger. Each case that
    changes a row appends its entry to the ledger's chain, in this transaction: a publication
    (an override, when ``note`` says a curator published it) or a correction.
    """
    if run.result_id:
        return run.result
    if run.reproduced_value is None:
        raise ValueError(f"run {run.pk} measured nothing: there is no figure to publish")
    submission = run.submission
    # Two workers publishing claims of the same new paper (or model), or of the same checkpoint,
    # at once must not both create it: publishers take the catalogue's lock before they look.
    CatalogueVersion.lock()
    earlier = (
        Run.objects.select_for_update()
        .filter(submission=submission, result__isnull=False)
        .exclude(pk=run.pk)
        .select_related("result")
        .first()
    )
    if earlier is not None:
        return _replace(earlier, run, note, actor)
    sha = _checkpoint_key(submission)
    if sha:
        same = Result.objects.verified().filter(
            benchmark=submission.benchmark, evaluation_mode=_mode(submission), checkpoint_sha256=sha
        )
        existing = same.first()
        if existing is not None:
            _link_to(existing, run)
            return None
    paper = _paper_for(submission)
    if paper is not None and submission.paper_id != paper.pk:
        submission.paper = paper
        submission.save(update_fields=["paper"])
    model, _ = Model.objects.get_or_create(
        name=submission.model_name, defaults={"slug": unique_slug(Model, submission.model_name)}
    )
    try:
        with transaction.atomic():  # a savepoint: the unique index's refusal is not fatal
            result = Result.objects.create(
                benchmark=submission.benchmark,
                metric=submission.metric,
                claimed_value=submission.claimed_value,
                model=model,
                paper=paper,
                uses_additional_data=submission.uses_additional_data,
                source=Result.Source.VERIFIED,
                evaluation_mode=_mode(submission),
                checkpoint_sha256=sha,
                verification_level=_level(submission),
                verification_note=note[:500],
                **_measured(run),
            )
    except IntegrityError:
        existing = same.first() if sha else None
        if existing is None:
            raise
        _link_to(existing, run)
        return None
    result.verification_url = evidence_url(result)
    result.save(update_fields=["verification_url"])
    ledger_chain.append(
        LedgerEntry.Kind.OVERRIDE if note else LedgerEntry.Kind.PUBLICATION,
        result,
        reason=note or run.reason,
        actor=_actor_name(actor),
        run=run_evidence(run),
    )
    run.result = result
    return result


def _figure(value, ci95) -> str:
    if value is None:
        return "?"
    return f"{value:.4g}" + ("" if ci95 is None else f" ± {ci95:.4g}")


def _replace(earlier: Run, run: Run, note: str, actor=None) -> Result:
    """``run``'s figures replace the row ``earlier`` (a run of the same submission) published."""
    result = earlier.result
    was = _figure(result.value, result.ci95)
    for name, value in _measured(run).items():
        setattr(result, name, value)
    result.claimed_value = run.submission.claimed_value
    result.verification_level = _level(run.submission)
    result.verification_note = note[:500]
    result.save()
    earlier.result = None
    earlier.save(update_fields=["result"])
    message = (
        f"Result #{result.pk} now shows run #{run.pk}'s figure "
        f"({_figure(run.reproduced_value, run.ci95)}; was {was}): a re-run replaces, never adds."
    )
    ledger_chain.append(
        LedgerEntry.Kind.OVERRIDE if note else LedgerEntry.Kind.CORRECTION,
        result,
        reason=f"{message} {note}".strip(),
        actor=_actor_name(actor),
        run=run_evidence(run),
    )
    earlier.add_event("superseded", message)
    run.add_event("replaced", message)
    run.result = result
    return result


def _link_to(existing: Result, run: Run) -> None:
    """Publish nothing for ``run``: its checkpoint already has ``existing``; say whose."""
    first = Run.objects.filter(result=existing).select_related("submission").first()
    submission = run.submission
    whose = "a submission of another user, who keeps the row"
    if first is not None and first.submission.owner_id == submission.owner_id:
        whose = f"your own submission #{first.submission_id}"
    claimed = f" (claimed {existing.claimed_value:g})" if existing.claimed_value is not None else ""
    run.same_checkpoint_as = existing
    run.reason = (
        f"{run.reason} Not published again: this checkpoint (SHA-256 "
        f"{submission.checkpoint_sha256[:12]}…) is already verified on {submission.benchmark.name} "
        f"({existing.evaluation_mode or 'mode not recorded'}) as result #{existing.pk}{claimed}, "
        f"from {whose}. One checkpoint is one row; its evidence: {existing.verification_url}"
    ).strip()


def unpublish(run: Run, why: str, actor=None, detail: str = "") -> str:
    """Remove the row ``run`` published (the run keeps its figures and evidence), appending its
    withdrawal to the ledger (with the figures it had); returns a sentence for the event log."""
    if not run.result_id:
        return ""
    result = run.result
    ledger_chain.append(
        LedgerEntry.Kind.WITHDRAWAL,
        result,
        reason=f"{why} {detail}".strip(),
        actor=_actor_name(actor),
        run=run_evidence(run),
    )
    shown = "?" if result.value is None else f"{result.value:g}"
    for linked in Run.objects.filter(same_checkpoint_as=result):
        linked.same_checkpoint_as = None
        linked.save(update_fields=["same_checkpoint_as"])
        linked.add_event("unlinked", f"Result #{result.pk} of the same checkpoint was unpublished.")
    run.result = None
    run.save(update_fields=["result"])
    result.delete()
    return f" Unpublished result #{result.pk} ({shown}): {why}"


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
            withdrawn = _withdraw_earlier(run)
        run.save()
        run.add_event(decision.verdict, decision.reason + withdrawn)
    return True


def _withdraw_earlier(run: Run) -> str:
    """A re-run that does not support the claim replaces the earlier verdict: the row an
    earlier run of the submission published is withdrawn, in the same transaction."""
    earlier = (
        Run.objects.select_for_update()
        .filter(submission_id=run.submission_id, result__isnull=False)
        .exclude(pk=run.pk)
        .first()
    )
    if earlier is None:
        return ""
    message = unpublish(earlier, f"re-run #{run.pk} does not support the claim.")
    earlier.add_event("superseded", message.strip())
    return message


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
                    actor=_actor_name(actor),
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
