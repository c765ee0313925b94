"""The one guess of a metric's direction (``leaderboard/direction_guess.py``), and a curator's
correction in the admin marked as theirs (no longer a guess)."""

import pytest

from leaderboard import catalogue
from leaderboard.direction_guess import NAME, TABLE, guess_higher_is_better, guess_in_table
from leaderboard.models import Benchmark, BenchmarkMetric, Dataset, Metric

LOWER = [
    "Model Entropy", "Entropy", "Cross-Entropy", "Cross Entropy Loss", "Test Loss", "NLL",
    "Negative Log-Likelihood", "Log Loss", "Error", "Top-1 Error Rate", "Perplexity",
    "Test perplexity", "Bit per Character (BPC)", "bits/dim", "WER", "CER", "PER", "FID", "KID",
    "MAE", "MSE", "RMSE", "Latency (ms)", "Inference Time", "Params", "Number of parameters",
    "FLOPs", "Mean Rank", "Chamfer Distance", "EER", "ECE", "KL divergence", "Brier score",
]  # fmt: skip
HIGHER = [
    "Accuracy", "Top-1 Accuracy", "F1", "EM", "BLEU", "mAP", "MS-SSIM", "PSNR", "AUC",
    "Error reduction", "Recall@10", "Hits@1", "Speedup", "Log-likelihood",
]  # fmt: skip


@pytest.mark.parametrize("name", LOWER)
def test_lower_is_better_by_name(name):
    assert guess_higher_is_better(name) is False
    assert guess_in_table(name, ["Accuracy"]) == (False, NAME)


@pytest.mark.parametrize("name", HIGHER)
def test_higher_is_better_by_name(name):
    assert guess_higher_is_better(name) is True


def test_a_split_name_takes_its_tables_direction():
    losses = ["Dev", "Test", "Training Loss"]
    assert guess_in_table("Test", losses) == (False, TABLE)
    assert guess_in_table("Dev", losses) == (False, TABLE)
    assert guess_in_table("Test", ["Test", "Accuracy", "F1"]) == (True, TABLE)
    # Alone, or beside metrics that disagree: the name's default, higher is better.
    assert guess_in_table("Test", ["Dev", "Test"]) == (True, NAME)
    assert guess_in_table("Test", ["Test", "Accuracy", "Loss"]) == (True, NAME)
    assert guess_higher_is_better("Test") is True


@pytest.mark.django_db
def test_the_catalogue_uses_the_same_guess_and_marks_it():
    metric, created = catalogue.get_metric("Model Entropy")
    assert created and (metric.higher_is_better, metric.direction_source) == (False, "name")
    given, _ = catalogue.get_metric("Win rate", higher_is_better=True)
    assert given.direction_source == ""


@pytest.mark.django_db
def test_a_curators_correction_in_the_admin_is_marked_theirs(client, staff):
    dataset = Dataset.objects.create(name="Hutter Prize", slug="hutter-prize")
    bench = Benchmark.objects.create(name="Hutter Prize", slug="hutter-prize", dataset=dataset)
    metric, _ = catalogue.get_metric("Test")
    link = BenchmarkMetric.objects.create(
        benchmark=bench, metric=metric, higher_is_better=False, direction_source="table"
    )
    client.force_login(staff)
    url = f"/admin/leaderboard/benchmarkmetric/{link.pk}/change/"
    response = client.post(
        url, {"benchmark": bench.pk, "metric": metric.pk, "higher_is_better": "true"}
    )
    assert response.status_code == 302, response.content[:500]
    link.refresh_from_db()
    assert (link.higher_is_better, link.direction_source) == (True, "curator")
    page = client.get(bench.get_absolute_url()).content.decode()
    assert "Direction: set by a curator." in page
    response = client.post(
        f"/admin/leaderboard/metric/{metric.pk}/change/",
        {"name": "Test", "slug": metric.slug, "unit": "", "higher_is_better": ""},
    )
    assert response.status_code == 302
    metric.refresh_from_db()
    assert (metric.higher_is_better, metric.direction_source) == (False, "curator")
    assert Metric.objects.get(pk=metric.pk).direction_source == "curator"
