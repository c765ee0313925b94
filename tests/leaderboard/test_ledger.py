"""/log, the public ledger, and its Atom feeds (parsed as Atom)."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from leaderboard.models import Benchmark, Metric, Result

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def omniglot():
    return Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")


@pytest.fixture
def accuracy():
    return Metric.objects.get(name="Accuracy")


def best_archive(benchmark, metric) -> float:
    return max(
        Result.objects.filter(benchmark=benchmark, metric=metric).values_list("value", flat=True)
    )


def parse_atom(content: bytes) -> ET.Element:
    root = ET.fromstring(content)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None, required
    for entry in root.findall(f"{ATOM}entry"):
        for required in ("id", "title", "updated", "link"):
            assert entry.find(f"{ATOM}{required}") is not None, required
    return root


def test_the_feed_parses_as_atom_and_shows_a_new_verified_result_with_its_difference(
    client, omniglot, accuracy
):
    previous = best_archive(omniglot, accuracy)
    result = make_verified(omniglot, accuracy, previous + 0.02, model="Better MAML")
    result.verification_level = "evaluated"
    result.save()
    r = client.get("/log/feed.atom")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/atom+xml")
    root = parse_atom(r.content)
    entries = root.findall(f"{ATOM}entry")
    first = entries[0]  # newest first
    title = first.find(f"{ATOM}title").text
    assert "Better MAML" in title
    assert f"+0.02 vs previous best {previous:g}" in title
    assert "new state of the art" in title
    assert first.find(f"{ATOM}link").get("href").endswith(result.verification_url)
    # The archive import is there too.
    assert any("archive result" in e.find(f"{ATOM}title").text for e in entries)


def test_a_verified_result_below_the_best_is_not_a_new_state_of_the_art(client, omniglot, accuracy):
    previous = best_archive(omniglot, accuracy)
    make_verified(omniglot, accuracy, previous - 1.5, model="Weaker MAML")
    root = parse_atom(client.get(f"/log/{omniglot.slug}/feed.atom").content)
    title = root.findall(f"{ATOM}entry")[0].find(f"{ATOM}title").text
    assert "Weaker MAML" in title and "-1.50 vs previous best" in title
    assert "new state of the art" not in title
    assert omniglot.name in root.find(f"{ATOM}title").text


def test_the_per_benchmark_feed_holds_only_its_benchmark(client, omniglot, accuracy):
    other = Benchmark.objects.exclude(pk=omniglot.pk).filter(results__isnull=False).first()
    make_verified(other, accuracy, 50.0, model="Elsewhere")
    root = parse_atom(client.get(f"/log/{omniglot.slug}/feed.atom").content)
    assert all("Elsewhere" not in e.find(f"{ATOM}title").text for e in root.findall(f"{ATOM}entry"))
    assert client.get("/log/no-such-benchmark/feed.atom").status_code == 404


def test_the_log_page_groups_by_day_newest_first(client, omniglot, accuracy):
    old = make_verified(omniglot, accuracy, 10.0, model="Old")
    old.verified_at = timezone.now() - datetime.timedelta(days=3)
    old.save()
    new = make_verified(omniglot, accuracy, 99.99, model="New")
    html = client.get("/log").content.decode()
    assert html.index(f"ledger-result-{new.pk}") < html.index(f"ledger-result-{old.pk}")
    assert html.count('class="ledger-day"') >= 2
    assert "new state of the art" in html
    assert client.get("/log/?before=not-a-date").status_code == 200
