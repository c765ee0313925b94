"""Verified rows that no verified run stands behind.

A verified row exists only through a run (``publishing.publish``): its number is what that run
measured. ``unbacked_rows()`` finds the rows that break this: no verified run points at them
(hand-made in the database, or their run overridden without unpublishing), or they carry no
measured figure. Reported by ``manage.py check_verified_rows`` (exit status 1 when any) and by
``manage.py check --database default`` (a database check, not run by the plain ``check``).
"""

from __future__ import annotations

from django.core import checks
from django.db import DatabaseError, connection
from django.db.models import Exists, OuterRef, Q

from leaderboard.models import Result

from .models import Run


def unbacked_rows():
    """Verified results without a verified run behind them, or without a measured value."""
    backed = Run.objects.filter(result=OuterRef("pk"), status=Run.Status.VERIFIED)
    return (
        Result.objects.verified()
        .filter(Q(~Exists(backed)) | Q(value__isnull=True))
        .select_related("benchmark", "metric", "model")
        .order_by("id")
    )


def describe(result: Result) -> str:
    return (
        f"result #{result.pk} ({result.model.name} on {result.benchmark.name}, "
        f"{result.metric.name} {result.value}) is marked verified with "
        + ("no measured value" if result.value is None else "no verified run behind it")
    )


@checks.register(checks.Tags.database)
def verified_rows_have_runs(app_configs=None, databases=None, **kwargs):
    """Also run by ``migrate`` before it migrates: silent until both tables exist."""
    if not databases:
        return []
    tables = connection.introspection.table_names()
    if Result._meta.db_table not in tables or Run._meta.db_table not in tables:
        return []
    try:
        rows = list(unbacked_rows()[:100])
    except DatabaseError:  # a schema not yet migrated to this code's columns
        return []
    return [
        checks.Error(
            describe(r),
            hint="Re-queue its submission, or publish it through a run's override (admin).",
            obj=r,
            id="evaluator.E001",
        )
        for r in rows
    ]
