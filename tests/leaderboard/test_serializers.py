import pytest
from django.utils import timezone
from rest_framework import serializers

from leaderboard.models import Benchmark, Metric, Result
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
