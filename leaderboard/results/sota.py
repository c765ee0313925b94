"""State-of-the-art tables and the progress of the best value over time, for one benchmark.

Each function runs a fixed number of queries, however many rows the benchmark holds."""

from functools import cached_property

from django.db.models import Count, IntegerField, Max, Min, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from leaderboard.core.cache import versioned
from leaderboard.directions import metrics_in, with_direction
from leaderboard.models import Benchmark, BenchmarkMetric, CodeLink, DirectionSource, Metric, Result
from leaderboard.results.rows import group_rows, without_metric

SOTA_ROWS = 100


def benchmark_metrics(benchmark: Benchmark) -> list[Metric]:
    """The benchmark's declared metrics and any metric it has results for, by name, each with
    its ``direction`` in this benchmark (``leaderboard/directions.py``) and ``declared`` (the
    order the benchmark declared it in: an archive table's own order of its metrics; None for
    a metric only its results name)."""
    with_results = Result.objects.filter(benchmark=benchmark).values("metric_id")
    links = BenchmarkMetric.objects.filter(benchmark=benchmark)
    metrics = Metric.objects.filter(Q(pk__in=links.values("metric_id")) | Q(pk__in=with_results))
    declared = links.filter(metric=OuterRef("pk")).values("pk")[:1]
    return list(
        metrics_in(benchmark, metrics).annotate(declared=Subquery(declared)).order_by("name")
    )


def primary_metric(metrics: list[Metric]) -> Metric | None:
    """The metric a benchmark's rows are ranked by unless a reader picks another: the first it
    declares (an archive table's first metric, as PWC ranked it), else the first by name."""
    if not metrics:
        return None
    return min(metrics, key=lambda m: (m.declared is None, m.declared or 0, m.name))


def ranked_rows(benchmark: Benchmark, metric: Metric, single: bool = False) -> "RankedRows":
    """Every row of the benchmark once (an archive row with all its metrics is one row,
    ``leaderboard/results/rows.py``), best first by ``metric`` in its direction in this benchmark
    (``directions.py``), with ``rank`` (ties share a rank): each row with a value of ``metric``
    stands as that result; the rows without one follow, each as its first result, unranked
    (``rank`` None). ``single``: the benchmark has no other metric, so no such row."""
    ranked = (
        Result.objects.filter(benchmark=benchmark, metric=metric)
        .for_listing()
        .with_rank()
        .order_by("rank", "paper__date", "id")
    )
    rest = None if single else without_metric(benchmark, metric)
    return RankedRows(benchmark, metric, ranked, rest)


class RankedRows:
    """The ranked rows, then the others, read as one list by a paginator: ``count()`` (both
    parts' counts by one query, kept in the read cache under the catalogue version as
    ``CachedCountPaginator`` keeps a list's) and slices (a page: one query, two where it
    straddles the parts)."""

    ordered = True

    def __init__(self, benchmark, metric, ranked, rest: Q | None):
        self.benchmark, self.metric, self.ranked, self.rest_filter = benchmark, metric, ranked, rest
        rest_qs = Result.objects.none() if rest is None else Result.objects.filter(rest)
        self.rest = (
            rest_qs.filter(benchmark=benchmark)
            .for_listing()
            .annotate(rank=Value(None, output_field=IntegerField()))
            .order_by("paper__date", "id")
        )

    @cached_property
    def _counts(self) -> tuple[int, int]:
        def compute():
            counts = {"ranked": Count("pk", filter=Q(metric=self.metric))}
            if self.rest_filter is not None:
                counts["rest"] = Count("pk", filter=self.rest_filter)
            found = Result.objects.filter(benchmark=self.benchmark).aggregate(**counts)
            return found["ranked"], found.get("rest", 0)

        single = self.rest_filter is None
        return tuple(versioned(f"rows:{self.benchmark.pk}:{self.metric.pk}:{single}", compute))

    def count(self) -> int:
        return sum(self._counts)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if not isinstance(index, slice):
            found = self[index : index + 1]
            if not found:
                raise IndexError(index)
            return found[0]
        start, stop = index.start or 0, self.count() if index.stop is None else index.stop
        n = self._counts[0]
        out = list(self.ranked[start : min(stop, n)]) if start < n else []
        if stop > n:
            out += list(self.rest[max(start - n, 0) : stop - n])
        return out


