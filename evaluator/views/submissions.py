"""The submission pages: the form, the user's list, one submission with its live status."""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from evaluator.forms import SubmissionForm
from evaluator.limits import (
    ActiveRunLimit,
    SubmissionRateLimit,
    attempt_wait,
    rate_message,
    submission_wait,
)
from evaluator.models import Run
from evaluator.permissions import own_submissions, visible_submissions
from evaluator.services import cancel_by_owner, create_submissions
from evaluator.training_chart import training_summary
from evaluator.validation import (
    UploadTooLarge,
    declared_body_too_large,
    human_size,
    install_upload_bound,
    max_checkpoint_bytes,
)
from leaderboard.core.query import QueryError, parse_int

PAGE_SIZE = 20


@csrf_exempt  # the bounded upload handler must go in before the CSRF check reads the body
@login_required
def submit(request):
    if request.method == "POST":
        if declared_body_too_large(request):
            # Refused unread: the form comes back empty with the reason.
            error = UploadTooLarge(max_checkpoint_bytes()).messages[0]
            context = {"form": SubmissionForm(), "upload_error": error}
            return render(request, "evaluator/submit.html", context, status=413)
        install_upload_bound(request)
    return _submit(request)


def _refused(request, message: str, status: int, retry_after: int | None = None):
    context = {"form": SubmissionForm(), "upload_error": message}
    response = render(request, "evaluator/submit.html", context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@csrf_protect
def _submit(request):
    if request.method == "POST":
        # The limits of evaluator/limits.py, as the API applies them: every attempt, then the
        # submissions stored in the window (again, locked, when one is stored).
        wait = attempt_wait(request)
        if wait is not None:
            message = (
                f"You have sent too many submission attempts (the limit is "
                f"{settings.SUBMISSION_ATTEMPT_RATE}): try again in about "
                f"{max(1, round(wait / 60))} minute(s)."
            )
            return _refused(request, message, 429, wait)
        wait = submission_wait(request.user)
        if wait is not None:
            return _refused(request, rate_message(wait), 429, wait)
        try:
            form = SubmissionForm(
                request.POST, request.FILES, upload_too_large=request.upload_too_large
            )
        except RequestDataTooBig:
            # A form field (not a file) over DATA_UPLOAD_MAX_MEMORY_SIZE, e.g. a pasted config.
            limit = human_size(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            return _refused(request, f"The form's text fields are limited to {limit}.", 413)
        if form.is_valid():
            try:
                created = create_submissions(request.user, form.create_kwargs_list())
            except SubmissionRateLimit as exc:
                return _refused(request, str(exc), 429, exc.wait)
            except ActiveRunLimit as exc:
                form.add_error(None, str(exc))
                return render(request, "evaluator/submit.html", {"form": form}, status=429)
            if len(created) > 1:  # a model-index block: one submission per claim
                numbers = ", ".join(f"#{s.pk}" for s in created)
                messages.success(request, f"{len(created)} submissions received: {numbers}.")
                return redirect("evaluator:submissions")
            messages.success(request, f"Submission #{created[0].pk} received.")
            return redirect(created[0])
        status = 413 if request.upload_too_large else 400
        return render(request, "evaluator/submit.html", {"form": form}, status=status)
    initial = {}
    for name in ("benchmark", "metric", "paper"):
        try:
            initial[name] = parse_int(request.GET.get(name, ""), minimum=1)
        except QueryError:  # absent or not an id: the menu starts unselected
            pass
    return render(request, "evaluator/submit.html", {"form": SubmissionForm(initial=initial)})


@login_required
def submission_list(request):
    qs = own_submissions(request.user).prefetch_related("runs")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "evaluator/submission_list.html", {"page": page})


def _get_submission(request, pk):
    return get_object_or_404(visible_submissions(request.user).prefetch_related("runs"), pk=pk)


def _run_of(submission) -> Run | None:
    runs = list(submission.runs.all())
    return runs[0] if runs else None


def _live(submission, run: Run | None) -> dict:
    """The parts of the page that change as a run goes: its training (figures and curve) and,
    while queued, its place in its queue."""
    if run is None:
        return {"training": None, "queue_position": None}
    return {
        "training": training_summary(run.training, submission.metric.name.lower()),
        "queue_position": Run.objects.queue_position(run),
    }


@login_required
def submission_detail(request, pk):
    submission = _get_submission(request, pk)
    run = _run_of(submission)
    config_json = json.dumps(submission.config, indent=2) if submission.config else ""
    context = {
        "submission": submission,
        "run": run,
        "runs": submission.runs.all(),
        "config_json": config_json,
        **_live(submission, run),
    }
    return render(request, "evaluator/submission_detail.html", context)


@never_cache
@login_required
def submission_status(request, pk):
    """The live part of the submission page, polled by its script while the run is active."""
    submission = _get_submission(request, pk)
    run = _run_of(submission)
    if run is None:
        return JsonResponse({"status": None, "is_final": False})
    data = {
        "status": run.status,
        "status_display": run.get_status_display(),
        "is_final": run.is_final,
        "phase": run.phase,
        "progress_done": run.progress_done,
        "progress_total": run.progress_total,
        "progress_percent": run.progress_percent,
        "log_tail": run.log_tail,
    }
    live = _live(submission, run)
    data["queue_position"] = live["queue_position"]
    # Rendered by the template engine (escaped numbers and fixed text), swapped in as it is.
    data["training_html"] = render_to_string(
        "evaluator/_training.html", {"training": live["training"]}, request=request
    )
    if run.is_final:
        # Rendered by the template engine (escaped), inserted as it is by the page's script.
        data["outcome_html"] = render_to_string(
            "evaluator/_outcome.html", {"submission": submission, "run": run}, request=request
        )
    return JsonResponse(data)


@login_required
@require_POST
def cancel(request, pk):
    """The owner (or staff) cancels a queued or running submission; anyone else gets 404."""
    submission = _get_submission(request, pk)
    if cancel_by_owner(submission, request.user):
        messages.success(request, f"Submission #{submission.pk} is cancelled.")
    else:
        messages.info(request, "Nothing to cancel: the run has already ended.")
    return redirect(submission)
