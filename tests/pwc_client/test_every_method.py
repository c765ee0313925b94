"""paperswithcode-client 0.3.1, unmodified, against a live VeriSOTA server: every public method
of ``PapersWithCodeClient`` (the client lists them itself: 56), each called and its answer
asserted, the writes with a staff member's token and checked in the database and on the ledger.
"""

import datetime

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from leaderboard.models import (
    Area,
    Benchmark,
    BenchmarkMetric,
    CatalogueEdit,
    Dataset,
    Method,
    Paper,
    Result,
    Task,
)

from .conftest import client_methods

pytestmark = pytest.mark.django_db(transaction=True)

MAML = "model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks"
MAML_PWC_ID = "model-agnostic-meta-learning-for-fast"
OMNIGLOT_1 = "omniglot-1-shot-5-way"
EXPECTED_METHODS = 56


@pytest.fixture
def catalogue(transactional_db):
    call_command("load_seed", verbosity=0)
    maml = Paper.objects.get(slug=MAML)
    maml.pwc_url = f"https://paperswithcode.com/paper/{MAML_PWC_ID}"
    maml.save()
    for i in range(3):
        Paper.objects.create(
            title=f"Learning to learn, part {i}",
            slug=f"learning-to-learn-{i}",
            authors=["Ada Lovelace", f"Coauthor {i}"],
            date=datetime.date(2018, 1, 1 + i),
            venue="NeurIPS 2018",
        )
    area = Area.objects.create(name="Computer Vision", slug="computer-vision")
    Task.objects.filter(slug="few-shot-image-classification").update(area=area)
    method = Method.objects.create(
        name="MAML",
        slug="maml",
        full_name="Model-Agnostic Meta-Learning",
        paper=maml,
        num_papers=321,
        pwc_url="https://paperswithcode.com/method/maml",
    )
    maml.methods.add(method)
    return maml


@pytest.fixture
def staff_token(staff):
    return Token.objects.create(user=staff).key


