"""Ranks that respect the noise on the benchmark page, and /api/benchmarks/<slug>/compare."""

import random
import re

import pytest

from leaderboard.models import Benchmark, Metric, Result

from .conftest import add_results, make_verified

pytestmark = pytest.mark.usefixtures("seeded")
FINGERPRINT = "f" * 64


@pytest.fixture
def omniglot():
    return Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")


@pytest.fixture
def accuracy():
    return Metric.objects.get(name="Accuracy")


def with_scores(result: Result, scores: list[float], level: str = "evaluated") -> Result:
    result.episode_scores = scores
    result.episodes_fingerprint = FINGERPRINT
    result.verification_level = level
    result.value = sum(scores) / len(scores)
    result.save()
    return result


def episodes(seed: int, n: int = 600) -> list[float]:
    rng = random.Random(seed)
    return [100 * rng.randint(8, 15) / 15 for _ in range(n)]


def ranks_on_page(client, benchmark) -> dict[str, tuple[str, str]]:
    html = client.get(benchmark.get_absolute_url()).content.decode()
    rows = re.findall(
        r'<td class="num rank[^"]*"(?: title="([^"]*)")?>([^<]*)</td>\s*<td class="model">([^<]*)<',
        html,
    )
    return {model: (rank, title) for title, rank, model in rows}


def above(benchmark, result) -> int:
    """How many rows of the table rank above ``result`` (by value, higher is better)."""
    return Result.objects.filter(
        benchmark=benchmark, metric=result.metric, value__gt=result.value
    ).count()


def test_two_verified_rows_within_the_noise_share_a_rank(client, omniglot, accuracy):
    base = episodes(1)
    # b differs from a by +-1 question on a few episodes, both ways: a paired mean near zero.
    rng = random.Random(2)
    close = [s + rng.choice([-100 / 15, 100 / 15]) if rng.random() < 0.05 else s for s in base]
    a = with_scores(make_verified(omniglot, accuracy, 99.95, model="A verified"), base)
    b = with_scores(make_verified(omniglot, accuracy, 99.94, model="B verified"), close)
    ranks = ranks_on_page(client, omniglot)
    # Ranked by their measured values (the means of their scores), below the archive's rows.
    assert ranks["A verified"][0] == ranks["B verified"][0] == f"={above(omniglot, a) + 1}"
    title = ranks["B verified"][1]
    assert "not distinguishable at 95%" in title and "95% interval" in title
    r = client.get(f"/api/benchmarks/{omniglot.slug}/compare", {"a": a.pk, "b": b.pk})
    assert r.status_code == 200
    body = r.json()
    assert body["low"] <= 0 <= body["high"] and body["distinguishable"] is False
    assert body["n"] == 600
    # The interval on the page's tooltip is the API's.
    assert f"{body['low']:+.2f} to {body['high']:+.2f}" in title.replace("−", "-")


def test_two_verified_rows_with_a_clear_gap_get_two_ranks(client, omniglot, accuracy):
    base = episodes(3)
    worse = [max(0.0, s - 100 / 15) if i % 2 else s for i, s in enumerate(base)]  # -3.3 points
    a = with_scores(make_verified(omniglot, accuracy, 99.95, model="A verified"), base)
    b = with_scores(make_verified(omniglot, accuracy, 99.90, model="B verified"), worse)
    ranks = ranks_on_page(client, omniglot)
    first = above(omniglot, a) + 1
    assert (ranks["A verified"][0], ranks["B verified"][0]) == (str(first), str(first + 1))
    assert "distinguishable at 95%" in ranks["B verified"][1]
    assert "not distinguishable" not in ranks["B verified"][1]
    body = client.get(f"/api/benchmarks/{omniglot.slug}/compare?a={a.pk}&b={b.pk}").json()
    assert body["low"] > 0 and body["distinguishable"] is True and body["p_value"] < 0.001
    swapped = client.get(f"/api/benchmarks/{omniglot.slug}/compare?a={b.pk}&b={a.pk}").json()
    assert swapped["mean"] == pytest.approx(-body["mean"])


def test_every_verified_row_shows_its_interval(client, omniglot, accuracy):
    make_verified(omniglot, accuracy, 99.95, model="A verified")
    html = client.get(omniglot.get_absolute_url()).content.decode()
    assert '<small class="ci">± 0.30</small>' in html


def test_compare_refuses_results_of_another_benchmark_or_without_scores(client, omniglot, accuracy):
    other = Benchmark.objects.exclude(pk=omniglot.pk).first()
    a = with_scores(make_verified(omniglot, accuracy, 99.95, model="A verified"), episodes(1))
    elsewhere = with_scores(make_verified(other, accuracy, 90.0, model="Elsewhere"), episodes(2))
    no_scores = make_verified(omniglot, accuracy, 99.0, model="No scores")
    archive = add_results(omniglot, accuracy, 1)[0]
    url = f"/api/benchmarks/{omniglot.slug}/compare"
    for b in (elsewhere, no_scores, archive):
        r = client.get(url, {"a": a.pk, "b": b.pk})
        assert r.status_code == 400, b
        assert "detail" in r.json()
    assert client.get(url, {"a": a.pk}).status_code == 400
    assert client.get(url, {"a": a.pk, "b": "x"}).status_code == 400


def test_the_results_api_filters_by_verification_level(client, omniglot, accuracy):
    evaluated = with_scores(make_verified(omniglot, accuracy, 99.9, model="E"), episodes(1))
    reproduced = with_scores(
        make_verified(omniglot, accuracy, 99.8, model="R"), episodes(2), "reproduced"
    )
    rows = client.get("/api/results", {"verification": "reproduced"}).json()["results"]
    assert [r["id"] for r in rows] == [reproduced.pk]
    assert rows[0]["verification_level"] == "reproduced"
    assert rows[0]["evidence_url"] == reproduced.verification_url
    rows = client.get("/api/results", {"verification": "evaluated"}).json()["results"]
    assert [r["id"] for r in rows] == [evaluated.pk]
    archive = client.get("/api/results", {"verification": "archive", "page_size": 5}).json()
    assert {r["verification_level"] for r in archive["results"]} == {"archive"}
    assert all(r["evidence_url"] is None for r in archive["results"])
    assert client.get("/api/results", {"verification": "bogus"}).status_code == 400
