"""A reader's walk through the site in a real browser: home -> task -> benchmark -> paper."""

import os

import pytest
from django.core.management import call_command

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_goes_from_home_to_a_task_a_benchmark_and_the_paper(live_server, page, screenshot):
    call_command("load_seed")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(live_server.url + "/")
    assert page.locator("h1").inner_text().startswith("State of the art")
    assert page.locator("#notable-benchmarks .card").count() >= 8
    screenshot("home")

    page.get_by_role("link", name="Tasks", exact=True).click()
    page.get_by_role("link", name="Few-Shot Image Classification").click()
    assert page.locator("h1").inner_text() == "Few-Shot Image Classification"
    screenshot("task")

    page.get_by_role("link", name="Mini-Imagenet 5-way (1-shot)", exact=True).click()
    assert page.locator("h1").inner_text() == "Mini-Imagenet 5-way (1-shot)"
    first_row = page.locator("#sota-table tbody tr").first
    assert first_row.locator("td.model").inner_text() == "MAML"
    assert first_row.locator("td.value").inner_text() == "48.7"
    assert "archive, not re-run" in first_row.inner_text()
    chart = page.locator("#progress-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    assert page.locator("#progress-chart path.sota-line").count() == 1
    assert page.locator("#progress-chart circle.record").count() == 1
    # The stylesheet was served and applied (not the browser's default table layout).
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        == "rgb(20, 33, 61)"
    )
    screenshot("benchmark", full_page=False)

    first_row.locator("td.paper-cell").get_by_role("link").click()  # (the row has code links too)
    assert page.locator("h1").inner_text().startswith("Model-Agnostic Meta-Learning")
    assert page.locator(".authors").inner_text() == "Chelsea Finn, Pieter Abbeel, Sergey Levine"
    assert "model-agnostic" in page.locator(".abstract").inner_text()
    assert page.locator("#paper-results tbody tr").count() == 22
    assert page.locator("#code-links .badge.official").count() == 1
    screenshot("paper")
    assert errors == []