def test_every_public_method_of_the_client_answers(pwc, pwc_python, catalogue, staff_token, client):
    methods = client_methods(pwc_python)
    assert len(methods) == EXPECTED_METHODS
    called: list[str] = []

    def run(calls, token=None):
        called.extend(name for name, _, _ in calls)
        return pwc(calls, token=token)

    # -- papers, search and repositories
    (
        found,
        papers,
        paper,
        by_pwc_id,
        datasets,
        repos,
        tasks,
        paper_methods,
        results,
    ) = run(
        [
            ("search", [], {"q": "lovelace"}),
            ("paper_list", [], {"items_per_page": 2}),
            ("paper_get", [MAML], {}),
            ("paper_get", [MAML_PWC_ID], {}),  # the id of its PWC URL answers too
            ("paper_dataset_list", [MAML_PWC_ID], {}),
            ("paper_repository_list", [MAML], {}),
            ("paper_task_list", [MAML], {}),
            ("paper_method_list", [MAML], {}),
            ("paper_result_list", [MAML], {"items_per_page": 3}),
        ]
    )
    assert found["count"] == 3 and {h["paper"]["title"][:17] for h in found["results"]} == {
        "Learning to learn"
    }
    assert papers["count"] == 4 and len(papers["results"]) == 2 and papers["next_page"] == 2
    assert paper["id"] == by_pwc_id["id"] == MAML and by_pwc_id["arxiv_id"] == "1703.03400"
    assert {"omniglot", "mini-imagenet"} <= {d["id"] for d in datasets["results"]}
    assert repos["results"][0]["url"] == "https://github.com/cbfinn/maml"
    assert "Few-Shot Learning" in {t["name"] for t in tasks["results"]}
    assert [m["id"] for m in paper_methods["results"]] == ["maml"]
    assert results["count"] == Result.objects.filter(paper=catalogue).count()
    assert len(results["results"]) == 3

    owner_repos, repo_list, repo, repo_papers = run(
        [
            ("repository_owner_list", ["cbfinn"], {}),
            ("repository_list", [], {"owner": "cbfinn"}),
            ("repository_get", ["cbfinn", "maml"], {}),
            ("repository_paper_list", ["cbfinn", "maml"], {}),
        ]
    )
    assert [r["name"] for r in owner_repos["results"]] == ["maml"]
    assert repo_list["count"] == 1 and repo["is_official"] is None
    assert repo["url"] == "https://github.com/cbfinn/maml"
    assert [p["id"] for p in repo_papers["results"]] == [MAML]

    # -- authors (the names of the papers' author lists; an id is the slug of a name)
    authors, by_name, finn, finn_papers, ada_papers = run(
        [
            ("author_list", [], {"items_per_page": 100}),
            ("author_list", [], {"full_name": "Lovelace"}),
            ("author_get", ["chelsea-finn"], {}),
            ("author_paper_list", ["chelsea-finn"], {}),
            ("author_paper_list", ["ada-lovelace"], {"items_per_page": 2}),
        ]
    )
    ids = [a["id"] for a in authors["results"]]
    assert ids == sorted(ids) and {"chelsea-finn", "pieter-abbeel", "ada-lovelace"} <= set(ids)
    assert authors["count"] == len(ids) == 3 + 3 + 1  # Finn, Abbeel, Levine; 3 coauthors; Ada
    assert by_name["results"] == [{"id": "ada-lovelace", "full_name": "Ada Lovelace"}]
    assert finn == {"id": "chelsea-finn", "full_name": "Chelsea Finn"}
    assert [p["id"] for p in finn_papers["results"]] == [MAML]
    assert ada_papers["count"] == 3 and ada_papers["next_page"] == 2

    # -- conferences, areas, methods
    confs, conf, procs, proc, proc_papers = run(
        [
            ("conference_list", [], {}),
            ("conference_get", ["neurips"], {}),
            ("proceeding_list", ["neurips"], {}),
            ("proceeding_get", ["neurips", "neurips-2018"], {}),
            ("proceeding_paper_list", ["neurips", "neurips-2018"], {}),
        ]
    )
    assert {c["id"] for c in confs["results"]} == {"icml", "neurips"}
    assert conf == {"id": "neurips", "name": "NeurIPS"}
    assert [p["id"] for p in procs["results"]] == ["neurips-2018"] and proc["year"] == 2018
    assert proc_papers["count"] == 3
    areas, area, area_tasks, listed_methods, method = run(
        [
            ("area_list", [], {}),
            ("area_get", ["computer-vision"], {}),
            ("area_task_list", ["computer-vision"], {}),
            ("method_list", [], {"q": "maml"}),
            ("method_get", ["maml"], {}),
        ]
    )
    assert [a["id"] for a in areas["results"]] == ["computer-vision"]
    assert area == {"id": "computer-vision", "name": "Computer Vision"}
    assert [t["id"] for t in area_tasks["results"]] == ["few-shot-image-classification"]
    assert [m["id"] for m in listed_methods["results"]] == ["maml"]
    assert method["full_name"] == "Model-Agnostic Meta-Learning" and method["paper"] == MAML

    # -- tasks: reads, then add / update / delete with the staff token
    task_list, task, parents, children, task_papers, task_evals = run(
        [
            ("task_list", [], {"q": "few-shot"}),
            ("task_get", ["few-shot-image-classification"], {}),
            ("task_parent_list", ["few-shot-image-classification"], {}),
            ("task_child_list", ["few-shot-learning"], {}),
            ("task_paper_list", ["few-shot-learning"], {}),
            ("task_evaluation_list", ["few-shot-image-classification"], {}),
        ]
    )
    assert "few-shot-image-classification" in {t["id"] for t in task_list["results"]}
    assert task["name"] == "Few-Shot Image Classification"
    chain, t = [], Task.objects.get(slug=task["id"]).parent
    while t is not None:
        chain.append(t.slug)
        t = t.parent
    assert [p["id"] for p in parents["results"]] == chain
    assert children["count"] == Task.objects.filter(parent__slug="few-shot-learning").count()
    assert [p["id"] for p in task_papers["results"]] == [MAML]
    assert OMNIGLOT_1 in {e["id"] for e in task_evals["results"]}

    added, updated = run(
        [
            (
                "task_add",
                [
                    {
                        "__model__": "TaskCreateRequest",
                        "name": "Cross-Domain Few-Shot",
                        "description": "Few-shot across domains.",
                        "area": "Computer Vision",
                        "parent_task": "few-shot-image-classification",
                    }
                ],
                {},
            ),
            (
                "task_update",
                ["cross-domain-few-shot", {"__model__": "TaskUpdateRequest", "description": "X"}],
                {},
            ),
        ],
        token=staff_token,
    )
    assert added["id"] == "cross-domain-few-shot" and added["name"] == "Cross-Domain Few-Shot"
    assert updated["description"] == "X"
    made = Task.objects.get(slug="cross-domain-few-shot")
    assert (made.description, made.parent.slug, made.area.slug) == (
        "X",
        "few-shot-image-classification",
        "computer-vision",
    )
    assert run([("task_delete", ["cross-domain-few-shot"], {})], token=staff_token) == [None]
    assert not Task.objects.filter(slug="cross-domain-few-shot").exists()

    # -- datasets
    ds_list, ds, ds_evals = run(
        [
            ("dataset_list", [], {"q": "omniglot"}),
            ("dataset_get", ["omniglot"], {}),
            ("dataset_evaluation_list", ["omniglot"], {}),
        ]
    )
    assert [d["id"] for d in ds_list["results"]] == ["omniglot"] and ds["name"] == "Omniglot"
    assert {e["id"] for e in ds_evals["results"]} == set(
        Benchmark.objects.filter(dataset__slug="omniglot").values_list("slug", flat=True)
    )
    ds_added, ds_updated, ds_deleted, kept = run(
        [
            (
                "dataset_add",
                [
                    {
                        "__model__": "DatasetCreateRequest",
                        "name": "Lab Suite",
                        "full_name": "A lab's own few-shot suite",
                        "url": "https://example.org/lab-suite",
                    }
                ],
                {},
            ),
            (
                "dataset_update",
                ["lab-suite", {"__model__": "DatasetUpdateRequest", "name": "Lab Suite v2"}],
                {},
            ),
            (
                "dataset_add",
                [{"__model__": "DatasetCreateRequest", "name": "Scratch", "url": None}],
                {},
            ),
            ("dataset_delete", ["scratch"], {}),
        ],
        token=staff_token,
    )
    assert ds_added["url"] == "https://example.org/lab-suite"
    assert ds_updated["name"] == "Lab Suite v2" and ds_updated["id"] == "lab-suite"
    assert ds_deleted["id"] == "scratch" and kept is None
    left = Dataset.objects.filter(slug__in=["lab-suite", "scratch"])
    assert list(left.values_list("name", flat=True)) == ["Lab Suite v2"]

    # -- evaluation tables, their metrics and rows
    ev_list, ev, ev_metrics, ev_metric, ev_results, ev_result = run(
        [
            ("evaluation_list", [], {"items_per_page": 5}),
            ("evaluation_get", [OMNIGLOT_1], {}),
            ("evaluation_metric_list", [OMNIGLOT_1], {}),
            ("evaluation_metric_get", [OMNIGLOT_1, "accuracy"], {}),
            ("evaluation_result_list", [OMNIGLOT_1], {}),
            (
                "evaluation_result_get",
                [OMNIGLOT_1, str(Result.objects.filter(benchmark__slug=OMNIGLOT_1).first().pk)],
                {},
            ),
        ]
    )
    assert ev_list["count"] == Benchmark.objects.count() and ev["dataset"] == "omniglot"
    assert [m["name"] for m in ev_metrics["results"]] == ["Accuracy"]
    assert ev_metric["is_loss"] is False
    assert ev_results["count"] == Result.objects.filter(benchmark__slug=OMNIGLOT_1).count()
    assert ev_result["methodology"]

    created, ev_updated = run(
        [
            (
                "evaluation_create",
                [
                    {
                        "__model__": "EvaluationTableCreateRequest",
                        "task": "few-shot-image-classification",
                        "dataset": "lab-suite",
                        "description": "The suite, all sources.",
                    }
                ],
                {},
            ),
            (
                "evaluation_update",
                [
                    "lab-suite-v2",
                    {
                        "__model__": "EvaluationTableUpdateRequest",
                        "mirror_url": "https://example.org/lab-suite-table",
                    },
                ],
                {},
            ),
        ],
        token=staff_token,
    )
    table = created["id"]
    assert table == "lab-suite-v2" and created["task"] == "few-shot-image-classification"
    assert ev_updated["mirror_url"] == "https://example.org/lab-suite-table"
    bench = Benchmark.objects.get(slug=table)
    assert bench.mirror_url == "https://example.org/lab-suite-table"

    m_added, m_updated, m_loss = run(
        [
            (
                "evaluation_metric_add",
                [
                    table,
                    {
                        "__model__": "MetricCreateRequest",
                        "name": "Mean Accuracy",
                        "description": "Over the ten sources",
                        "is_loss": False,
                    },
                ],
                {},
            ),
            (
                "evaluation_metric_update",
                [
                    table,
                    "mean-accuracy",
                    {"__model__": "MetricUpdateRequest", "description": "Over all sources"},
                ],
                {},
            ),
            (
                "evaluation_metric_add",
                [
                    table,
                    {
                        "__model__": "MetricCreateRequest",
                        "name": "Rank",
                        "description": "",
                        "is_loss": True,
                    },
                ],
                {},
            ),
        ],
        token=staff_token,
    )
    assert (m_added["name"], m_added["is_loss"]) == ("Mean Accuracy", False)
    assert m_updated["description"] == "Over all sources"
    assert m_loss["is_loss"] is True
    link = BenchmarkMetric.objects.get(benchmark=bench, metric__name="Rank")
    assert (link.higher_is_better, link.direction_source) == (False, "curator")

    (r_added,) = run(
        [
            (
                "evaluation_result_add",
                [
                    table,
                    {
                        "__model__": "ResultCreateRequest",
                        "metrics": {"Mean Accuracy": "71.3 ± 0.8", "Rank": "2"},
                        "methodology": "Proto-MAML",
                        "paper": MAML_PWC_ID,
                        "evaluated_on": "2019-03-07",
                        "external_source_url": "https://example.org/leaderboard",
                    },
                ],
                {},
            )
        ],
        token=staff_token,
    )
    rid = r_added["id"]
    assert r_added["metrics"] == {"Mean Accuracy": "71.3 ± 0.8", "Rank": "2"}
    assert (r_added["methodology"], r_added["paper"], r_added["evaluated_on"]) == (
        "Proto-MAML",
        MAML,
        "2019-03-07",
    )
    assert r_added["external_source_url"] == "https://example.org/leaderboard"
    rows = Result.objects.filter(benchmark=bench).order_by("metric__name")
    assert [(r.metric.name, r.value, r.ci95, r.source) for r in rows] == [
        ("Mean Accuracy", 71.3, 0.8, "archive"),
        ("Rank", 2.0, None, "archive"),
    ]
    assert {r.date for r in rows} == {datetime.date(2019, 3, 7)}

    r_updated, r_got = run(
        [
            (
                "evaluation_result_update",
                [
                    table,
                    rid,
                    {
                        "__model__": "ResultUpdateRequest",
                        "metrics": {"Mean Accuracy": "72.0", "Rank": "1"},
                        "uses_additional_data": True,
                    },
                ],
                {},
            ),
            ("evaluation_result_get", [table, rid], {}),
        ],
        token=staff_token,
    )
    assert r_updated["metrics"] == {"Mean Accuracy": "72.0", "Rank": "1"}
    assert r_updated["uses_additional_data"] is True and r_got["id"] == rid
    assert sorted(Result.objects.filter(benchmark=bench).values_list("value", flat=True)) == [
        1.0,
        72.0,
    ]

    (synced,) = run(
        [
            (
                "evaluation_synchronize",
                [
                    {
                        "__model__": "EvaluationTableSyncRequest",
                        "task": "few-shot-image-classification",
                        "dataset": "omniglot",
                        "external_id": "lab-omniglot-20way",
                        "description": "Our 20-way table",
                        "metrics": [{"name": "Accuracy", "is_loss": False}],
                        "results": [
                            {
                                "metrics": {"Accuracy": "95.8"},
                                "methodology": "MAML (our run)",
                                "paper": MAML,
                                "external_id": "run-1",
                                "evaluated_on": "2020-05-01",
                            },
                            {
                                "metrics": {"Accuracy": "96.2"},
                                "methodology": "MAML++ (our run)",
                                "paper": None,
                                "external_id": "run-2",
                                "evaluated_on": "2020-06-01",
                            },
                        ],
                    }
                ],
                {},
            )
        ],
        token=staff_token,
    )
    synced_table = Benchmark.objects.get(external_id="lab-omniglot-20way")
    assert synced["id"] == synced_table.slug and synced["external_id"] == "lab-omniglot-20way"
    assert [(r["methodology"], r["metrics"], r["external_id"]) for r in synced["results"]] == [
        ("MAML (our run)", {"Accuracy": "95.8"}, "run-1"),
        ("MAML++ (our run)", {"Accuracy": "96.2"}, "run-2"),
    ]
    assert synced["metrics"] == [{"name": "Accuracy", "description": "", "is_loss": False}]
    assert sorted(synced_table.results.values_list("value", flat=True)) == [95.8, 96.2]

    deletions = run(
        [
            ("evaluation_result_delete", [table, rid], {}),
            ("evaluation_metric_delete", [table, "rank"], {}),
            ("evaluation_delete", [table], {}),
        ],
        token=staff_token,
    )
    assert deletions == [None, None, None]
    assert not Benchmark.objects.filter(slug=table).exists()

    # Every public method was called, each once at least, and each answer asserted above.
    assert sorted(set(called)) == sorted(methods)
    assert len(set(called)) == EXPECTED_METHODS

    # The writes are on the public ledger.
    edits = list(CatalogueEdit.objects.order_by("at", "id").values_list("action", "kind"))
    assert edits == [
        ("add", "task"),
        ("update", "task"),
        ("delete", "task"),
        ("add", "dataset"),
        ("update", "dataset"),
        ("add", "dataset"),
        ("delete", "dataset"),
        ("add", "evaluation"),
        ("update", "evaluation"),
        ("add", "metric"),
        ("update", "metric"),
        ("add", "metric"),
        ("add", "result"),
        ("update", "result"),
        ("sync", "evaluation"),
        ("delete", "result"),
        ("delete", "metric"),
        ("delete", "evaluation"),
    ]
    assert set(CatalogueEdit.objects.values_list("username", flat=True)) == {"staff"}
    page = client.get("/log/").content.decode()
    assert page.count('class="ledger-entry edit"') == len(edits)
    assert "<strong>Proto-MAML: Mean Accuracy, Rank</strong> added" in page
    assert "<strong>Cross-Domain Few-Shot</strong> deleted by curator staff" in page
    feed = client.get("/log/feed.atom").content.decode()
    assert feed.count('term="curator edit"') == len(edits)


