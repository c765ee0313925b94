import pytest

from leaderboard import catalogue
from leaderboard.models import Benchmark, CodeLink, Metric, Paper, Result

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture
def maml():
    return Paper.objects.get(arxiv_id="1703.03400")


@pytest.fixture
def duplicate(maml):
    """The same paper imported again under a slightly different title, with one extra row."""
    dup, _ = catalogue.get_paper("MAML: Model-Agnostic Meta-Learning", "https://example.org/maml")
    CodeLink.objects.create(paper=dup, url="https://github.com/cbfinn/maml", official=False)
    CodeLink.objects.create(paper=dup, url="https://github.com/dragen1860/MAML-Pytorch")
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    accuracy = Metric.objects.get(name="Accuracy")
    maml_model = catalogue.get_model("MAML")[0]
    for value, model in [(98.7, maml_model), (97.0, catalogue.get_model("fo-MAML")[0])]:
        Result.objects.create(
            benchmark=omniglot, metric=accuracy, model=model, paper=dup, value=value
        )
    return dup


def _merge(client, papers):
    return client.post(
        "/admin/leaderboard/paper/",
        {"action": "merge_selected", "_selected_action": [p.pk for p in papers]},
        follow=True,
    )


def test_a_curator_merges_a_duplicate_paper(client, staff, maml, duplicate):
    client.force_login(staff)
    response = _merge(client, [maml, duplicate])
    assert "Merged 1 paper(s)" in response.content.decode()
    assert list(Paper.objects.all()) == [maml]
    assert maml.results.count() == 23  # 22 + the fo-MAML row; the twin 98.7 row dropped
    assert maml.results.filter(model__name="fo-MAML", value=97.0).exists()
    assert set(maml.code_links.values_list("url", "official")) == {
        ("https://github.com/cbfinn/maml", True),
        ("https://github.com/dragen1860/MAML-Pytorch", False),
    }


def test_a_conflicting_value_merges_nothing(client, staff, maml, duplicate):
    Result.objects.filter(paper=duplicate, model__name="MAML").update(value=90.0)
    client.force_login(staff)
    response = _merge(client, [maml, duplicate])
    assert "Nothing merged" in response.content.decode()
    assert Paper.objects.count() == 2
    assert duplicate.results.count() == 2 and duplicate.code_links.count() == 2


def test_only_staff_can_merge(client, owner, maml, duplicate):
    client.force_login(owner)
    _merge(client, [maml, duplicate])
    assert Paper.objects.count() == 2
