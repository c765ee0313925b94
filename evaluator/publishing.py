"""A verified run's row: published, replaced by a re-run, linked to the same checkpoint's row, or
withdrawn; always inside the transaction that writes the run's verdict (``runs.finish_run``,
``services.override``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from leaderboard.models import CatalogueVersion, LedgerEntry, MLModel, Paper, Result, unique_slug
from leaderboard.results import ledger_chain
from leaderboard.results.ledger_hash import canonical

from .models import Run, Submission
from .protocols import REPRODUCE


def evidence_url(result: Result) -> str:
    """The public evidence page of a published result."""
    return reverse("evaluator:evidence", args=[result.pk])


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
    its id, the submission, and the SHA-256s of what was run (the checkpoint, or the training
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


def actor_name(actor) -> str:
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

    ``note`` (a curator's override) is shown with the row on the public ledger.
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
    model, _ = MLModel.objects.get_or_create(
        name=submission.model_name, defaults={"slug": unique_slug(MLModel, submission.model_name)}
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
        actor=actor_name(actor),
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
        actor=actor_name(actor),
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
        actor=actor_name(actor),
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


def withdraw_earlier(run: Run) -> str:
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