NONE = mark_safe('<span class="muted">—</span>')


def row_cells(rows, columns: list[Metric]) -> None:
    """Set ``other_cells`` on each row of a page (from ``ranked_rows``): the cells of the
    columns after the ranked one (``columns[0]``), the row's value of each metric as the table
    shows it (``leaderboard_tags.result_value``, its interval once), "—" where it has none;
    rendered here, one query for the page (none for a table of one metric)."""
    from leaderboard.templatetags.leaderboard_tags import interval, measured, result_value

    if len(columns) == 1:
        for r in rows:
            r.other_cells = ""
        return
    by_row = {
        row.lead.pk: row.by_metric()
        for row in group_rows(rows, Result.objects.defer("episode_scores", "archive_row"))
    }
    for r in rows:
        mine = by_row.get(r.pk, {})
        cells = []
        for m in columns[1:]:
            c = r if m.pk == r.metric_id else mine.get(m.pk)
            if c is None:
                shown = NONE
            else:
                ci = interval(c)
                shown = format_html(
                    "{}{}",
                    result_value(c),
                    ""
                    if ci is None
                    else format_html(' <small class="ci">± {}</small>', measured(ci, c.value)),
                )
            cells.append(
                format_html(
                    '<td class="num metric-cell" data-metric="{}" data-label="{}">{}</td>',
                    m.slug,
                    m.name,
                    shown,
                )
            )
        r.other_cells = mark_safe("".join(cells))  # each part escaped by format_html


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
    comes from ``benchmark_metrics`` (annotated with its ``direction`` here). A row's day is
    its own date, else its paper's; a row with neither is not charted (never on the day it was
    imported), nor is a value that is not a number (a day of text only is no point)."""
    best = Max("value") if metric.direction else Min("value")
    qs = Result.objects.filter(benchmark=benchmark, metric=metric, value__isnull=False)
    if archive_only:
        qs = qs.archive()
    return list(
        qs.annotate(day=Coalesce("date", "paper__date"))
        .filter(day__isnull=False)
        .values("day")
        .annotate(best=best)
        .order_by("day")
        .values_list("day", "best")
    )


VERIFIED_POINTS = 200


def verified_points(benchmark: Benchmark, metric: Metric, limit: int = VERIFIED_POINTS) -> list:
    """(date, value, its 95% half-width, model name) of the verified rows (their value: the
    reproduced mean), by the row's own date, its paper's, or else the verification's (one
    query)."""
    return list(
        Result.objects.verified()
        .filter(benchmark=benchmark, metric=metric, value__isnull=False)
        .annotate(
            day=Coalesce("date", "paper__date", TruncDate("verified_at"), TruncDate("created_at"))
        )
        .order_by("-verified_at", "-id")
        .values_list("day", "value", "ci95", "model__name")[:limit]
    )


def row_code_links(rows) -> None:
    """Set ``code`` on each row: its own code links (an archive row's, as the archive gave
    them), else its paper's (official first; one query for the rows without their own)."""
    wanted = set()
    for r in rows:
        own = (r.archive_row or {}).get("code_links") if isinstance(r.archive_row, dict) else None
        r.code = [c for c in own if isinstance(c, dict) and c.get("url")] if own else None
        if r.code is None and r.paper_id is not None:
            wanted.add(r.paper_id)
    by_paper: dict = {}
    if wanted:
        links = CodeLink.objects.filter(paper_id__in=wanted).order_by("-official", "url")
        for paper_id, url, official in links.values_list("paper_id", "url", "official"):
            by_paper.setdefault(paper_id, []).append({"url": url, "official": official})
    for r in rows:
        if r.code is None:
            r.code = by_paper.get(r.paper_id, [])[:3]


def direction_note(benchmark: Benchmark, metric: Metric) -> str:
    """Where the direction the table is ranked by comes from, in words: the guess of its
    name, of its table's other metrics, the imported file, or a curator (one query)."""
    link = BenchmarkMetric.objects.filter(benchmark=benchmark, metric=metric).first()
    if link is not None and link.higher_is_better is not None:
        source = link.direction_source or DirectionSource.CURATOR
    else:
        source = metric.direction_source
    if not source:
        return ""
    note = DirectionSource(source).label
    if source in (DirectionSource.NAME, DirectionSource.TABLE):
        note += "; a curator can correct it"
    return note
