import pytest
from django.core.management import CommandError, call_command

from leaderboard.models import MLModel, Paper, Result

pytestmark = pytest.mark.django_db


def test_it_generates_and_clears_synthetic_results(seeded):
    call_command("generate_results", "--count", "250")
    assert Result.objects.count() == 22 + 250
    assert Result.objects.filter(benchmark__dataset__slug="omniglot").count() > 40
    call_command("generate_results", "--count", "100")  # replaces, never duplicates
    assert Result.objects.count() == 22 + 100
    call_command("generate_results", "--clear")
    assert Result.objects.count() == 22
    assert not MLModel.objects.filter(slug__startswith="synthetic-").exists()
    assert Paper.objects.count() == 1


def test_it_needs_the_seed_first():
    with pytest.raises(CommandError, match="load_seed"):
        call_command("generate_results", "--count", "10")
