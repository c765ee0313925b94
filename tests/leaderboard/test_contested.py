"""Contested claims (leaderboard/results/contested.py, docs/contested.md): the same model's figures
on one benchmark and metric from different papers, flagged where they cannot all be right, on the
benchmark page, the paper page, the group's page, /contested/ and both APIs."""

import datetime

import pytest

from leaderboard import catalogue
from leaderboard.models import Benchmark, Metric, Paper, Result, Task
from leaderboard.results import contested

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")

MINI = "mini-imagenet-5-way-1-shot"  # the seed: MAML 48.7 (the MAML paper)
OMNI = "omniglot-1-shot-5-way"  # the seed: MAML 98.7 (the MAML paper)


def _reproduction(slug="a-reproduction", day=datetime.date(2019, 3, 1)):
    return Paper.objects.create(title=f"Paper {slug}", slug=slug, date=day)


def _claim(benchmark_slug, value, paper, model="MAML", ci95=None, raw=""):
    return Result.objects.create(
        benchmark=Benchmark.objects.get(slug=benchmark_slug),
        metric=Metric.objects.get(name="Accuracy"),
        model=catalogue.get_model(model)[0],
        paper=paper,
        value=value,
        ci95=ci95,
        raw_value=raw,
    )


def _row(client, pk):
    response = client.get("/api/results", {"page_size": 200})
    assert response.status_code == 200
    (row,) = [r for r in response.json()["results"] if r["id"] == pk]
    return row


def test_48_7_and_46_2_from_two_papers_are_contested_and_98_7_and_98_6_are_not(client):
    paper = _reproduction()
    low = _claim(MINI, 46.2, paper)
    close = _claim(OMNI, 98.6, paper)
    original = Result.objects.get(
        benchmark__slug=MINI, model__name="MAML", paper__slug__startswith="model-agnostic"
    )
    original_omni = Result.objects.get(
        benchmark__slug=OMNI, model__name="MAML", paper__slug__startswith="model-agnostic"
    )

    # The read API: both rows of the contested group say so and link to it.
    for pk in (low.pk, original.pk):
        row = _row(client, pk)
        assert row["contested"] is True
        assert row["contested_url"] == f"/contested/{MINI}/accuracy/maml/"
        assert row["contested_side"] is None
    for pk in (close.pk, original_omni.pk):
        row = _row(client, pk)
        assert (row["contested"], row["contested_url"]) == (False, None)

    # The PWC v1 API: the result rows of both tables.
    rows = client.get(f"/api/v1/evaluations/{MINI}/results/").json()["results"]
    assert {r["id"]: r["contested"] for r in rows} == {str(low.pk): True, str(original.pk): True}
    assert rows[0]["contested_url"] == f"/contested/{MINI}/accuracy/maml/"
    one = client.get(f"/api/v1/evaluations/{OMNI}/results/{close.pk}/").json()
    assert (one["contested"], one["contested_url"]) == (False, None)

    # The benchmark page marks both rows, linking to the group; the other table marks none.
    page = client.get(f"/benchmarks/{MINI}/").content.decode()
    assert page.count('class="badge contested"') == 2
    assert f'href="/contested/{MINI}/accuracy/maml/"' in page
    assert 'class="badge contested"' not in client.get(f"/benchmarks/{OMNI}/").content.decode()
    # The paper page too.
    paper_page = client.get(paper.get_absolute_url()).content.decode()
    assert paper_page.count('class="badge contested"') == 1

    # One click away: the group's page lists every paper's figure.
    group = client.get(f"/contested/{MINI}/accuracy/maml/")
    assert group.status_code == 200
    text = group.content.decode()
    assert "48.7" in text and "46.2" in text and paper.title in text
    assert 'id="group-verdict"><span class="badge contested">' in text
    agreeing = client.get(f"/contested/{OMNI}/accuracy/maml/").content.decode()
    assert "agree within the table's tolerance" in agreeing

    # And the list of every contested group holds the one, not the other.
    listing = client.get("/contested/").content.decode()
    assert f"/contested/{MINI}/accuracy/maml/" in listing
    assert f"/contested/{OMNI}/accuracy/maml/" not in listing


