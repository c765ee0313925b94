"""The current best of many benchmarks at once, the number of results of each, and a paper's
related papers: each a fixed number of queries, whatever the number of rows."""

from django.db import connection
from django.db.models import Count

from leaderboard.models import Paper, Result


def attach_bests(benchmarks) -> None:
    """Set ``best`` (the best result of the benchmark's first metric by name, ranked by each
    row's value and the metric's direction in the benchmark; None without results) and
    ``result_count`` on each benchmark given: two queries."""
    benchmarks = list(benchmarks)
    ids = [b.pk for b in benchmarks]
    if not ids:
        return
    counts = dict(
        Result.objects.filter(benchmark_id__in=ids)
        .values_list("benchmark_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    best: dict[int, Result] = {}
    rows = (
        Result.objects.filter(benchmark_id__in=ids)
        .select_related("metric", "model", "paper")
        .only(
            "benchmark_id",
            "value",
            "raw_value",
            "source",
            "ci95",
            "claimed_value",
            "verification_url",
            "verification_level",
            "evaluation_mode",
            "metric__name",
            "metric__unit",
            "model__name",
            "paper__slug",
            "paper__title",
        )
        .with_rank()
        .filter(rank=1)
        .order_by("benchmark_id", "metric__name", "paper__date", "id")
    )
    for row in rows:
        best.setdefault(row.benchmark_id, row)
    for b in benchmarks:
        b.best = best.get(b.pk)
        b.result_count = counts.get(b.pk, 0)


RELATED = 8


def related_papers(paper: Paper, limit: int = RELATED) -> list[Paper]:
    """The papers sharing the most tasks and methods with ``paper``, most shared first (ties:
    newest first); two queries."""
    task_through = Paper.tasks.through._meta
    parts = [
        f"SELECT paper_id FROM {task_through.db_table} WHERE task_id IN "
        f"(SELECT task_id FROM {task_through.db_table} WHERE paper_id = %s)"
    ]
    params = [paper.pk]
    method_through = Paper.methods.through._meta
    parts.append(
        f"SELECT paper_id FROM {method_through.db_table} WHERE method_id IN "
        f"(SELECT method_id FROM {method_through.db_table} WHERE paper_id = %s)"
    )
    params.append(paper.pk)
    sql = (
        "SELECT s.paper_id, COUNT(*) AS shared FROM ("
        + " UNION ALL ".join(parts)
        + ") s WHERE s.paper_id <> %s GROUP BY s.paper_id ORDER BY shared DESC, s.paper_id DESC "
        "LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, paper.pk, limit * 3])
        shared = dict(cursor.fetchall())
    if not shared:
        return []
    found = list(Paper.objects.filter(pk__in=shared).defer("abstract"))
    for p in found:
        p.shared = shared[p.pk]
    found.sort(key=lambda p: (-p.shared, -(p.date.toordinal() if p.date else 0), p.pk))
    return found[:limit]
