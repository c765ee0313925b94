"""One result row (``leaderboard/results/rows.py``): the list's plain rows, the serializer of
instances and DRF's own walk of the declared fields all give the same JSON."""

import pytest
from rest_framework import serializers

from leaderboard.api.serializers import ResultSerializer
from leaderboard.directions import with_direction
from leaderboard.models import Benchmark, BenchmarkMetric, Metric, Result
from leaderboard.results.rows import result_rows, row_values

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")


def _generic(result) -> dict:
    """What DRF's own field-by-field walk gives for the declared fields."""
    return dict(serializers.ModelSerializer.to_representation(ResultSerializer(), result))


def test_the_fast_result_representation_matches_the_declared_fields():
    make_verified(
        Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way"),
        Metric.objects.get(name="Accuracy"),
        97.5,
    )
    rows = with_direction(Result.objects.for_api())
    for result in [*rows.archive()[:3], rows.verified().get()]:
        fast = ResultSerializer(result).data
        assert list(fast) == ResultSerializer.Meta.fields
        assert fast == _generic(result)
        assert fast["page_url"] == result.benchmark.get_absolute_url()


def test_the_api_list_rows_match_the_serializer():
    make_verified(
        Benchmark.objects.get(name="Meta-Dataset Rank"), Metric.objects.get(name="Mean Rank"), 3.0
    )
    rows = list(row_values(Result.objects.order_by("id")))
    instances = list(with_direction(Result.objects.for_api()).order_by("id"))
    assert len(rows) == len(instances) == 23
    assert result_rows(rows) == [ResultSerializer(r).data for r in instances]
    assert result_rows([]) == []


def test_a_verified_row_gives_the_measured_value_and_the_claim_beside_it():
    verified = make_verified(
        Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way"),
        Metric.objects.get(name="Accuracy"),
        61.33,
    )
    (row,) = result_rows(list(row_values(Result.objects.filter(pk=verified.pk))))
    assert (row["value"], row["ci95"], row["claimed_value"]) == (61.33, 0.3, 61.43)
    assert (row["reproduced_value"], row["reproduced_ci95"]) == (61.33, 0.3)
    archive = result_rows(list(row_values(Result.objects.archive().order_by("id")[:1])))[0]
    assert archive["claimed_value"] is None and archive["reproduced_value"] is None


def test_higher_is_better_is_the_benchmarks_direction_in_both_ways_in():
    link = BenchmarkMetric.objects.get(
        benchmark__name="OMNIGLOT - 1-Shot, 5-way", metric__name="Accuracy"
    )
    link.higher_is_better = False
    link.save()
    qs = Result.objects.filter(benchmark_id=link.benchmark_id, metric_id=link.metric_id)
    rows = result_rows(list(row_values(qs)))
    assert rows and {r["higher_is_better"] for r in rows} == {False}
    instances = with_direction(qs.for_api())
    assert {ResultSerializer(r).data["higher_is_better"] for r in instances} == {False}
    others = Result.objects.exclude(benchmark_id=link.benchmark_id).filter(metric=link.metric)
    assert others.exists()  # the metric's own direction elsewhere
    assert {r["higher_is_better"] for r in result_rows(list(row_values(others)))} == {True}