def test_names_are_compared_normalised():
    assert contested.name_key("ＭＡＭＬ  (Finn et al.)") == contested.name_key("maml finn et al")
    assert contested.name_key("MAML++") == "maml"
    paper = _reproduction()
    _claim(MINI, 44.0, paper, model="ｍａｍｌ")  # full-width letters: NFKC makes them "maml"
    groups = contested.all_contested()
    assert [(g.benchmark_slug, g.key, g.papers) for g in groups] == [(MINI, "maml", 2)]


def test_intervals_decide_where_both_claims_print_one():
    original = Result.objects.get(
        benchmark__slug=MINI, model__name="MAML", paper__slug__startswith="model-agnostic"
    )
    original.ci95 = 1.84
    original.save()
    overlapping = _claim(MINI, 46.2, _reproduction(), ci95=0.7)  # 46.9 > 46.86: they overlap
    assert contested.all_contested() == []
    overlapping.ci95 = 0.6  # 46.8 < 46.86: they do not
    overlapping.save()
    assert [g.key for g in contested.all_contested()] == ["maml"]


def test_the_same_paper_twice_and_a_row_without_a_paper_form_no_group():
    original = Result.objects.get(
        benchmark__slug=MINI, model__name="MAML", paper__slug__startswith="model-agnostic"
    )
    _claim(MINI, 40.0, original.paper)
    _claim(MINI, 30.0, None)
    assert contested.all_contested() == []


def test_a_verified_row_says_which_side_its_measurement_falls_on(client):
    _claim(MINI, 46.2, _reproduction())
    benchmark = Benchmark.objects.get(slug=MINI)
    accuracy = Metric.objects.get(name="Accuracy")
    verified = make_verified(benchmark, accuracy, 46.5, model="MAML")
    row = _row(client, verified.pk)
    assert row["contested"] is False
    assert row["contested_side"] == "lower"
    assert row["contested_url"] == f"/contested/{MINI}/accuracy/maml/"
    group = client.get(row["contested_url"]).content.decode()
    assert "on the side of the lower claims; agrees with 46.2" in group
    page = client.get(f"/benchmarks/{MINI}/").content.decode()
    assert "measured on the side of the lower claims; agrees with 46.2" in page

    verified.value = 52.0
    verified.save()
    assert _row(client, verified.pk)["contested_side"] == "above"


def test_the_list_is_newest_first_filterable_by_task_and_paginated(client):
    older = _claim(MINI, 46.2, _reproduction("older", datetime.date(2018, 1, 1)))
    _claim("tiered-imagenet-5-way-5-shot", 60.0, _reproduction("newer", datetime.date(2021, 1, 1)))
    groups = contested.all_contested()
    assert [g.benchmark_slug for g in groups] == ["tiered-imagenet-5-way-5-shot", MINI]
    listing = client.get("/contested/").content.decode()
    assert listing.index("/contested/tiered-imagenet") < listing.index(f"/contested/{MINI}/")

    task = Task.objects.create(name="Only mini", slug="only-mini")
    task.benchmarks.add(older.benchmark)
    only = client.get("/contested/", {"task": "only-mini"}).content.decode()
    assert f"/contested/{MINI}/" in only and "/contested/tiered-imagenet" not in only
    assert client.get("/contested/", {"task": "no-such-task"}).status_code == 404
    assert client.get("/contested/", {"task": "a\x00b"}).status_code == 200

    for i in range(contested_views_per_page()):
        _claim(OMNI, 90.0 - i, _reproduction(f"p{i}"), model=f"Model {i}")
        _claim(OMNI, 70.0 - i, _reproduction(f"q{i}"), model=f"Model {i}")
    first = client.get("/contested/").content.decode()
    second = client.get("/contested/", {"page": 2}).content.decode()
    assert 'rel="next"' in first and "Page 2 of 2" in second
    n = first.count('class="contested-group"') + second.count('class="contested-group"')
    assert n == contested_views_per_page() + 2


def contested_views_per_page():
    from leaderboard.views.contested import PER_PAGE

    return PER_PAGE


def test_an_unknown_group_is_a_404(client):
    assert client.get(f"/contested/{MINI}/accuracy/nobody/").status_code == 404
    assert client.get("/contested/no-such/accuracy/maml/").status_code == 404
    assert client.get(f"/contested/{MINI}/no-such/maml/").status_code == 404
