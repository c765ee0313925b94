"""paperswithcode-client 0.3.1, unmodified, against a live VeriSOTA server: every read call it
makes parses into its models, pages and ``q`` filtering included."""

import datetime

import pytest
from django.core.management import call_command

from leaderboard.models import Benchmark, CodeLink, Dataset, Metric, Paper, Result, Task

MAML = "model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks"
OMNIGLOT_1 = "omniglot-1-shot-5-way"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalogue(transactional_db):
    call_command("load_seed", verbosity=0)
    maml = Paper.objects.get(slug=MAML)
    CodeLink.objects.create(
        paper=maml, url="https://github.com/dragen1860/MAML-Pytorch", framework="pytorch"
    )
    CodeLink.objects.create(paper=maml, url="https://github.com/cbfinn/maml_rl", framework="tf")
    for i in range(5):
        Paper.objects.create(
            title=f"Learning to learn, part {i}",
            slug=f"learning-to-learn-{i}",
            authors=["Ada Lovelace"],
            date=datetime.date(2018, 1, 1 + i),
            venue="NeurIPS 2018",
            abstract="We study meta-learning.",
        )
    parent = Task.objects.get(slug="few-shot-image-classification")
    root = Task.objects.create(name="Computer Vision Tasks", slug="computer-vision-tasks")
    parent.parent = root
    parent.save()
    Task.objects.create(name="5-way Few-Shot", slug="5-way-few-shot", parent=parent)
    return maml


def test_papers_list_page_two_and_q(pwc, catalogue):
    first, second, found, by_arxiv, by_title = pwc(
        [
            ("paper_list", [], {"items_per_page": 4}),
            ("paper_list", [], {"page": 2, "items_per_page": 4}),
            ("paper_list", [], {"q": "maml"}),
            ("paper_list", [], {"arxiv_id": "1703.03400"}),
            ("paper_list", [], {"title": "part 3"}),
        ]
    )
    assert first["count"] == 6 and first["next_page"] == 2 and first["previous_page"] is None
    assert len(first["results"]) == 4
    assert second["previous_page"] == 1 and second["next_page"] is None
    assert len(second["results"]) == 2
    assert {p["id"] for p in first["results"]}.isdisjoint(p["id"] for p in second["results"])
    assert [p["id"] for p in found["results"]] == [MAML]
    assert [p["id"] for p in by_arxiv["results"]] == [MAML]
    assert [p["title"] for p in by_title["results"]] == ["Learning to learn, part 3"]


def test_paper_get_and_its_lists(pwc, catalogue):
    paper, repos, results, tasks, methods, datasets = pwc(
        [
            ("paper_get", [MAML], {}),
            ("paper_repository_list", [MAML], {}),
            ("paper_result_list", [MAML], {"items_per_page": 5}),
            ("paper_task_list", [MAML], {}),
            ("paper_method_list", [MAML], {}),
            ("paper_dataset_list", [MAML], {}),
        ]
    )
    assert paper["id"] == MAML and paper["arxiv_id"] == "1703.03400"
    assert paper["url_abs"] == "https://arxiv.org/abs/1703.03400"
    assert paper["url_pdf"] == "https://arxiv.org/pdf/1703.03400"
    assert paper["authors"][0] == "Chelsea Finn"
    assert paper["published"] == "2017-03-09"
    assert paper["conference"] == "icml" and paper["proceeding"] == "icml-2017"
    assert repos["count"] == 3
    assert repos["results"][0]["url"] == "https://github.com/cbfinn/maml"
    assert repos["results"][0]["is_official"] is True
    assert repos["results"][0]["owner"] == "cbfinn" and repos["results"][0]["name"] == "maml"
    assert {r["framework"] for r in repos["results"]} == {"tensorflow", "pytorch", "tf"}
    assert results["count"] == Result.objects.filter(paper=catalogue).count()
    assert results["next_page"] == 2
    row = results["results"][0]
    assert set(row["metrics"]) == {row["best_metric"]} and row["paper"] == MAML
    assert row["best_rank"] >= 1 and row["methodology"]
    assert "Few-Shot Learning" in {t["name"] for t in tasks["results"]}
    assert methods["count"] == len(methods["results"])
    assert {"omniglot", "mini-imagenet"} <= {d["id"] for d in datasets["results"]}


def test_search(pwc, catalogue):
    (found, everything) = pwc(
        [("search", [], {"q": "finn"}), ("search", [], {"items_per_page": 2})]
    )
    assert found["count"] == 1
    hit = found["results"][0]
    assert hit["paper"]["id"] == MAML and hit["is_official"] is True
    assert hit["repository"]["url"] == "https://github.com/cbfinn/maml"
    assert everything["count"] == 6 and everything["next_page"] == 2


