"""State-of-the-art tables and the progress of the best value over time, for one benchmark.

Each function runs a fixed number of queries, however many rows the benchmark holds."""

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Coalesce, TruncDate

from .directions import metrics_in, with_direction
from .models import Benchmark, Metric, Result

SOTA_ROWS = 100


def benchmark_metrics(benchmark: Benchmark) -> list[Metric]:
    """The benchmark's declared metrics and any metric it has results for, by name, each with
    its ``direction`` in this benchmark (``leaderboard/directions.py``)."""
    with_results = Result.objects.filter(benchmark=benchmark).values("metric_id")
    declared = Benchmark.metrics.through.objects.filter(benchmark=benchmark).values("metric_id")
    metrics = Metric.objects.filter(Q(pk__in=declared) | Q(pk__in=with_results))
    return list(metrics_in(benchmark, metrics).order_by("name"))


def ranked_rows(benchmark: Benchmark, metric: Metric):
    """Every row of one SotA table, best first, with ``rank`` (ties share a rank)."""
    return (
        Result.objects.filter(benchmark=benchmark, metric=metric)
        .for_listing()
        .with_rank()
        .order_by("rank", "paper__date", "id")
    )


def sota_tables(benchmark: Benchmark, limit: int = SOTA_ROWS) -> list[dict]:
    """One table per metric with its best ``limit`` rows (four queries in all)."""
    metrics = benchmark_metrics(benchmark)
    totals = dict(
        Result.objects.filter(benchmark=benchmark)
        .values_list("metric_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows: dict[int, list] = {m.pk: [] for m in metrics}
    best = (
        with_direction(Result.objects.filter(benchmark=benchmark).for_listing())
        .with_rank()
        .filter(rank__lte=limit)
        .order_by("metric_id", "rank", "paper__date", "id")
    )
    for row in best:
        rows.setdefault(row.metric_id, []).append(row)
    return [
        {
            "metric": m.name,
            "unit": m.unit,
            "higher_is_better": m.direction,
            "total": totals.get(m.pk, 0),
            "rows": rows[m.pk][:limit],
        }
        for m in metrics
    ]


def progress(benchmark: Benchmark, metric: Metric, archive_only: bool = False) -> list[tuple]:
    """(date, best value that day) for every dated day, oldest first (one query); with
    ``archive_only``, of the archive rows (the chart draws verified rows apart). ``metric``
    comes from ``benchmark_metrics`` (annotated with its ``direction`` here)."""
    best = Max("value") if metric.direction else Min("value")
    qs = Result.objects.filter(benchmark=benchmark, metric=metric)
    if archive_only:
        qs = qs.archive()
    return list(
        qs.annotate(day=Coalesce("paper__date", TruncDate("created_at")))
        .values("day")
        .annotate(best=best)
        .order_by("day")
        .values_list("day", "best")
    )


VERIFIED_POINTS = 200


def verified_points(benchmark: Benchmark, metric: Metric, limit: int = VERIFIED_POINTS) -> list:
    """(date, value, its 95% half-width, model name) of the verified rows (their value: the
    reproduced mean), by the paper's date or else the verification's (one query)."""
    return list(
        Result.objects.verified()
        .filter(benchmark=benchmark, metric=metric, value__isnull=False)
        .annotate(day=Coalesce("paper__date", TruncDate("verified_at"), TruncDate("created_at")))
        .order_by("-verified_at", "-id")
        .values_list("day", "value", "ci95", "model__name")[:limit]
    )
