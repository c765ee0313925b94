"""The queries of published results: the one rule of a metric's direction in a benchmark, and
``ResultQuerySet`` (``Result.objects``) with its ranking expressions. Kept out of ``models/``,
which declares the tables; this module names no model class at import time."""

import functools

from django.apps import apps
from django.db import models
from django.db.models import (
    BooleanField,
    Case,
    F,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Rank
from django.db.models.lookups import Exact

# The one rule of a metric's direction in a benchmark (ranking below needs it); every other
# reader gets it through ``leaderboard/directions.py``.


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
    # The model by name: ``models/results.py`` imports this module for ``Result.objects``.
    BenchmarkMetric = apps.get_model("leaderboard", "BenchmarkMetric")
    corrected = BenchmarkMetric.objects.filter(
        benchmark=OuterRef("benchmark_id") if benchmark is None else benchmark,
        metric=OuterRef("metric_id") if metric is None else metric,
        higher_is_better__isnull=False,
    ).values("higher_is_better")[:1]
    return Coalesce(Subquery(corrected), F(own), output_field=BooleanField())


def is_higher(expression) -> Q:
    """A filter condition true where ``expression`` (a direction) says higher is better; False
    and NULL (no metric) both read as lower."""
    return Q(Exact(expression, True))


class ResultQuerySet(models.QuerySet):
    def verified(self) -> "ResultQuerySet":
        return self.filter(source=self.model.Source.VERIFIED)

    def archive(self) -> "ResultQuerySet":
        return self.filter(source=self.model.Source.ARCHIVE)

    def with_relations(self) -> "ResultQuerySet":
        return self.select_related("benchmark__dataset", "metric", "model", "paper")

    def for_listing(self) -> "ResultQuerySet":
        """Rows with what a table or the API shows, without the long text columns."""
        return self.with_relations().defer(
            "paper__abstract",
            "paper__authors",
            "benchmark__description",
            "benchmark__dataset__description",
        )

    def for_api(self) -> "ResultQuerySet":
        """Like ``for_listing``, but benchmark and dataset come by one prefetch query: a join of
        six tables took PostgreSQL longer to plan than to run (see docs/leaderboard.md)."""
        return (
            self.select_related("model", "paper", "metric")
            .defer("paper__abstract", "paper__authors", "paper__url", "paper__pdf_url")
            .prefetch_related(
                Prefetch(
                    "benchmark",
                    queryset=self.model.benchmark.field.related_model.objects.select_related(
                        "dataset"
                    ).defer("description", "dataset__description"),
                )
            )
        )

    def best_first(self) -> "ResultQuerySet":
        """Grouped by benchmark and metric, each group best first by its metric's direction."""
        return self.order_by("benchmark_id", "metric_id", score_expression(), "id")

    def with_rank(self) -> "ResultQuerySet":
        """Annotate ``rank``: 1 for the best row of its benchmark and metric, ties share a rank."""
        return self.annotate(
            rank=Window(
                Rank(),
                partition_by=[F("benchmark_id"), F("metric_id")],
                order_by=score_expression(),
            )
        )


def score_expression():
    """Lower is better: the value, negated where higher is better (the direction of
    ``direction`` above); a value that is not a number last."""
    return Case(When(is_higher(direction()), then=-F("value")), default=F("value")).asc(
        nulls_last=True
    )
