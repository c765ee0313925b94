import django_filters
import pytest
from django.http import QueryDict

from leaderboard.api.filters import ResultFilter
from leaderboard.models import Benchmark, Metric, Result

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")


def _values(response) -> set:
    assert response.status_code == 200, response.content
    return {(r["benchmark_name"], r["model"], r["value"]) for r in response.json()["results"]}


def test_it_returns_every_omniglot_variant_without_a_trailing_slash_or_redirect(client):
    response = client.get("/api/results?dataset=omniglot")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert _values(response) == {
        ("OMNIGLOT - 1-Shot, 5-way", "MAML", 98.7),
        ("OMNIGLOT - 5-Shot, 5-way", "MAML", 99.9),
        ("OMNIGLOT - 1-Shot, 20-way", "MAML", 95.8),
        ("OMNIGLOT - 5-Shot, 20-way", "MAML", 98.9),
    }
    assert _values(client.get("/api/results/?dataset=Omniglot")) == _values(response)


@pytest.mark.parametrize("name", ["Mini-ImageNet", "mini-imagenet", "MINI-IMAGENET"])
def test_it_matches_the_dataset_by_name_or_slug_in_any_case(client, name):
    values = {v for _, _, v in _values(client.get("/api/results", {"dataset": name}))}
    assert {48.7, 63.1, 46.9, 31.3, 64.5, 47.6} <= values
    assert 98.7 not in values


def test_each_row_carries_what_a_program_needs(client):
    row = client.get("/api/results", {"benchmark": "mini-imagenet-5-way-1-shot"}).json()["results"][
        0
    ]
    assert row["value"] == 48.7 and row["raw_value"] == "48.7"
    assert row["model"] == "MAML"
    assert row["metric"] == "Accuracy" and row["higher_is_better"] is True
    assert row["paper_title"].startswith("Model-Agnostic Meta-Learning")
    assert row["paper_date"] == "2017-03-09"
    assert row["source"] == "archive" and row["verified"] is False
    assert row["page_url"] == "/benchmarks/mini-imagenet-5-way-1-shot/"


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"benchmark": "Mini-Imagenet 5-way (1-shot)"}, {48.7}),
        ({"benchmark": "omniglot-5-shot-5-way"}, {99.9}),
        ({"task": "2D Pose Estimation"}, {61.5}),
        ({"task": "2d-classification"}, {61.5}),
        ({"metric": "mean-rank"}, {10.25}),
        ({"metric": "1:1 Accuracy"}, {64.5, 47.6}),
        ({"model": "fo-MAML"}, {57.024, 10.25}),
        ({"model": "maml-transduction", "dataset": "tiered-imagenet"}, {34.8, 54.7}),
        ({"paper": "1703.03400", "metric": "Mean PCK@0.2 - 1shot"}, {61.5}),
        ({"dataset": "omniglot", "verified": "true"}, {97.5}),
        ({"dataset": "omniglot", "verified": "false"}, {98.7, 99.9, 95.8, 98.9}),
    ],
)
def test_each_filter(client, params, expected):
    make_verified(
        Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way"),
        Metric.objects.get(name="Accuracy"),
        97.5,
    )
    assert {v for _, _, v in _values(client.get("/api/results", params))} == expected


def test_the_task_filter_counts_a_benchmark_under_two_tasks_once(client):
    rows = client.get("/api/results", {"task": "Few-Shot Image Classification"}).json()
    assert rows["count"] == 21  # 19 rows of the page (MP100 aside) + two 20-way rows
    ids = [r["id"] for r in rows["results"]]
    assert len(ids) == len(set(ids))


def test_ordering(client):
    rows = client.get("/api/results", {"dataset": "omniglot", "ordering": "value"}).json()
    assert [r["value"] for r in rows["results"]] == [95.8, 98.7, 98.9, 99.9]
    rows = client.get("/api/results", {"dataset": "omniglot", "ordering": "-value"}).json()
    assert [r["value"] for r in rows["results"]] == [99.9, 98.9, 98.7, 95.8]


def test_the_default_order_is_newest_first(client):
    rows = client.get("/api/results").json()["results"]
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)