def test_writes_need_a_staff_token_and_never_touch_a_verified_row(
    pwc_errors, catalogue, staff_token, owner
):
    from tests.leaderboard.conftest import make_verified

    bench = Benchmark.objects.get(slug=OMNIGLOT_1)
    verified = make_verified(bench, bench.metrics.get(name="Accuracy"), 97.0)
    user_token = Token.objects.create(user=owner).key
    add = (
        "task_add",
        [{"__model__": "TaskCreateRequest", "name": "Nope", "description": ""}],
        {},
    )
    errors = pwc_errors([add]) + pwc_errors([add], token=user_token)
    assert all(e and ("Unauthorized" in e or "Forbidden" in e) for e in errors), errors
    assert not Task.objects.filter(name="Nope").exists()
    refused = pwc_errors(
        [
            (
                "evaluation_result_update",
                [
                    OMNIGLOT_1,
                    str(verified.pk),
                    {"__model__": "ResultUpdateRequest", "metrics": {"Accuracy": "99.9"}},
                ],
                {},
            ),
            ("evaluation_result_delete", [OMNIGLOT_1, str(verified.pk)], {}),
            ("evaluation_delete", [OMNIGLOT_1], {}),
            ("dataset_delete", ["omniglot"], {}),
        ],
        token=staff_token,
    )
    assert all(refused), refused
    verified.refresh_from_db()
    assert (verified.value, verified.source) == (97.0, "verified")
    assert Benchmark.objects.filter(slug=OMNIGLOT_1).exists()
    assert not CatalogueEdit.objects.exists()
