"""Server-rendered pages. Each page runs a fixed number of queries; every growing list is
paginated (Paginator.get_page: a bad page number shows the first or last page, never a 500)."""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render

from leaderboard.core.cache import versioned
from leaderboard.core.paginators import CachedCountPaginator
from leaderboard.db import counters
from leaderboard.db import paper_days as paper_pages
from leaderboard.models import Benchmark, CodeLink, Dataset, Paper, Result, Task
from leaderboard.results import charts, contested, counterparts, ranking
from leaderboard.results.bests import attach_bests, related_papers
from leaderboard.results.sota import (
    benchmark_metrics,
    direction_note,
    primary_metric,
    progress,
    ranked_rows,
    row_cells,
    row_code_links,
    verified_points,
)

PER_PAGE = 25
SOTA_PER_PAGE = 50


def paginate(request, queryset, per_page: int = PER_PAGE, param: str = "page", whole_table=None):
    """A page of ``queryset``; its total comes from the read cache (one count per catalogue
    version, not one per request), or is the maintained row count of ``whole_table``, the
    model whose whole table the caller says ``queryset`` is (``core/paginators.py``)."""
    paginator = CachedCountPaginator(queryset, per_page, whole_table=whole_table)
    return paginator.get_page(request.GET.get(param))


def _benchmarks():
    return Benchmark.objects.select_related("dataset").annotate(
        result_count=Count("results", distinct=True)
    )


def _home_lists() -> dict:
    # Benchmarks with verified results first, then the busiest: one aggregate over the results
    # table (no join; COUNT(*): an index-only scan of result_benchmark_source_idx), then the
    # eight benchmarks themselves.
    top = list(
        Result.objects.values("benchmark_id")
        .annotate(n=Count("*"), verified=Count("source", filter=Q(source="verified")))
        .order_by("-verified", "-n", "benchmark_id")[:8]
    )
    found = Benchmark.objects.select_related("dataset").in_bulk([t["benchmark_id"] for t in top])
    notable = []
    for t in top:
        b = found[t["benchmark_id"]]
        b.result_count, b.verified_count = t["n"], t["verified"]
        notable.append(b)
    recent = Result.objects.verified().for_listing().order_by("-verified_at", "-id")[:10]
    return {"notable": notable, "recent": list(recent)}


def home_stats() -> dict:
    """The home page's figures: the row counts of ``db/counters`` (one query: maintained on
    PostgreSQL, counted once per catalogue version on SQLite), counted here only where the
    database has none."""
    kept = counters.totals()

    def total(name, queryset):
        return kept[name] if name in kept else queryset.count()

    return {
        "papers": total(Paper._meta.db_table, Paper.objects),
        "benchmarks": total(Benchmark._meta.db_table, Benchmark.objects),
        "results": total(Result._meta.db_table, Result.objects),
        "verified": total(counters.VERIFIED, Result.objects.verified()),
    }


def home(request):
    """The figures are maintained counts; the notable benchmarks (an aggregate over every
    result) and the recent verified rows are computed once per catalogue version."""
    context = {**versioned("home-lists", _home_lists), "stats": home_stats()}
    return render(request, "leaderboard/home.html", context)


def task_list(request):
    tasks = Task.objects.annotate(benchmark_count=Count("benchmarks", distinct=True)).order_by(
        "name"
    )
    page = paginate(request, tasks, whole_table=Task)  # every task once: per-row counts only
    return render(request, "leaderboard/task_list.html", {"page": page})


def task_detail(request, slug):
    task = get_object_or_404(Task.objects.select_related("parent"), slug=slug)
    benchmarks = Benchmark.objects.select_related("dataset").filter(tasks=task).order_by("name")
    page = paginate(request, benchmarks)
    attach_bests(page.object_list)
    return render(
        request,
        "leaderboard/task_detail.html",
        {
            "task": task,
            "subtasks": task.subtasks.all()[:50],
            "page": page,
        },
    )


def dataset_list(request):
    datasets = Dataset.objects.annotate(
        benchmark_count=Count("benchmarks", distinct=True)
    ).order_by("name")
    page = paginate(request, datasets, whole_table=Dataset)  # every dataset once
    return render(request, "leaderboard/dataset_list.html", {"page": page})


def dataset_detail(request, slug):
    dataset = get_object_or_404(Dataset, slug=slug)
    benchmarks = Benchmark.objects.select_related("dataset").filter(dataset=dataset)
    page = paginate(request, benchmarks.order_by("name"))
    attach_bests(page.object_list)
    served = Task.objects.filter(benchmarks__dataset=dataset)
    served = Task.objects.filter(Q(pk__in=served.values("pk")) | Q(datasets=dataset))
    return render(
        request,
        "leaderboard/dataset_detail.html",
        {
            "dataset": dataset,
            "page": page,
            "tasks": served.distinct().order_by("name")[:100],
        },
    )


def benchmark_detail(request, slug):
    benchmark = get_object_or_404(Benchmark.objects.select_related("dataset"), slug=slug)
    metrics = benchmark_metrics(benchmark)
    wanted = request.GET.get("metric")
    metric = next((m for m in metrics if m.slug == wanted), None) or primary_metric(metrics)
    page = chart = None
    columns = []
    if metric is not None:
        # One line per row, a column per metric: the one it is ranked by first.
        columns = [metric, *(m for m in metrics if m != metric)]
        rows = ranked_rows(benchmark, metric, single=len(metrics) == 1)
        page = paginate(request, rows, SOTA_PER_PAGE)
        start = page.start_index()
        previous = rows[start - 2] if start > 1 else None  # the last row of the page before
        page.object_list = list(page.object_list)
        ranking.annotate_ranks(page.object_list, previous)
        counterparts.link(page.object_list)
        contested.mark(page.object_list)
        row_code_links(page.object_list)
        row_cells(page.object_list, columns)
        chart = charts.progress_chart(
            progress(benchmark, metric, archive_only=True),
            metric.direction,
            verified=verified_points(benchmark, metric),
            percent=metric.unit.strip() == "%" or "accuracy" in metric.name.lower(),
        )
    return render(
        request,
        "leaderboard/benchmark_detail.html",
        {
            "benchmark": benchmark,
            "tasks": benchmark.tasks.all(),
            "metrics": metrics,
            "metric": metric,
            "columns": columns,
            "page": page,
            "chart": chart,
            "direction_note": direction_note(benchmark, metric) if metric else "",
        },
    )


def paper_list(request):
    papers = Paper.objects.defer("abstract").order_by(*paper_pages.NEWEST)
    page = paper_pages.PaperListPaginator(papers, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "leaderboard/paper_list.html", {"page": page})


def paper_detail(request, slug):
    paper = get_object_or_404(Paper, slug=slug)
    results = paper.results.for_listing().prefetch_related("benchmark__tasks").best_first()
    page = paginate(request, results, 100)
    page.object_list = list(page.object_list)
    contested.mark(page.object_list)
    methods = list(paper.methods.order_by("name")[:200])
    return render(
        request,
        "leaderboard/paper_detail.html",
        {
            "paper": paper,
            "tasks": paper.tasks.all(),
            "code_links": CodeLink.objects.filter(paper=paper).order_by("-official", "url"),
            "methods": methods,
            "related": versioned(f"related:{paper.pk}", lambda: related_papers(paper)),
            "page": page,
        },
    )
