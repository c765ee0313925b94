"""The public evidence of a verified result: no log-in, one page and its downloads.

Only a published (verified) result has evidence; rejected, failed and cancelled runs stay on
their submission's page, which only the owner and staff can open. Each view runs a fixed number
of queries, whatever the number of results.
"""

import csv
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from evaluator.models import Run
from evaluator.protocols import REPRODUCE
from leaderboard.models import Result
from leaderboard.results import charts
from leaderboard.views import badges


def _verified_run(pk: int) -> Run:
    return get_object_or_404(
        Run.objects.select_related(
            "result__benchmark__dataset",
            "result__metric",
            "result__model",
            "result__paper",
            "submission__owner",
        ).defer("result__paper__abstract", "result__benchmark__description"),
        result_id=pk,
        result__source=Result.Source.VERIFIED,
        status=Run.Status.VERIFIED,
    )


def checkpoint_path(run: Run) -> Path | None:
    """The file a reader may download: the submitted checkpoint, or the reproduction's weights;
    None when the submitter kept it private or there is none."""
    submission = run.submission
    if not submission.checkpoint_public:
        return None
    if submission.kind == REPRODUCE:
        path = Path(settings.MEDIA_ROOT) / "reproduced" / f"run-{run.pk}.safetensors"
    elif submission.checkpoint:
        path = Path(submission.checkpoint.path)
    else:
        return None
    return path if path.is_file() else None


def evidence(request, pk: int):
    run = _verified_run(pk)
    result, submission = run.result, run.submission
    scores = [s for s in run.episode_scores or [] if s is not None]
    accuracy = (run.parameters or {}).get("metric", "accuracy") == "accuracy"
    context = {
        "run": run,
        "result": result,
        "submission": submission,
        "events": list(run.events.all()),
        "parameters": run.parameters or {},
        "histogram": charts.histogram(
            scores, lo=0 if accuracy else None, hi=100 if accuracy else None
        ),
        "checkpoint_available": checkpoint_path(run) is not None,
        "same_checkpoint": list(
            result.same_checkpoint_runs.select_related("submission__owner").order_by("id")[:50]
        ),
        "reproduced": submission.kind == REPRODUCE,
        "episodes": len(scores),
        "badge": badges.snippets(request, result),
    }
    return render(request, "evaluator/evidence.html", context)


def scores_csv(request, pk: int):
    run = _verified_run(pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="result-{pk}-episode-scores.csv"'
    writer = csv.writer(response)
    writer.writerow(["episode", "score"])
    for i, score in enumerate(run.episode_scores or []):
        writer.writerow([i, "" if score is None else repr(float(score))])
    return response


def scores_json(request, pk: int):
    run = _verified_run(pk)
    body = {
        "result": pk,
        "protocol": run.protocol,
        "evaluation_mode": run.evaluation_mode,
        "episodes_fingerprint": run.episodes_fingerprint,
        "mean": run.reproduced_value,
        "ci95": run.ci95,
        "scores": run.episode_scores or [],
    }
    response = JsonResponse(body)
    response["Content-Disposition"] = f'attachment; filename="result-{pk}-episode-scores.json"'
    return response


def checkpoint(request, pk: int):
    run = _verified_run(pk)
    path = checkpoint_path(run)
    if path is None:
        raise Http404("This checkpoint is not public.")
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"result-{pk}.safetensors",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
