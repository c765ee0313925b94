"""The number of SQL queries of the busiest pages does not grow with the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leaderboard.models import Benchmark, Metric

from .conftest import add_results, make_verified

pytestmark = pytest.mark.usefixtures("seeded")


def _queries(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def omniglot():
    return Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")


@pytest.fixture
def accuracy():
    return Metric.objects.get(name="Accuracy")


def test_the_benchmark_page_runs_the_same_queries_for_a_few_rows_and_for_hundreds(
    client, omniglot, accuracy
):
    make_verified(omniglot, accuracy, 97.0)
    few = _queries(client, omniglot.get_absolute_url())
    add_results(omniglot, accuracy, 300)
    make_verified(omniglot, accuracy, 99.95, model="Another verified")
    many = _queries(client, omniglot.get_absolute_url())
    assert many == few
    # The catalogue version is read once, by the page cache; one query finds the counterparts
    # (archive and verified rows of the same model and paper) of the page's rows; the rows' code
    # links (their papers', for rows without their own) and the direction's source are one
    # query each; one finds the rows' groups of claims (leaderboard/results/contested.py).
    assert few <= 12


@pytest.mark.parametrize(
    "params", [{"dataset": "omniglot"}, {"dataset": "omniglot", "page_size": 200}, {}]
)
def test_the_results_api_runs_the_same_queries_for_a_few_rows_and_for_hundreds(
    client, omniglot, accuracy, params
):
    few = _queries(client, "/api/results", params)
    add_results(omniglot, accuracy, 300)
    many = _queries(client, "/api/results", params)
    assert many == few
    # catalogue version (cache miss), resolve the dataset, count, page, benchmarks, and the rows'
    # groups of claims (leaderboard/results/contested.py)
    assert few <= 6


def test_the_other_api_lists_and_the_paper_page_do_not_grow_either(client, omniglot, accuracy):
    urls = [
        "/api/papers",
        "/api/benchmarks",
        f"/api/benchmarks/{omniglot.slug}",
        "/api/tasks",
        "/",
        "/papers/",
        "/tasks/few-shot-image-classification/",
        "/papers/model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks/",
    ]
    few = {url: _queries(client, url) for url in urls}
    add_results(omniglot, accuracy, 150)
    make_verified(omniglot, accuracy, 99.95)
    assert {url: _queries(client, url) for url in urls} == few


def _verified_rows(benchmark, metric, n: int, start: float = 60.0) -> None:
    """``n`` verified rows with 600 per-episode scores each, on the same episodes."""
    from leaderboard.models import MLModel, Result

    models = MLModel.objects.bulk_create(
        MLModel(name=f"Verified {benchmark.pk}-{i}-{start}", slug=f"v-{benchmark.pk}-{i}-{start}")
        for i in range(n)
    )
    Result.objects.bulk_create(
        Result(
            benchmark=benchmark,
            metric=metric,
            model=models[i],
            value=start + i * 0.01,
            ci95=1.5,
            claimed_value=start + i * 0.01,
            source=Result.Source.VERIFIED,
            verification_level="evaluated",
            verification_url=f"/results/{i}/evidence/",
            episode_scores=[(start + i * 0.01 + (j % 7) - 3) for j in range(600)],
            episodes_fingerprint="e" * 64,
            verified_at=timezone.now(),
        )
        for i in range(n)
    )


def test_the_benchmark_page_with_verified_rows_and_paired_ranks_does_not_grow(
    client, omniglot, accuracy
):
    _verified_rows(omniglot, accuracy, 3)
    few = _queries(client, omniglot.get_absolute_url())
    _verified_rows(omniglot, accuracy, 300, start=70.0)
    many = _queries(client, omniglot.get_absolute_url())
    assert many == few
    few_page_2 = _queries(client, omniglot.get_absolute_url(), {"page": 2})
    assert few_page_2 <= few + 1  # the row above the page, for its first paired rank


def test_the_evidence_page_runs_the_same_queries_for_a_few_and_for_hundreds_of_verified_rows(
    client, omniglot, accuracy, owner, settings, tmp_path
):
    from tests.evaluator.evidence_helpers import finished_run

    settings.MEDIA_ROOT = tmp_path / "media"
    result = finished_run(owner, scores=[100.0, 80.0, 60.0] * 200).result
    few = _queries(client, result.verification_url)
    log_few = _queries(client, "/log")
    _verified_rows(omniglot, accuracy, 300)
    assert _queries(client, result.verification_url) == few
    assert _queries(client, "/log") == log_few  # the ledger too


def _multi_metric_rows(benchmark, n: int, tag: str) -> None:
    """``n`` archive rows of three metrics each (one result per value, one key per row), and
    ``n`` // 5 rows holding only the second and third (no value of the first)."""
    from leaderboard import catalogue
    from leaderboard.models import Result

    metrics = [
        Metric.objects.get_or_create(name=name, defaults={"slug": name.lower()})[0]
        for name in ("Rows A", "Rows B", "Rows C")
    ]
    for m in metrics:
        benchmark.metrics.add(m)
    model = catalogue.get_model(f"Rows model {tag}")[0]
    Result.objects.bulk_create(
        Result(
            benchmark=benchmark,
            metric=m,
            model=model,
            value=float(i % 17 + j),
            raw_value="",
            archive_key=f"rows-{tag}-{i}",
        )
        for i in range(n + n // 5)
        for j, m in enumerate(metrics)
        if not (i >= n and j == 0)
    )


def test_multi_metric_rows_cost_the_same_queries_for_a_few_and_for_hundreds(client):
    bench = Benchmark.objects.get(name="OMNIGLOT - 5-Shot, 5-way")
    _multi_metric_rows(bench, 5, "few")
    v1 = f"/api/v1/evaluations/{bench.slug}/results/"
    urls = [
        (bench.get_absolute_url(), {}),
        (bench.get_absolute_url(), {"metric": "rows-b"}),
        (v1, {}),
        (f"{v1}", {"page": 2, "items_per_page": 3}),
    ]
    few = [_queries(client, url, params) for url, params in urls]
    _multi_metric_rows(bench, 300, "many")
    assert [_queries(client, url, params) for url, params in urls] == few
    # Deep pages, by a metric some rows lack: the ranked rows, the page that straddles them and
    # the rows without a value, and the others: the row above the page and, where a page
    # straddles, the second part's query, at most.
    for page in (2, 6, 7, 8):
        deep = _queries(client, bench.get_absolute_url(), {"metric": "rows-a", "page": page})
        assert deep <= few[0] + 2, page