def test_ordering_best_ranks_each_metric_by_its_direction(client):
    meta = Benchmark.objects.get(name="Meta-Dataset Rank")
    rank = Metric.objects.get(name="Mean Rank")
    make_verified(meta, rank, 3.0, model="Better")
    make_verified(meta, rank, 20.0, model="Worse")
    rows = client.get("/api/results", {"benchmark": meta.slug, "ordering": "best"}).json()
    assert [r["value"] for r in rows["results"]] == [3.0, 10.25, 20.0]
    bench = Benchmark.objects.get(name="Tiered ImageNet 10-way (5-shot)")
    rows = client.get("/api/results", {"benchmark": bench.slug, "ordering": "best"}).json()
    assert [r["value"] for r in rows["results"]] == [54.7, 53.3]


@pytest.mark.parametrize(
    "params",
    [{"dataset": "no-such-dataset"}, {"task": "nothing"}, {"model": "GPT-9"}, {"paper": "x"}],
)
def test_an_unknown_value_gives_an_empty_page(client, params):
    response = client.get("/api/results", params)
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"verified": "maybe"}, "verified"),
        ({"ordering": "password"}, "ordering"),
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page_size": "-3"}, "page_size"),
        ({"dataset": "omni\x00glot"}, "dataset"),
        ({"model": "a\x00"}, "model"),
    ],
)
def test_a_malformed_value_is_a_400_with_a_json_body(client, params, field):
    response = client.get("/api/results", params)
    assert response.status_code == 400
    assert field in response.json()


def test_pagination(client):
    first = client.get("/api/results", {"page_size": 5}).json()
    assert first["count"] == Result.objects.count() == 22
    assert len(first["results"]) == 5
    assert "page=2" in first["next"] and first["previous"] is None
    last = client.get("/api/results", {"page_size": 5, "page": 5}).json()
    assert len(last["results"]) == 2 and last["next"] is None
    seen = {
        r["id"]
        for p in range(1, 6)
        for r in client.get("/api/results", {"page_size": 5, "page": p}).json()["results"]
    }
    assert len(seen) == 22
    beyond = client.get("/api/results", {"page_size": 5, "page": 6})
    assert beyond.status_code == 404 and "detail" in beyond.json()


def test_a_result_detail_and_a_missing_one(client):
    result = Result.objects.get(value=98.7)
    assert client.get(f"/api/results/{result.pk}").json()["value"] == 98.7
    missing = client.get("/api/results/999999")
    assert missing.status_code == 404 and missing.json()["detail"]


def test_it_is_read_only(client, staff):
    client.force_login(staff)
    assert client.post("/api/results", {"value": 1}).status_code == 405
    assert client.delete(f"/api/results/{Result.objects.first().pk}").status_code == 405
    assert Result.objects.count() == 22


def test_a_verified_row_carries_its_badge(client):
    make_verified(
        Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way"),
        Metric.objects.get(name="Accuracy"),
        97.5,
    )
    row = client.get("/api/results", {"verified": "1"}).json()["results"][0]
    assert row["verified"] is True and row["source"] == "verified"
    # The row's number is the measured one; the claim beside it; the old names repeat it.
    assert (row["value"], row["ci95"], row["claimed_value"]) == (97.5, 0.3, 97.6)
    assert (row["reproduced_value"], row["reproduced_ci95"]) == (97.5, 0.3)
    assert row["evaluation_mode"] == "non-transductive"
    assert row["verification_url"] == "/submissions/1/"


def test_the_results_filter_builds_its_form_class_once_as_django_filter_would():
    once = ResultFilter(QueryDict("")).get_form_class()
    assert ResultFilter(QueryDict("dataset=omniglot&ordering=best")).get_form_class() is once
    fresh = django_filters.FilterSet.get_form_class(ResultFilter(QueryDict("verified=true")))
    assert fresh is not once and list(once.base_fields) == list(fresh.base_fields)
    for name, field in fresh.base_fields.items():
        built = once.base_fields[name]
        assert type(built) is type(field), name
        assert getattr(built, "choices", None) == getattr(field, "choices", None), name
        assert built.required == field.required, name
