import pytest
from django.utils import timezone
from rest_framework import serializers

from leaderboard.models import Benchmark, Metric, Result
from leaderboard.result_rows import VALUE_FIELDS, result_rows
from leaderboard.serializers import ResultSerializer

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")


def _generic(result) -> dict:
    """What DRF's own field-by-field walk gives for the declared fields."""
    return dict(serializers.ModelSerializer.to_representation(ResultSerializer(), result))


def test_the_fast_result_representation_matches_the_declared_fields():
    verified = make_verified(
        Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way"),
        Metric.objects.get(name="Accuracy"),
        97.5,
    )
    verified.verified_at = timezone.now()
    for result in [*Result.objects.for_listing().archive()[:3], verified]:
        fast = ResultSerializer(result).data
        assert list(fast) == ResultSerializer.Meta.fields
        assert fast == _generic(result)
        assert fast["page_url"] == result.benchmark.get_absolute_url()


def test_the_api_list_rows_match_the_serializer():
    make_verified(
        Benchmark.objects.get(name="Meta-Dataset Rank"), Metric.objects.get(name="Mean Rank"), 3.0
    )
    rows = list(Result.objects.values(*VALUE_FIELDS).order_by("id"))
    instances = list(Result.objects.for_api().order_by("id"))
    assert len(rows) == len(instances) == 23
    assert result_rows(rows) == [ResultSerializer(r).data for r in instances]
    assert result_rows([]) == []
