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

from rest_framework import serializers

from leaderboard.directions import NAME as DIRECTION
from leaderboard.directions import with_direction
from leaderboard.models import Benchmark
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
