"""The number of SQL queries of the busiest pages does not grow with the number of rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

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
    assert few <= 8


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
    assert few <= 5  # catalogue version (cache miss), resolve the dataset, count, page, benchmarks


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
