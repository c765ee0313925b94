"""The one definition of a published result row, as the read API gives it.

A row is built by ``build_row`` from the columns ``VALUE_FIELDS`` names (with the metric's
direction in the result's benchmark, ``leaderboard/directions.py``) and from its benchmark's
``BENCHMARK_FIELDS``. Two ways in, one builder:

- ``result_rows(rows)``: plain tuples from ``row_values(queryset)`` (``values_list()`` in
  ``VALUE_FIELDS`` order, the hot path of ``GET /api/results``: a fraction of the cost of model
  instances, and of dicts), with their benchmarks fetched by one query;
- ``instance_row(result)``: a ``Result`` instance (a result's detail, a paper's results, a
  benchmark's SotA rows) from a queryset annotated with ``direction``
  (``directions.with_direction``) and its relations selected: the same fields read off it.

``ResultSerializer`` (``leaderboard/api/serializers.py``) declares the same fields for the OpenAPI
schema and serializes through ``instance_row``; tests/leaderboard/test_serializers.py checks
that the declared fields, DRF's own walk and both ways in agree.

``paper_date`` is the row's own date (``Result.date``: an archive row's ``paper_date``, the v1
API's ``evaluated_on``), else its paper's.

The row's number is ``value`` ± ``ci95``: for a verified row the reference run's mean and the
half-width of its 95% interval, the claim beside it in ``claimed_value``; for an archive row the
archive's figure (``claimed_value`` null). ``reproduced_value``/``reproduced_ci95`` repeat
``value``/``ci95`` for verified rows (null for archive rows) for clients written before.

``contested`` is true for an archive row whose group of claims (the same model from other
papers, ``leaderboard/results/contested.py``, docs/contested.md) disagrees; ``contested_url`` is the
group's page (the other papers' figures) for any row of a contested group, and ``contested_side``
says where a verified row's measurement falls among the claims (``above``, ``higher``,
``middle``, ``lower``, ``below``; null otherwise).
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Exists, Min, OuterRef, Q
from rest_framework import serializers

from leaderboard.directions import NAME as DIRECTION
from leaderboard.directions import with_direction
from leaderboard.models import Benchmark, Result
from leaderboard.results import contested

#: The columns of a row, in the order ``build_row`` unpacks them.
VALUE_FIELDS = (
    "id",
    "benchmark_id",
    "metric__name",
    DIRECTION,
    "value",
    "ci95",
    "claimed_value",
    "raw_value",
    "model__name",
    "paper__slug",
    "paper__title",
    "paper__date",
    "date",
    "uses_additional_data",
    "source",
    "evaluation_mode",
    "verification_url",
    "verification_level",
    "verified_at",
)
BENCHMARK_FIELDS = ("id", "slug", "name", "dataset__slug", "dataset__name")

_DATETIME = serializers.DateTimeField()


def row_values(queryset):
    """``queryset`` of results as the plain tuples ``result_rows`` builds from."""
    return with_direction(queryset).values_list(*VALUE_FIELDS)


def build_row(r: tuple, b: tuple, claims=contested.NONE) -> dict:
    """The API row of result values ``r`` (``VALUE_FIELDS``) on benchmark ``b``
    (``BENCHMARK_FIELDS``), in its group of claims ``claims`` (``contested.Membership``)."""
    (
        pk, _, metric, higher_is_better, value, ci95, claimed, raw_value, model, paper,
        paper_title, paper_date, own_date, additional_data, source, mode, url, level, verified_at,
    ) = r  # fmt: skip
    verified = source == "verified"
    date = own_date or paper_date
    return {
        "id": pk,
        "benchmark": b[1],
        "benchmark_name": b[2],
        "dataset": b[3],
        "dataset_name": b[4],
        "metric": metric,
        "higher_is_better": higher_is_better,
        "value": value,
        "ci95": ci95,
        "claimed_value": claimed,
        "raw_value": raw_value,
        "model": model,
        "paper": paper,
        "paper_title": paper_title,
        "paper_date": date.isoformat() if date else None,
        "uses_additional_data": additional_data,
        "source": source,
        "verified": verified,
        "evaluation_mode": mode,
        "reproduced_value": value if verified else None,
        "reproduced_ci95": ci95 if verified else None,
        "verification_url": url,
        "verification_level": (level or "archive") if verified else "archive",
        "evidence_url": (url or None) if verified else None,
        "verified_at": _DATETIME.to_representation(verified_at) if verified_at else None,
        "page_url": b[5],
        "contested": claims.contested,
        "contested_url": claims.url,
        "contested_side": claims.side,
    }


def result_rows(rows: list[tuple]) -> list[dict]:
    """API rows for ``row_values`` tuples; one query for their benchmarks, one for their groups
    of claims (``leaderboard/results/contested.py``)."""
    if not rows:
        return []
    ids = {r[1] for r in rows}
    benchmarks = {
        b[0]: (*b, f"/benchmarks/{b[1]}/")
        for b in Benchmark.objects.filter(pk__in=ids).values_list(*BENCHMARK_FIELDS)
    }
    groups = contested.row_memberships(rows)
    return [build_row(r, benchmarks[r[1]], groups[r[0]]) for r in rows]


def _read(obj, path: str):
    for name in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


def instance_row(result) -> dict:
    """The API row of a ``Result`` instance (annotated ``direction``, relations selected;
    ``contested.mark`` run over its list, else one query here)."""
    b = result.benchmark
    benchmark = (*(_read(b, path) for path in BENCHMARK_FIELDS), b.get_absolute_url())
    if not hasattr(result, "contested"):
        contested.mark([result])
    return build_row(
        tuple(_read(result, path) for path in VALUE_FIELDS), benchmark, result.contested
    )


# ---- A row as the archive has it -----------------------------------------------------------
#
# A ``Result`` holds one metric; an archive row (PWC's result: one model and paper on one table)
# holds all of its table's metrics. The results of one row share their benchmark and a row key:
# an archive row's ``archive_key`` (a digest of the whole row, written by the import and by the
# v1 API's writes, unique per metric by the ``unique_archive_row_metric`` constraint); a result
# without one (a verified row, a seed row) is a row of one. A row's id is the id of its first
# result (the lowest, its first metric as written), which stays while the row does.
#
# Every reader that shows rows rather than values goes through here: the v1 API's results (read
# and written, ``leaderboard/pwc/``), the export (``leaderboard/archive/export.py``) and the
# benchmark page (``leaderboard/results/sota.py``). ``/api/results`` stays one metric per entry.


def row_key(result) -> tuple:
    """The key of the archive row ``result`` belongs to: (benchmark id, archive key), or
    (benchmark id, its own id) for a row of one."""
    if result.source == Result.Source.ARCHIVE and result.archive_key:
        return (result.benchmark_id, result.archive_key)
    return (result.benchmark_id, result.pk)


def _keyed() -> Q:
    return Q(source=Result.Source.ARCHIVE) & ~Q(archive_key="")


def first_of_row() -> Q:
    """A filter on results: the first result of its row (one per row; a correlated lookup per
    result, on the archive key's index)."""
    earlier = Result.objects.filter(
        _keyed(),
        benchmark=OuterRef("benchmark_id"),
        archive_key=OuterRef("archive_key"),
        pk__lt=OuterRef("pk"),
    )
    return ~_keyed() | ~Exists(earlier)


def first_of_rows(queryset):
    """The results of ``queryset`` that are the first of their row: one per row."""
    return queryset.filter(first_of_row())


def without_metric(benchmark, metric) -> Q:
    """A filter on the results of ``benchmark``: the first result of each row that holds no
    value of ``metric`` (rows of one of another metric, and keyed rows none of whose results is
    of ``metric``; one grouping of the benchmark's keys, on the ``unique_archive_row_metric``
    index)."""
    keyed = Result.objects.filter(_keyed(), benchmark=benchmark)
    with_it = keyed.filter(metric=metric).values("archive_key")
    firsts = (
        keyed.exclude(archive_key__in=with_it)
        .order_by()
        .values("archive_key")
        .annotate(first=Min("pk"))
        .values("first")
    )
    return ~Q(metric=metric) & (~_keyed() | Q(pk__in=firsts))


def members(results, queryset=None) -> dict:
    """Row key -> every result of the rows of ``results`` (by id), one query. ``queryset``
    (default: all results, metrics selected) gives the members' columns."""
    results = list(results)
    keyed = defaultdict(set)
    single = set()
    for r in results:
        bench, key = row_key(r)
        if isinstance(key, str):
            keyed[bench].add(key)
        else:
            single.add(key)
    if not results:
        return {}
    wanted = Q(pk__in=single)
    for bench, keys in keyed.items():
        wanted |= _keyed() & Q(benchmark_id=bench, archive_key__in=keys)
    qs = Result.objects.select_related("metric") if queryset is None else queryset
    out = defaultdict(list)
    for m in qs.filter(wanted).order_by("pk"):
        out[row_key(m)].append(m)
    return out


@dataclass
class TableRow:
    """One archive row: its results (one per metric, by id) and the result it is shown or
    ranked by (``lead``: the first, unless a reader ranks by another metric)."""

    results: list
    lead: object = None

    def __post_init__(self):
        if self.lead is None:
            self.lead = self.results[0]

    @property
    def id(self) -> int:
        return self.results[0].pk

    @property
    def first(self):
        return self.results[0]

    def by_metric(self) -> dict:
        """Metric id -> the row's result of that metric."""
        return {r.metric_id: r for r in self.results}

    def metrics(self, exact: bool = True) -> dict:
        """Metric name -> the value as the archive wrote it (a verified row's: its measured
        value), in the row's order: the export's (``exact``) and PWC's ``metrics``."""
        return {r.metric.name: value_text(r, exact) for r in self.results}


def value_text(r, exact: bool = True) -> str:
    """A result's value as text: the archive's as written, else the number (``repr``, exact;
    or to 6 significant digits, as the v1 API has always given it)."""
    if r.raw_value:
        return r.raw_value
    if r.value is None:
        return ""
    return repr(r.value) if exact else f"{r.value:.6g}"


def group_rows(results, queryset=None) -> list[TableRow]:
    """The rows of ``results`` (each result stands for its row; a row met twice is listed
    once, where first met), each with all its results (one query), ``lead`` the result given."""
    results = list(results)
    found = members(results, queryset)
    rows, seen = [], set()
    for r in results:
        key = row_key(r)
        if key in seen:
            continue
        seen.add(key)
        rows.append(TableRow(found.get(key) or [r], lead=r))
    return rows
