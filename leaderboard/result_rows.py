"""The one definition of a published result row, as the read API gives it.

A row is built by ``build_row`` from the columns ``VALUE_FIELDS`` names (with the metric's
direction in the result's benchmark, ``leaderboard/directions.py``) and from its benchmark's
``BENCHMARK_FIELDS``. Two ways in, one builder:

- ``result_rows(rows)``: plain dicts from ``row_values(queryset)`` (``QuerySet.values()``, the
  hot path of ``GET /api/results``: about a fifth of the cost of model instances), with their
  benchmarks fetched by one query;
- ``instance_row(result)``: a ``Result`` instance (a result's detail, a paper's results, a
  benchmark's SotA rows) from a queryset annotated with ``direction``
  (``directions.with_direction``) and its relations selected: the same fields read off it.

``ResultSerializer`` (``leaderboard/serializers.py``) declares the same fields for the OpenAPI
schema and serializes through ``instance_row``; tests/leaderboard/test_serializers.py checks
that the declared fields, DRF's own walk and both ways in agree.

The row's number is ``value`` ± ``ci95``: for a verified row the reference run's mean and the
half-width of its 95% interval, the claim beside it in ``claimed_value``; for an archive row the
archive's figure (``claimed_value`` null). ``reproduced_value``/``reproduced_ci95`` repeat
``value``/``ci95`` for verified rows (null for archive rows) for clients written before.
"""

from rest_framework import serializers

from .directions import NAME as DIRECTION
from .directions import with_direction
from .models import Benchmark

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
    """``queryset`` of results as the plain dicts ``result_rows`` builds from."""
    return with_direction(queryset).values(*VALUE_FIELDS)


def build_row(r: dict, b: dict) -> dict:
    """The API row of result values ``r`` (``VALUE_FIELDS``) on benchmark ``b``."""
    date, verified_at = r["paper__date"], r["verified_at"]
    verified = r["source"] == "verified"
    return {
        "id": r["id"],
        "benchmark": b["slug"],
        "benchmark_name": b["name"],
        "dataset": b["dataset__slug"],
        "dataset_name": b["dataset__name"],
        "metric": r["metric__name"],
        "higher_is_better": r[DIRECTION],
        "value": r["value"],
        "ci95": r["ci95"],
        "claimed_value": r["claimed_value"],
        "raw_value": r["raw_value"],
        "model": r["model__name"],
        "paper": r["paper__slug"],
        "paper_title": r["paper__title"],
        "paper_date": date.isoformat() if date else None,
        "uses_additional_data": r["uses_additional_data"],
        "source": r["source"],
        "verified": verified,
        "evaluation_mode": r["evaluation_mode"],
        "reproduced_value": r["value"] if verified else None,
        "reproduced_ci95": r["ci95"] if verified else None,
        "verification_url": r["verification_url"],
        "verification_level": (r["verification_level"] or "archive") if verified else "archive",
        "evidence_url": (r["verification_url"] or None) if verified else None,
        "verified_at": _DATETIME.to_representation(verified_at) if verified_at else None,
        "page_url": f"/benchmarks/{b['slug']}/",
    }


def result_rows(rows: list[dict]) -> list[dict]:
    """API rows for ``row_values`` dicts; one query for their benchmarks."""
    if not rows:
        return []
    benchmarks = {
        b["id"]: b
        for b in Benchmark.objects.filter(pk__in={r["benchmark_id"] for r in rows}).values(
            *BENCHMARK_FIELDS
        )
    }
    return [build_row(r, benchmarks[r["benchmark_id"]]) for r in rows]


def _read(obj, path: str):
    for name in path.split("__"):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


def instance_row(result) -> dict:
    """The API row of a ``Result`` instance (annotated ``direction``, relations selected)."""
    values = {path: _read(result, path) for path in VALUE_FIELDS}
    benchmark = {path: _read(result.benchmark, path) for path in BENCHMARK_FIELDS}
    return build_row(values, benchmark)
