"""SVG badges of verified results (leaderboard/views/badges.py): every text escaped (valid XML
whatever the names), image/svg+xml with Cache-Control and an ETag honoured by If-None-Match,
the rank on the table, none for an archive row."""

import xml.etree.ElementTree as ET

import pytest

from leaderboard.models import Benchmark, Metric

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'A <b> & "c" \']]> </svg><script>x</script>'


def _texts(body: bytes) -> list[str]:
    return [t.text for t in ET.fromstring(body).iter(f"{SVG}text")]


def test_a_badge_escapes_every_text_and_links_to_the_evidence(client):
    benchmark = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    benchmark.name = HOSTILE
    benchmark.save()
    accuracy = Metric.objects.get(name="Accuracy")
    result = make_verified(benchmark, accuracy, 62.43)
    response = client.get(f"/badges/results/{result.pk}.svg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=3600"
    body = response.content
    assert b"<script" not in body
    assert _texts(body) == ["VeriSOTA", HOSTILE, "62.43 ± 0.30% verified"]
    (link,) = ET.fromstring(body).iter(f"{SVG}a")
    assert link.get("{http://www.w3.org/1999/xlink}href") == "http://testserver/submissions/1/"

    again = client.get(f"/badges/results/{result.pk}.svg", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["ETag"] == response["ETag"]
    other = client.get(f"/badges/results/{result.pk}.svg", HTTP_IF_NONE_MATCH='"nope"')
    assert other.status_code == 200


def test_the_rank_badge_gives_the_rows_place_on_its_table(client):
    benchmark = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")  # archive: MAML 98.7
    accuracy = Metric.objects.get(name="Accuracy")
    best = make_verified(benchmark, accuracy, 99.5, model="Better")
    second = make_verified(benchmark, accuracy, 62.0)
    assert _texts(client.get(f"/badges/results/{best.pk}/rank.svg").content)[2] == (
        "rank 1 of 3 (Accuracy)"
    )
    assert _texts(client.get(f"/badges/results/{second.pk}/rank.svg").content)[2] == (
        "rank 3 of 3 (Accuracy)"
    )


def test_an_archive_row_or_an_unknown_id_has_no_badge(client):
    archive = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way").results.first()
    for url in (f"/badges/results/{archive.pk}.svg", "/badges/results/999999/rank.svg"):
        assert client.get(url).status_code == 404
