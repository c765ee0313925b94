"""The one definition of a metric's direction in a benchmark.

Whether higher is better for a metric *in a benchmark* is the curator's correction for that
benchmark (``BenchmarkMetric.higher_is_better``, when set), else the metric's own flag
(``Metric.higher_is_better``). That rule is written once, here, as a SQL expression, and every
reader gets it from a queryset annotation:

- ``direction()``: on a queryset of ``Result`` (or of ``BenchmarkMetric``) rows; what ranking
  (``ResultQuerySet.with_rank``/``best_first``), the PWC API's ``best_rank``, the row builder's
  ``higher_is_better`` (``leaderboard/results/rows.py``) and the ledger's "previous best" read.
- ``metrics_in(benchmark)``: the benchmark's metrics, each annotated ``direction``; what the
  SotA table's label, the chart, ``/api/benchmarks/<slug>``'s ``higher_is_better``, the PWC
  API's ``is_loss`` and the export's ``metric_directions`` read.
- ``higher_is_better(benchmark, metric)``: the same for one pair (one query).

``Metric.higher_is_better`` itself is the metric's *default* only: read it directly nowhere
else.
"""

from __future__ import annotations

import functools

from django.db.models import BooleanField, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

#: The annotation name every reader uses.
NAME = "direction"


def direction(benchmark=None, metric=None, own: str = "metric__higher_is_better"):
    """True where higher is better: the correction of (``benchmark``, ``metric``), else the
    metric's own flag (the field path ``own``). By default the references are the row's own
    ``benchmark_id`` and ``metric_id`` (a queryset of results or of benchmark-metric links)."""
    if benchmark is None and metric is None and own == "metric__higher_is_better":
        return _row_direction()
    return _direction(benchmark, metric, own)


@functools.cache
def _row_direction():
    """The default expression, built once: a queryset's ``annotate`` resolves (copies) it, so
    one instance serves every query, and the hot path of ``/api/results`` does not build its
    subquery again on every request."""
    return _direction(None, None, "metric__higher_is_better")


def _direction(benchmark, metric, own: str):
    from leaderboard.models import BenchmarkMetric

    corrected = BenchmarkMetric.objects.filter(
        benchmark=OuterRef("benchmark_id") if benchmark is None else benchmark,
        metric=OuterRef("metric_id") if metric is None else metric,
        higher_is_better__isnull=False,
    ).values("higher_is_better")[:1]
    return Coalesce(Subquery(corrected), F(own), output_field=BooleanField())


def with_direction(queryset: QuerySet) -> QuerySet:
    """``queryset`` (results, or benchmark-metric links) annotated ``direction``."""
    return queryset.annotate(**{NAME: direction()})


def metrics_in(benchmark, metrics: QuerySet | None = None) -> QuerySet:
    """``metrics`` (default: all) annotated ``direction`` as used in ``benchmark``."""
    from leaderboard.models import Metric

    qs = Metric.objects.all() if metrics is None else metrics
    return qs.annotate(
        **{NAME: direction(benchmark=benchmark.pk, metric=OuterRef("pk"), own="higher_is_better")}
    )


def higher_is_better(benchmark, metric) -> bool:
    """The direction of ``metric`` in ``benchmark`` (one query)."""
    return metrics_in(benchmark).values_list(NAME, flat=True).get(pk=metric.pk)


def is_higher(expression) -> Q:
    """A filter condition true where ``expression`` (a direction) says higher is better; False
    and NULL (no metric) both read as lower."""
    from django.db.models.lookups import Exact

    return Q(Exact(expression, True))
