"""A verified result's evidence page shows its badge and the Markdown snippet to paste; the badge
is valid XML (parsed here), served as ``image/svg+xml`` with a cache header and an ETag, and
links back to the evidence. Published through the real publish path (``finish_run``)."""

import os
import urllib.request
import xml.etree.ElementTree as ET

import pytest
from django.core.management import call_command

from tests.evaluator.evidence_helpers import finished_run

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"


def test_the_evidence_page_shows_the_badge_and_its_snippet(
    live_server, page, screenshot, owner, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_seed", verbosity=0)
    # A model name a badge must escape.
    run = finished_run(owner, scores=[60.0, 62.66] * 300, claimed=61.3, model_name='M<&>"x')
    result = run.result
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/results/{result.pk}/evidence/")
    badge = page.locator("#evidence-badge")
    badge_url = badge.get_attribute("src")
    assert badge_url == f"/badges/results/{result.pk}.svg"
    # The browser drew the image (a broken SVG has no natural width).
    page.wait_for_function("document.querySelector('#evidence-badge').complete")
    assert page.evaluate("document.querySelector('#evidence-badge').naturalWidth") > 100
    snippet = page.locator("#badge-snippet").inner_text()
    evidence = f"{live_server.url}/results/{result.pk}/evidence/"
    assert snippet == (
        f"[![VeriSOTA: OMNIGLOT - 1-Shot, 5-way]({live_server.url}{badge_url})]({evidence})"
    )
    screenshot("evidence-badge")

    with urllib.request.urlopen(live_server.url + badge_url) as response:
        assert response.headers["Content-Type"].startswith("image/svg+xml")
        assert "max-age=" in response.headers["Cache-Control"]
        etag = response.headers["ETag"]
        body = response.read()
    root = ET.fromstring(body)  # valid XML, or this raises
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["VeriSOTA", "OMNIGLOT - 1-Shot, 5-way", "61.33 ± 1.50% verified"]
    (link,) = root.iter(f"{SVG}a")
    assert link.get(XLINK) == evidence

    # Revalidation: the same ETag is a 304, no body.
    request = urllib.request.Request(live_server.url + badge_url, headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request)
    assert not_modified.value.code == 304

    # The rank badge too: valid XML, the result's place on its table.
    rank_url = page.locator("#rank-badge").get_attribute("src")
    with urllib.request.urlopen(live_server.url + rank_url) as response:
        assert response.headers["Content-Type"].startswith("image/svg+xml")
        rank = ET.fromstring(response.read())
    assert [t.text for t in rank.iter(f"{SVG}text")][2].startswith("rank 2 of 2")
    assert errors == []
