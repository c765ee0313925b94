import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from leaderboard import catalogue
from leaderboard.models import Benchmark, Metric, MLModel, Paper, Result


@pytest.fixture
def seeded(db):
    call_command("load_seed")


def add_results(benchmark: Benchmark, metric: Metric, n: int, start: float = 10.0) -> list:
    """``n`` archive rows on one benchmark, each with its own model and dated paper."""
    models = MLModel.objects.bulk_create(
        MLModel(
            name=f"Model {benchmark.pk}-{metric.pk}-{i}", slug=f"m-{benchmark.pk}-{metric.pk}-{i}"
        )
        for i in range(n)
    )
    papers = Paper.objects.bulk_create(
        Paper(
            title=f"Paper {benchmark.pk}-{metric.pk}-{i}",
            slug=f"p-{benchmark.pk}-{metric.pk}-{i}",
            date=datetime.date(2015, 1, 1) + datetime.timedelta(days=7 * i),
            authors=["A. Author"],
        )
        for i in range(n)
    )
    benchmark.metrics.add(metric)
    return Result.objects.bulk_create(
        Result(
            benchmark=benchmark,
            metric=metric,
            model=models[i],
            paper=papers[i],
            value=start + i * 0.1,
            raw_value="",
        )
        for i in range(n)
    )


def make_verified(benchmark: Benchmark, metric: Metric, value: float, model: str = "MAML (ours)"):
    """A verified row as the evaluator writes it: ``value`` ± 0.3 measured, 0.1 more claimed."""
    return Result.objects.create(
        benchmark=benchmark,
        metric=metric,
        model=catalogue.get_model(model)[0],
        value=value,
        ci95=0.3,
        claimed_value=round(value + 0.1, 6),
        source=Result.Source.VERIFIED,
        evaluation_mode=Result.EvaluationMode.NON_TRANSDUCTIVE,
        verification_url="/submissions/1/",
        verified_at=timezone.now(),
    )
