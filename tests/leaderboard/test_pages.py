import pytest
from django.utils.html import escape

from leaderboard.models import Benchmark, Metric, Result

from .conftest import add_results, make_verified

pytestmark = pytest.mark.usefixtures("seeded")

MAML = "/papers/model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks/"


def test_home_shows_notable_benchmarks_recent_verified_results_and_search(client):
    bench = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    make_verified(bench, Metric.objects.get(name="Accuracy"), 97.5)
    page = client.get("/").content.decode()
    assert 'id="notable-benchmarks"' in page
    assert bench.get_absolute_url() in page
    assert "Recently verified results" in page and "97.5" in page and "verified" in page
    assert 'action="/search/"' in page


def test_home_without_verified_results_says_so(client):
    assert "Nothing verified yet" in client.get("/").content.decode()


def test_task_list_and_task_page(client):
    page = client.get("/tasks/").content.decode()
    assert "Few-Shot Image Classification" in page and "2D Pose Estimation" in page
    page = client.get("/tasks/2d-pose-estimation/").content.decode()
    assert "/benchmarks/mp100/" in page and "MP100" in page


def test_dataset_page_lists_its_benchmarks(client):
    page = client.get("/datasets/omniglot/").content.decode()
    for name in ("OMNIGLOT - 1-Shot, 5-way", "OMNIGLOT - 5-Shot, 20-way"):
        assert escape(name) in page
    assert "Mini-Imagenet" not in page
    assert "Omniglot" in client.get("/datasets/").content.decode()


def test_the_benchmark_page_lists_maml_at_48_7_marked_archive(client):
    response = client.get("/benchmarks/mini-imagenet-5-way-1-shot/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="sota-table"' in page
    row = page.split('id="sota-table"')[1].split("</tbody>")[0]
    assert "MAML" in row and ">48.7<" in row and "archive, not re-run" in row
    assert MAML in row and ">2017<" in row
    assert 'id="progress-chart"' in page and "<path" in page


def test_the_benchmark_page_ranks_a_lower_is_better_metric_ascending(client):
    meta = Benchmark.objects.get(name="Meta-Dataset Rank")
    rank = Metric.objects.get(name="Mean Rank")
    make_verified(meta, rank, 3.0, model="Better")
    make_verified(meta, rank, 20.0, model="Worse")
    page = client.get(meta.get_absolute_url()).content.decode()
    table = page.split('id="sota-table"')[1]
    assert table.index("Better") < table.index("fo-MAML") < table.index("Worse")
    assert "lower is better" in page


def test_a_verified_row_shows_its_badge_and_an_archive_row_its_mark(client):
    bench = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    make_verified(bench, Metric.objects.get(name="Accuracy"), 99.2)
    table = client.get(bench.get_absolute_url()).content.decode().split('id="sota-table"')[1]
    verified_row, archive_row = table.split("<tr")[2:4]
    # The measured figure, its interval, the claim beside it; the badge and the evidence.
    assert ">99.20</span>" in verified_row and "± 0.30" in verified_row
    assert "(claimed 99.3)" in verified_row
    assert "&#10003; verified" in verified_row and "non-transductive" in verified_row
    assert 'href="/submissions/1/"' in verified_row
    assert "archive, not re-run" in archive_row and "claimed" not in archive_row


def test_the_benchmark_page_switches_metric_and_paginates(client):
    bench = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    add_results(bench, Metric.objects.get(name="Mean Rank"), 60)
    page = client.get(bench.get_absolute_url()).content.decode()
    assert "?metric=mean-rank" in page and "?metric=accuracy" in page
    first = client.get(bench.get_absolute_url(), {"metric": "mean-rank"}).content.decode()
    # Every row of the table once (each of these a row of one metric): the 60 ranked by Mean
    # Rank, then the seed's Accuracy rows, which hold no Mean Rank value.
    rows = Result.objects.filter(benchmark=bench).count()
    assert rows > 60
    assert "Page 1 of 2" in first and f"{rows} in all" in first
    second = client.get(bench.get_absolute_url(), {"metric": "mean-rank", "page": 2})
    body = second.content.decode().split('id="sota-table"')[1].split("<tbody>")[1]
    body = body.split("</tbody>")[0]
    assert body.count("<tr") == rows - 50
    assert ">51<" in body  # ranks continue on the second page
    assert client.get(bench.get_absolute_url(), {"page": "x"}).status_code == 200


def test_the_paper_page_shows_the_abstract_authors_code_and_all_results(client):
    page = client.get(MAML).content.decode()
    assert "Chelsea Finn, Pieter Abbeel, Sergey Levine" in page
    assert "2017-03-09" in page and "ICML 2017" in page
    assert "We propose an algorithm for meta-learning that is model-agnostic" in page
    assert "https://github.com/cbfinn/maml" in page and ">official<" in page
    table = page.split('id="paper-results"')[1].split("<tbody>")[1].split("</tbody>")[0]
    assert table.count("<tr") == Result.objects.count() == 22
    for value in ("98.7", "99.9", "48.7", "63.1", "70.3", "70.83", "57.024", "10.25", "61.5"):
        assert f">{value}<" in table
    assert "Image Classification, Few-Shot Image Classification" in table or (
        "Few-Shot Image Classification, Image Classification" in table
    )


def test_search_finds_papers_tasks_and_datasets(client):
    page = client.get("/search/", {"q": "omniglot"}).content.decode()
    assert "/datasets/omniglot/" in page and "/benchmarks/omniglot-1-shot-5-way/" in page
    page = client.get("/search/", {"q": "model-agnostic"}).content.decode()
    assert MAML in page
    page = client.get("/search/", {"q": "few-shot"}).content.decode()
    assert "/tasks/few-shot-image-classification/" in page
    page = client.get("/search/", {"q": "mini", "type": "benchmarks"}).content.decode()
    assert 'id="results-benchmarks"' in page and 'id="results-papers"' not in page


def test_search_escapes_the_query(client):
    page = client.get("/search/", {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize(
    "url", ["/tasks/nope/", "/datasets/nope/", "/benchmarks/nope/", "/papers/nope/", "/nothing/"]
)
def test_a_missing_object_is_a_404_page(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert 'class="site-header"' in response.content.decode()


def test_long_lists_are_paginated(client):
    bench = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    add_results(bench, Metric.objects.get(name="Accuracy"), 30)
    assert "Page 1 of 2" in client.get("/papers/").content.decode()
    assert "Page 2 of 2" in client.get("/papers/?page=2").content.decode()
    assert "Page 2 of 2" in client.get("/papers/?page=999").content.decode()
    page = client.get("/search/", {"q": "Paper", "type": "papers"}).content.decode()
    assert "Page 1 of 2" in page


def test_reproduced_figures_show_two_decimals_or_three_digits_below_one():
    from leaderboard.templatetags.leaderboard_tags import measured

    assert (measured(50.26667), measured(1.728431, 50.26667)) == ("50.27", "1.73")
    assert (measured(0.012345), measured(0.0041234, 0.012345)) == ("0.0123", "0.00412")
    assert measured(None) == ""
