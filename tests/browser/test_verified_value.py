"""A reader checks a verified row's number in a real Chromium: the value on the benchmark page
is the first figure of its evidence, the claim beside it, and the archive row of the same model
and paper is shown too, each linked to the other.

The row is published through the real publish path (``runs.finish_run``, as a worker
finishes a run: tests/evaluator/evidence_helpers.py), claim 61.3 on a run that measured 61.33.
"""

import os
import re

import pytest
from django.core.management import call_command

from leaderboard.models import Result
from tests.evaluator.evidence_helpers import finished_run

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def test_a_reader_finds_a_verified_rows_value_first_on_its_evidence(
    live_server, page, screenshot, owner, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("load_seed", verbosity=0)
    run = finished_run(owner, scores=[60.0, 62.66] * 300, claimed=61.3)
    result = run.result
    archive = Result.objects.archive().get(benchmark=result.benchmark, model=result.model)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server.url + result.benchmark.get_absolute_url())
    row = page.locator(f"#result-{result.pk}")
    shown = row.locator("td.value span.value").inner_text()
    assert shown == "61.33"
    assert row.locator("td.value small.ci").inner_text() == "± 1.50"
    assert row.locator("td.value small.claimed").inner_text() == "(claimed 61.3)"
    # Nothing hidden: the paper's own figure is its own row, and each row names the other.
    assert f"paper's figure: {archive.raw_value}, not re-run" in row.inner_text()
    archive_row = page.locator(f"#result-{archive.pk}")
    assert "archive, not re-run" in archive_row.inner_text()
    assert "verified: 61.33 ± 1.50" in archive_row.inner_text()
    screenshot("verified-row")

    row.locator("a.evidence").click()
    page.wait_for_url(f"{live_server.url}/results/{result.pk}/evidence/")
    first_section = page.locator("main section").first.inner_text()
    assert NUMBER.search(first_section).group() == shown  # the first number there
    figure = page.locator("#evidence-figure")
    assert figure.locator("#evidence-value").inner_text() == "61.33 ± 1.50%"
    assert figure.locator("#evidence-claimed").inner_text() == "(claimed 61.3%)"  # beside it
    screenshot("verified-evidence")
    assert errors == []
