import json

import pytest

from leaderboard.models import Benchmark, Metric

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")

MAML = "model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks"


def test_paper_search(client):
    response = client.get("/api/papers/?search=model-agnostic")
    assert response.status_code == 200
    [paper] = response.json()["results"]
    assert paper["slug"] == MAML and paper["arxiv_id"] == "1703.03400"
    assert "abstract" not in paper
    assert client.get("/api/papers?search=transformer").json()["count"] == 0
    assert client.get("/api/papers?search=%00").status_code == 400


def test_paper_detail_has_the_abstract_code_links_and_every_result(client):
    paper = client.get(f"/api/papers/{MAML}").json()
    assert paper["authors"] == ["Chelsea Finn", "Pieter Abbeel", "Sergey Levine"]
    assert paper["venue"] == "ICML 2017" and paper["date"] == "2017-03-09"
    assert paper["abstract"].startswith("We propose an algorithm for meta-learning")
    assert paper["code_links"] == [
        {"url": "https://github.com/cbfinn/maml", "official": True, "framework": "tensorflow"}
    ]
    assert len(paper["results"]) == 22
    assert "few-shot-image-classification" in paper["tasks"]


def test_papers_filter_by_task_and_year(client):
    assert client.get("/api/papers", {"task": "Meta-Learning"}).json()["count"] == 1
    assert client.get("/api/papers", {"year": "2017"}).json()["count"] == 1
    assert client.get("/api/papers", {"year": "2016"}).json()["count"] == 0
    assert client.get("/api/papers", {"year": "last"}).status_code == 400


def test_tasks_and_datasets(client):
    tasks = {t["name"]: t for t in client.get("/api/tasks").json()["results"]}
    assert tasks["Few-Shot Image Classification"]["benchmark_count"] == 16
    assert tasks["2D Pose Estimation"]["benchmark_count"] == 1
    datasets = {d["slug"]: d for d in client.get("/api/datasets").json()["results"]}
    assert datasets["omniglot"]["benchmark_count"] == 4
    assert datasets["mini-imagenet"]["name"] == "Mini-ImageNet"
    assert client.get("/api/datasets/omniglot").json()["name"] == "Omniglot"
    assert client.get("/api/tasks/regression/").json()["benchmark_count"] == 1


def test_benchmarks_filter_by_dataset(client):
    names = {b["name"] for b in client.get("/api/benchmarks/?dataset=omniglot").json()["results"]}
    assert names == {
        "OMNIGLOT - 1-Shot, 5-way",
        "OMNIGLOT - 5-Shot, 5-way",
        "OMNIGLOT - 1-Shot, 20-way",
        "OMNIGLOT - 5-Shot, 20-way",
    }
    assert client.get("/api/benchmarks?dataset=Omniglot").json()["count"] == 4
    assert client.get("/api/benchmarks?task=regression").json()["results"][0]["shots"] == 10


def test_a_benchmark_detail_ranks_by_the_metrics_direction(client):
    meta = Benchmark.objects.get(name="Meta-Dataset Rank")
    rank = Metric.objects.get(name="Mean Rank")
    make_verified(meta, rank, 3.0, model="Better")
    make_verified(meta, rank, 20.0, model="Worse")
    make_verified(meta, rank, 3.0, model="Tied")
    [table] = client.get(f"/api/benchmarks/{meta.slug}").json()["sota"]
    assert table["metric"] == "Mean Rank" and table["higher_is_better"] is False
    assert table["total"] == 4
    assert [(r["rank"], r["value"]) for r in table["rows"]] == [
        (1, 3.0),
        (1, 3.0),
        (3, 10.25),
        (4, 20.0),
    ]


def test_a_higher_is_better_benchmark_ranks_descending(client):
    bench = Benchmark.objects.get(name="Mini-Imagenet 5-way (1-shot)")
    make_verified(bench, Metric.objects.get(name="Accuracy"), 50.2)
    [table] = client.get(f"/api/benchmarks/{bench.slug}/").json()["sota"]
    assert [(r["rank"], r["value"], r["verified"]) for r in table["rows"]] == [
        (1, 50.2, True),
        (2, 48.7, False),
    ]


def test_a_benchmark_without_results_lists_its_metric(client):
    [table] = client.get("/api/benchmarks/sinusoid-regression-10-shot").json()["sota"]
    assert (table["metric"], table["total"], table["rows"]) == ("MSE", 0, [])


@pytest.mark.parametrize(
    "url",
    [
        "/api/benchmarks/no-such-benchmark",
        "/api/papers/no-such-paper/",
        "/api/tasks/nothing",
        "/api/datasets/nothing",
    ],
)
def test_an_unknown_object_is_a_json_404(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_slug_with_a_nul_character_is_a_404_not_a_500(client):
    assert client.get("/api/benchmarks/a%00b").status_code == 404
    assert client.get("/benchmarks/a%00b/").status_code == 404


def test_the_export_endpoint_serves_the_archive_format(client):
    response = client.get("/api/export/evaluation-tables.json")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json"
    tasks = {t["task"]: t for t in json.loads(b"".join(response.streaming_content))}
    omniglot = next(
        d
        for d in tasks["Image Classification"]["datasets"]
        if d["dataset"] == "OMNIGLOT - 1-Shot, 5-way"
    )
    [row] = omniglot["sota"]["rows"]
    assert row["model_name"] == "MAML" and row["metrics"] == {"Accuracy": "98.7"}
    assert row["paper_date"] == "2017-03-09"
    assert "verified" not in row and "ways" not in omniglot  # sota-extractor's schema only
    extended = client.get("/api/export/evaluation-tables.json?extended=1")
    ext = json.loads(b"".join(extended.streaming_content))
    assert all(t["verisota_extended"] for t in ext)


def test_the_ping_view_and_the_schema(client):
    assert client.get("/api/_ping/").json() == {"status": "ok"}
    schema = client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    doc = schema.json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/results", "/api/papers", "/api/benchmarks/{slug}"):
        assert any(p.rstrip("/") == path for p in doc["paths"]), path
    params = {p["name"] for p in doc["paths"]["/api/results/"]["get"]["parameters"]}
    assert {
        "dataset",
        "benchmark",
        "task",
        "metric",
        "paper",
        "model",
        "verified",
        "ordering",
    } <= params
