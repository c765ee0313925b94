"""Methods: the list by collection and area, a method's page, the paper page's methods, dataset
details from the archive's fields, and search by a method name."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leaderboard import search
from leaderboard.models import Area, Collection, Dataset, Method, Paper, Task

MAML = "model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks"

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture
def methods(db):
    vision = Area.objects.create(name="Computer Vision", slug="computer-vision")
    meta = Collection.objects.create(
        name="Meta-Learning Algorithms", slug="meta-algos", area=vision
    )
    other = Collection.objects.create(name="Regularization", slug="regularization")
    maml_paper = Paper.objects.get(slug=MAML)
    maml = Method.objects.create(
        name="MAML",
        slug="maml",
        full_name="Model-Agnostic Meta-Learning",
        description="An initialisation that adapts in a few gradient steps.",
        introduced_year=2017,
        paper=maml_paper,
        num_papers=2,
    )
    maml.collections.add(meta)
    dropout = Method.objects.create(name="Dropout", slug="dropout", full_name="Dropout")
    dropout.collections.add(other)
    maml_paper.methods.add(maml, dropout)
    return maml, dropout


def test_the_method_list_filters_by_collection_and_area(client, methods):
    names = lambda r: [m.name for m in r.context["page"]]  # noqa: E731
    assert names(client.get("/methods/")) == ["Dropout", "MAML"]
    assert names(client.get("/methods/", {"collection": "meta-algos"})) == ["MAML"]
    assert names(client.get("/methods/", {"area": "computer-vision"})) == ["MAML"]
    assert names(client.get("/methods/", {"q": "agnostic"})) == ["MAML"]


def test_a_method_page_has_its_full_name_year_paper_and_papers(client, methods):
    users = Paper.objects.bulk_create(Paper(title=f"User {i}", slug=f"user-{i}") for i in range(30))
    methods[0].papers.add(*users)
    response = client.get("/methods/maml/")
    body = response.content.decode()
    assert "Model-Agnostic Meta-Learning" in body and "2017" in body
    assert 'id="method-paper"' in body and "An initialisation that adapts" in body
    page = response.context["page"]
    assert page.paginator.count == 31 and len(page) == 25
    assert client.get("/methods/maml/", {"page": 2}).context["page"].number == 2
    assert client.get("/methods/nope/").status_code == 404


def test_a_method_page_costs_the_same_queries_with_many_papers(client, methods):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/methods/maml/").status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    methods[0].papers.add(
        *Paper.objects.bulk_create(Paper(title=f"U{i}", slug=f"u{i}") for i in range(80))
    )
    assert queries() == few


def test_the_paper_page_lists_its_methods(client, methods):
    body = client.get(Paper.objects.get(slug=MAML).get_absolute_url()).content.decode()
    section = body[body.index('id="paper-methods"') :]
    assert 'href="/methods/maml/"' in section and 'href="/methods/dropout/"' in section


def test_related_papers_count_shared_methods(client, methods):
    only_method = Paper.objects.create(title="Uses MAML and Dropout", slug="both-methods")
    only_method.methods.add(*methods)
    one = Paper.objects.create(title="Uses Dropout", slug="dropout-only")
    one.methods.add(methods[1])
    body = client.get(Paper.objects.get(slug=MAML).get_absolute_url()).content.decode()
    related = body[body.index('id="related-papers"') :]
    assert related.index("Uses MAML and Dropout") < related.index("Uses Dropout")


@pytest.mark.parametrize(
    "q, expected", [("maml", "MAML"), ("model-agnostic meta", "MAML"), ("dropout", "Dropout")]
)
def test_search_finds_a_method_by_its_name(client, methods, q, expected):
    assert [m.name for m in search.methods(q)][0] == expected
    body = client.get("/search/", {"q": q}).content.decode()
    section = body[body.index('id="results-methods"') :]
    assert f'href="/methods/{expected.lower()}/"' in section


def test_a_paper_is_found_through_a_method_it_uses(methods):
    lonely = Paper.objects.create(title="An unrelated title", slug="lonely")
    lonely.methods.add(methods[1])
    assert "An unrelated title" in [p.title for p in search.papers("dropout")]


def test_the_v1_api_serves_methods_and_areas(client, methods):
    listed = client.get("/api/v1/methods/", {"q": "maml"}).json()
    assert listed["results"][0] == {
        "id": "maml",
        "name": "MAML",
        "full_name": "Model-Agnostic Meta-Learning",
        "description": "An initialisation that adapts in a few gradient steps.",
        "paper": MAML,
        "introduced_year": 2017,
        "num_papers": 2,
        "pwc_url": None,
        "page_url": "/methods/maml/",
    }
    assert client.get("/api/v1/methods/dropout/").json()["full_name"] == "Dropout"
    paper_methods = client.get(f"/api/v1/papers/{MAML}/methods/").json()
    assert {m["id"] for m in paper_methods["results"]} == {"maml", "dropout"}
    task = Task.objects.get(slug="few-shot-learning")
    task.area = Area.objects.get(slug="computer-vision")
    task.save()
    assert client.get("/api/v1/areas/").json()["results"] == [
        {"id": "computer-vision", "name": "Computer Vision"}
    ]
    tasks = client.get("/api/v1/areas/computer-vision/tasks/").json()
    assert [t["id"] for t in tasks["results"]] == ["few-shot-learning"]
    assert client.get("/api/v1/tasks/few-shot-learning/").json()["area"] == "computer-vision"


def test_a_dataset_page_shows_the_archive_details(client, db):
    omniglot = Dataset.objects.get(slug="omniglot")
    omniglot.full_name = "Omniglot handwritten characters"
    omniglot.homepage = "https://github.com/brendenlake/omniglot"
    omniglot.modalities = ["Images"]
    omniglot.languages = ["50 alphabets"]
    omniglot.variants = ["Omniglot 1-shot 20-way"]
    omniglot.data_loaders = [
        {
            "url": "https://pytorch.org/vision/omniglot",
            "repo": "torchvision",
            "frameworks": ["pytorch"],
        },
        {"url": "javascript:alert(1)", "repo": "evil", "frameworks": []},
    ]
    omniglot.save()
    omniglot.tasks.add(Task.objects.get(slug="meta-learning"))
    body = client.get("/datasets/omniglot/").content.decode()
    for text in (
        "Omniglot handwritten characters",
        "Images",
        "50 alphabets",
        "Omniglot 1-shot 20-way",
        "torchvision",
        "pytorch",
        'href="https://github.com/brendenlake/omniglot"',
    ):
        assert text in body
    assert "javascript:" not in body
    assert "Meta-Learning" in body[body.index('id="dataset-tasks"') :]
    v1 = client.get("/api/v1/datasets/omniglot/").json()
    assert v1["full_name"] == "Omniglot handwritten characters"
    assert v1["url"] == "https://github.com/brendenlake/omniglot"
