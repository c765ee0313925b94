"""The hot path of ``GET /api/results``: rows straight from ``QuerySet.values()``.

A page of results built from model instances cost about 0.1 ms a row (five instances per row);
these plain rows give the same JSON as ``ResultSerializer`` (checked by
tests/leaderboard/test_serializers.py) at a fraction of that.
"""

from rest_framework import serializers

from .models import Benchmark

VALUE_FIELDS = (
    "id",
    "benchmark_id",
    "metric__name",
    "metric__higher_is_better",
    "value",
    "raw_value",
    "ci95",
    "date",
    "model__name",
    "paper__slug",
    "paper__title",
    "paper__date",
    "uses_additional_data",
    "source",
    "evaluation_mode",
    "reproduced_value",
    "reproduced_ci95",
    "verification_url",
    "verification_level",
    "verified_at",
)

_DATETIME = serializers.DateTimeField()


def result_rows(rows: list[dict]) -> list[dict]:
    """API rows for ``Result`` values (``VALUE_FIELDS``); one query for their benchmarks."""
    benchmarks = {
        b["id"]: b
        for b in Benchmark.objects.filter(pk__in={r["benchmark_id"] for r in rows}).values(
            "id", "slug", "name", "dataset__slug", "dataset__name"
        )
    } if rows else {}  # fmt: skip
    out = []
    for r in rows:
        b = benchmarks[r["benchmark_id"]]
        date, verified_at = r["date"] or r["paper__date"], r["verified_at"]
        out.append(
            {
                "id": r["id"],
                "benchmark": b["slug"],
                "benchmark_name": b["name"],
                "dataset": b["dataset__slug"],
                "dataset_name": b["dataset__name"],
                "metric": r["metric__name"],
                "higher_is_better": r["metric__higher_is_better"],
                "value": r["value"],
                "raw_value": r["raw_value"],
                "ci95": r["ci95"],
                "model": r["model__name"],
                "paper": r["paper__slug"],
                "paper_title": r["paper__title"],
                "paper_date": date.isoformat() if date else None,
                "uses_additional_data": r["uses_additional_data"],
                "source": r["source"],
                "verified": r["source"] == "verified",
                "evaluation_mode": r["evaluation_mode"],
                "reproduced_value": r["reproduced_value"],
                "reproduced_ci95": r["reproduced_ci95"],
                "verification_url": r["verification_url"],
                "verification_level": (
                    (r["verification_level"] or "archive")
                    if r["source"] == "verified"
                    else "archive"
                ),
                "evidence_url": (
                    (r["verification_url"] or None) if r["source"] == "verified" else None
                ),
                "verified_at": _DATETIME.to_representation(verified_at) if verified_at else None,
                "page_url": f"/benchmarks/{b['slug']}/",
            }
        )
    return out