def test_tasks(pwc, catalogue):
    few_shot = "few-shot-image-classification"
    listed, page2, found, named, task, children, parents, papers, evaluations = pwc(
        [
            ("task_list", [], {"items_per_page": 3}),
            ("task_list", [], {"page": 2, "items_per_page": 3}),
            ("task_list", [], {"q": "few-shot"}),
            ("task_list", [], {"name": "Meta-Learning"}),
            ("task_get", [few_shot], {}),
            ("task_child_list", [few_shot], {}),
            ("task_parent_list", ["5-way-few-shot"], {}),
            ("task_paper_list", ["few-shot-learning"], {}),
            ("task_evaluation_list", [few_shot], {}),
        ]
    )
    assert listed["count"] == Task.objects.count() and len(listed["results"]) == 3
    assert page2["previous_page"] == 1
    assert {t["id"] for t in listed["results"]}.isdisjoint(t["id"] for t in page2["results"])
    assert few_shot in [t["id"] for t in found["results"]]
    assert [t["name"] for t in named["results"]] == ["Meta-Learning"]
    assert task["id"] == few_shot and task["name"] == "Few-Shot Image Classification"
    assert [t["id"] for t in children["results"]] == ["5-way-few-shot"]
    assert [t["id"] for t in parents["results"]] == [few_shot, "computer-vision-tasks"]
    assert [p["id"] for p in papers["results"]] == [MAML]
    assert OMNIGLOT_1 in [e["id"] for e in evaluations["results"]]


def test_datasets(pwc, catalogue):
    listed, found, dataset, evaluations = pwc(
        [
            ("dataset_list", [], {"items_per_page": 2}),
            ("dataset_list", [], {"q": "omniglot"}),
            ("dataset_get", ["omniglot"], {}),
            ("dataset_evaluation_list", ["omniglot"], {}),
        ]
    )
    assert listed["count"] == Dataset.objects.count() and listed["next_page"] == 2
    assert [d["id"] for d in found["results"]] == ["omniglot"]
    assert dataset["name"] == "Omniglot"
    ids = {e["id"] for e in evaluations["results"]}
    assert ids == set(
        Benchmark.objects.filter(dataset__slug="omniglot").values_list("slug", flat=True)
    )
    assert all(e["dataset"] == "omniglot" for e in evaluations["results"])


def test_evaluations(pwc, catalogue):
    result = Result.objects.filter(benchmark__slug=OMNIGLOT_1).first()
    metric = Metric.objects.get(name="Accuracy")
    listed, page2, table, metrics, one_metric, results, one_result = pwc(
        [
            ("evaluation_list", [], {"items_per_page": 5}),
            ("evaluation_list", [], {"page": 2, "items_per_page": 5}),
            ("evaluation_get", [OMNIGLOT_1], {}),
            ("evaluation_metric_list", [OMNIGLOT_1], {}),
            ("evaluation_metric_get", [OMNIGLOT_1, metric.slug], {}),
            ("evaluation_result_list", [OMNIGLOT_1], {}),
            ("evaluation_result_get", [OMNIGLOT_1, str(result.pk)], {}),
        ]
    )
    assert listed["count"] == Benchmark.objects.count() and page2["previous_page"] == 1
    assert table["id"] == OMNIGLOT_1 and table["dataset"] == "omniglot" and table["task"]
    assert [m["name"] for m in metrics["results"]] == ["Accuracy"]
    assert one_metric["is_loss"] is False
    assert results["count"] == Result.objects.filter(benchmark__slug=OMNIGLOT_1).count()
    assert results["results"][0]["best_rank"] == 1
    assert one_result["id"] == str(result.pk) and one_result["metrics"] == {
        "Accuracy": result.raw_value or f"{result.value:.6g}"
    }


def test_repositories(pwc, catalogue):
    listed, page2, found, owner, repo, papers, starred = pwc(
        [
            ("repository_list", [], {"items_per_page": 2}),
            ("repository_list", [], {"page": 2, "items_per_page": 2}),
            ("repository_list", [], {"q": "pytorch"}),
            ("repository_owner_list", ["cbfinn"], {}),
            ("repository_get", ["cbfinn", "maml"], {}),
            ("repository_paper_list", ["cbfinn", "maml"], {}),
            ("repository_list", [], {"stars": 10}),
        ]
    )
    assert listed["count"] == 3 and listed["next_page"] == 2 and len(page2["results"]) == 1
    assert [r["name"] for r in found["results"]] == ["MAML-Pytorch"]
    assert {r["name"] for r in owner["results"]} == {"maml", "maml_rl"}
    assert repo["url"] == "https://github.com/cbfinn/maml" and repo["framework"] == "tensorflow"
    assert [p["id"] for p in papers["results"]] == [MAML]
    assert starred["count"] == 0  # no star counts are recorded


def test_conferences(pwc, catalogue):
    listed, found, conf, proceedings, proceeding, papers = pwc(
        [
            ("conference_list", [], {}),
            ("conference_list", [], {"q": "neur"}),
            ("conference_get", ["icml"], {}),
            ("proceeding_list", ["neurips"], {}),
            ("proceeding_get", ["neurips", "neurips-2018"], {}),
            ("proceeding_paper_list", ["neurips", "neurips-2018"], {"items_per_page": 2}),
        ]
    )
    assert {c["id"] for c in listed["results"]} == {"icml", "neurips"}
    assert [c["name"] for c in found["results"]] == ["NeurIPS"]
    assert conf == {"id": "icml", "name": "ICML"}
    assert [p["id"] for p in proceedings["results"]] == ["neurips-2018"]
    assert proceeding["year"] == 2018
    assert papers["count"] == 5 and papers["next_page"] == 2
