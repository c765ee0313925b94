"""One direction (``leaderboard/directions.py``): a benchmark whose curator corrected its
metric's direction is ranked, labelled, charted, ledgered and exported by that one direction,
by every page and both APIs."""

import datetime

import pytest

from leaderboard import catalogue
from leaderboard.archive.export import export_archive
from leaderboard.directions import higher_is_better
from leaderboard.models import Benchmark, BenchmarkMetric, Dataset, Metric, Paper, Result, Task

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture
def corrected():
    """A benchmark where Accuracy (higher is better by its own flag) is an error rate: the
    curator corrected it to lower is better. The archive printed 5.0 (2017) and 3.0 (2018);
    then a run verified 1.0."""
    accuracy = Metric.objects.get(name="Accuracy")
    assert accuracy.higher_is_better
    bench = Benchmark.objects.create(
        name="Corrected Bench", slug="corrected-bench", dataset=Dataset.objects.first()
    )
    bench.tasks.add(Task.objects.get(slug="few-shot-image-classification"))
    BenchmarkMetric.objects.create(benchmark=bench, metric=accuracy, higher_is_better=False)
    for value, year in ((5.0, 2017), (3.0, 2018)):
        Result.objects.create(
            benchmark=bench,
            metric=accuracy,
            model=catalogue.get_model(f"Archive {value:g}")[0],
            paper=Paper.objects.create(
                title=f"Paper {year}", slug=f"paper-{year}", date=datetime.date(year, 6, 1)
            ),
            value=value,
            raw_value=f"{value:g}",
        )
    verified = make_verified(bench, accuracy, 1.0, model="Verified 1")
    return bench, accuracy, verified


def test_the_one_direction_is_the_correction_else_the_metrics_own(corrected):
    bench, accuracy, _ = corrected
    assert higher_is_better(bench, accuracy) is False
    other = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    assert higher_is_better(other, accuracy) is True


def test_it_is_ranked_lower_first_on_the_page_and_in_both_apis(client, corrected):
    bench, _, verified = corrected
    page = client.get(bench.get_absolute_url()).content.decode()
    table = page.split('id="sota-table"')[1]
    assert table.index("Verified 1") < table.index("Archive 3") < table.index("Archive 5")
    rows = client.get("/api/results", {"benchmark": bench.slug, "ordering": "best"}).json()
    assert [r["value"] for r in rows["results"]] == [1.0, 3.0, 5.0]
    sota = client.get(f"/api/benchmarks/{bench.slug}").json()["sota"][0]
    assert [(r["rank"], r["value"]) for r in sota["rows"]] == [(1, 1.0), (2, 3.0), (3, 5.0)]
    v1 = client.get(f"/api/v1/evaluations/{bench.slug}/results/").json()["results"]
    assert [(r["best_rank"], r["value"]) for r in v1] == [(1, 1.0), (2, 3.0), (3, 5.0)]
    one = client.get(f"/api/v1/evaluations/{bench.slug}/results/{verified.pk}/").json()
    assert one["best_rank"] == 1
    index = client.get("/sota/", {"q": "Corrected"}).content.decode()
    assert "Verified 1" in index and "Archive 3" not in index  # the current best, by the rule


def test_it_is_labelled_lower_is_better_everywhere(client, corrected):
    bench, _, _ = corrected
    page = client.get(bench.get_absolute_url()).content.decode()
    assert "lower is better" in page and "higher is better" not in page
    rows = client.get("/api/results", {"benchmark": bench.slug}).json()["results"]
    assert {r["higher_is_better"] for r in rows} == {False}
    one = client.get(f"/api/results/{rows[0]['id']}").json()
    assert one["higher_is_better"] is False
    sota = client.get(f"/api/benchmarks/{bench.slug}").json()["sota"][0]
    assert sota["higher_is_better"] is False
    assert {r["higher_is_better"] for r in sota["rows"]} == {False}
    metrics = client.get(f"/api/v1/evaluations/{bench.slug}/metrics/").json()["results"]
    assert [(m["name"], m["is_loss"]) for m in metrics] == [("Accuracy", True)]
    one_metric = client.get(f"/api/v1/evaluations/{bench.slug}/metrics/accuracy/").json()
    assert one_metric["is_loss"] is True
    # Elsewhere the metric keeps its own direction.
    other = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    assert client.get(f"/api/benchmarks/{other.slug}").json()["sota"][0]["higher_is_better"]
    other_metrics = client.get(f"/api/v1/evaluations/{other.slug}/metrics/").json()["results"]
    assert [m["is_loss"] for m in other_metrics if m["name"] == "Accuracy"] == [False]
    paper = client.get(f"/api/papers/{Paper.objects.get(slug='paper-2017').slug}").json()
    assert [r["higher_is_better"] for r in paper["results"]] == [False]


def test_it_is_charted_lower_is_better(client, corrected):
    bench, _, _ = corrected
    response = client.get(bench.get_absolute_url())
    chart = response.context["chart"]
    assert chart["best"] == "1"  # the running best goes down: 5, then 3, then 1 (verified)
    assert len(chart["records"]) == 2 and chart["verified"][0].get("record")
    assert "(lower is better)" in response.content.decode()


def test_it_is_ledgered_against_the_lower_previous_best(client, corrected):
    bench, _, verified = corrected
    page = client.get(f"/log/{bench.slug}/").content.decode()
    entry = page.split(f'id="ledger-result-{verified.pk}"')[1].split("</li>")[0]
    assert "+2.00 vs previous best 3" in entry and "new state of the art" in entry
    feed = client.get(f"/log/{bench.slug}/feed.atom").content.decode()
    assert "+2.00 vs previous best 3" in feed and "previous best 5" not in feed


def test_it_is_exported_with_the_corrected_direction(corrected):
    bench, _, _ = corrected
    tables = export_archive(extended=True)

    def datasets(tasks):
        for t in tasks:
            yield from t["datasets"]
            yield from datasets(t["subtasks"])

    (entry,) = [d for d in datasets(tables) if d["dataset"] == bench.name]
    assert entry["sota"]["metric_directions"]["Accuracy"]["higher_is_better"] is False
    verified = [row for row in entry["sota"]["rows"] if row.get("verified")]
    assert [(r["metrics"]["Accuracy"], r["claimed"]["Accuracy"]) for r in verified] == [
        ("1.0", 1.1)
    ]
