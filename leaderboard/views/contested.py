"""The contested claims' pages: every contested group (newest first, filterable by task,
paginated) and one group with every paper's figure and the verified rows beside them."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from leaderboard.directions import metrics_in
from leaderboard.models import Benchmark, Metric, Task
from leaderboard.results import contested

PER_PAGE = 25


def contested_list(request):
    every = contested.all_contested()
    groups = every
    task = None
    wanted = request.GET.get("task", "")
    if wanted and "\x00" not in wanted:
        task = Task.objects.filter(slug=wanted[:200]).first()
        if task is None:
            raise Http404("No such task.")
        groups = [g for g in groups if task.pk in g.task_ids]
    tasks = Task.objects.filter(pk__in={t for g in every for t in g.task_ids})
    page = Paginator(groups, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "leaderboard/contested_list.html",
        {"page": page, "task": task, "tasks": tasks.order_by("name")[:500]},
    )


def contested_group(request, benchmark, metric, model):
    benchmark = get_object_or_404(Benchmark.objects.select_related("dataset"), slug=benchmark)
    metric = get_object_or_404(metrics_in(benchmark, Metric.objects.all()), slug=metric)
    group = contested.group_of(benchmark, metric, contested.slug_key(model))
    if group is None:
        raise Http404("No group of claims for this model on this benchmark and metric.")
    verified = [(v, group.side_text(v) if group.contested else "") for v in group.verified]
    return render(
        request,
        "leaderboard/contested_group.html",
        {
            "benchmark": benchmark,
            "metric": metric,
            "group": group,
            "verified": verified,
            "tolerance_note": f"{max(group.spread, 0):g}",
        },
    )
