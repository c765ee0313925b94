"""The one definition of a metric's direction in a benchmark.

Whether higher is better for a metric *in a benchmark* is the curator's correction for that
benchmark (``BenchmarkMetric.higher_is_better``, when set), else the metric's own flag
(``Metric.higher_is_better``). That rule is written once, as a SQL expression
(``querysets.direction``: ranking in ``ResultQuerySet`` needs it), and every other reader gets
it from here, as a queryset annotation:

- ``direction()`` (``is_higher()`` its filter): on a queryset of ``Result`` (or of
  ``BenchmarkMetric``) rows; what ranking (``ResultQuerySet.with_rank``/``best_first``), the
  PWC API's ``best_rank``, the row builder's ``higher_is_better``
  (``leaderboard/results/rows.py``) and the ledger's "previous best" read.
- ``metrics_in(benchmark)``: the benchmark's metrics, each annotated ``direction``; what the
  SotA table's label, the chart, ``/api/benchmarks/<slug>``'s ``higher_is_better``, the PWC
  API's ``is_loss`` and the export's ``metric_directions`` read.
- ``higher_is_better(benchmark, metric)``: the same for one pair (one query).

``Metric.higher_is_better`` itself is the metric's *default* only: read it directly nowhere
else.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet

from leaderboard.models import Metric
from leaderboard.querysets import direction, is_higher

__all__ = ["NAME", "direction", "higher_is_better", "is_higher", "metrics_in", "with_direction"]

#: The annotation name every reader uses.
NAME = "direction"


def with_direction(queryset: QuerySet) -> QuerySet:
    """``queryset`` (results, or benchmark-metric links) annotated ``direction``."""
    return queryset.annotate(**{NAME: direction()})


def metrics_in(benchmark, metrics: QuerySet | None = None) -> QuerySet:
    """``metrics`` (default: all) annotated ``direction`` as used in ``benchmark``."""
    qs = Metric.objects.all() if metrics is None else metrics
    return qs.annotate(
        **{NAME: direction(benchmark=benchmark.pk, metric=OuterRef("pk"), own="higher_is_better")}
    )


def higher_is_better(benchmark, metric) -> bool:
    """The direction of ``metric`` in ``benchmark`` (one query)."""
    return metrics_in(benchmark).values_list(NAME, flat=True).get(pk=metric.pk)
