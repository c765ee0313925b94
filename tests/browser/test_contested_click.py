"""A reader sees a contested row on a benchmark page and, one click away, every paper's figure
for that model (leaderboard/results/contested.py)."""

import datetime
import os

import pytest
from django.core.management import call_command

from leaderboard import catalogue
from leaderboard.models import Benchmark, Metric, Paper, Result

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_contested_row_is_one_click_from_the_other_papers_figures(live_server, page, screenshot):
    call_command("load_seed", verbosity=0)
    benchmark = Benchmark.objects.get(slug="mini-imagenet-5-way-1-shot")  # MAML 48.7 (seed)
    paper = Paper.objects.create(
        title="A reproduction", slug="a-reproduction", date=datetime.date(2019, 3, 1)
    )
    low = Result.objects.create(
        benchmark=benchmark,
        metric=Metric.objects.get(name="Accuracy"),
        model=catalogue.get_model("MAML")[0],
        paper=paper,
        value=46.2,
        raw_value="46.2",
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(live_server.url + benchmark.get_absolute_url())
    badge = page.locator(f"#result-{low.pk} a.badge.contested")
    assert badge.inner_text() == "contested"
    assert "48.7" in badge.get_attribute("title")
    screenshot("contested-row")
    badge.click()
    page.wait_for_url(f"{live_server.url}/contested/{benchmark.slug}/accuracy/maml/")
    claims = page.locator("#group-claims tbody tr")
    assert claims.count() == 2
    assert [claims.nth(i).locator("td.value").inner_text() for i in range(2)] == ["48.7", "46.2"]
    assert "A reproduction" in claims.nth(1).inner_text()
    screenshot("contested-group")
    assert errors == []
