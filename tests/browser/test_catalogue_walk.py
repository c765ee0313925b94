"""A reader's walk in a real browser, at 1280 px and at 390 px (a phone): home -> SotA -> a
benchmark -> its paper (code links, related papers) -> a method -> About. Screenshots go to
tests/artifacts/ (catalogue-<step>-<width>.png)."""

import os

import pytest
from django.apps import apps
from django.core.management import call_command

from leaderboard.models import CodeLink, Paper

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MAML = "model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks"


def catalogue():
    call_command("load_seed", verbosity=0)
    maml = Paper.objects.get(slug=MAML)
    CodeLink.objects.create(
        paper=maml, url="https://github.com/dragen1860/MAML-Pytorch", framework="pytorch"
    )
    related = Paper.objects.create(
        title="How to train your MAML", slug="how-to-train-your-maml", authors=["A. Antoniou"]
    )
    related.tasks.set(maml.tasks.all())
    Method = apps.get_model("leaderboard", "Method")
    method = Method.objects.create(
        name="MAML",
        slug="maml",
        full_name="Model-Agnostic Meta-Learning",
        description="Learns an initialisation that adapts to a new task in a few gradient steps.",
        introduced_year=2017,
        paper=maml,
    )
    maml.methods.add(method)
    related.methods.add(method)


def overflow(page) -> int:
    """How far the page is wider than the viewport (0: nothing to scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("width", [1280, 390])
def test_home_sota_benchmark_paper_method_about(live_server, browser, width):
    catalogue()
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    from .conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(step):
        page.screenshot(path=str(ARTIFACTS / f"catalogue-{step}-{width}.png"), full_page=True)
        assert overflow(page) <= 1, f"{step} is wider than {width} px"

    try:
        page.goto(live_server.url + "/")
        shot("home")
        page.locator(".main-nav").get_by_role("link", name="SotA", exact=True).click()
        assert page.locator("h1").inner_text() == "State of the art"
        page.locator("form.filters input[name=q]").fill("Mini-Imagenet 5-way (1-shot)")
        with page.expect_navigation():
            page.locator("form.filters button").click()
        row = page.locator(".sota-list tbody tr").first
        assert "48.7" in row.inner_text() and "MAML" in row.inner_text()
        shot("sota")

        row.get_by_role("link", name="Mini-Imagenet 5-way (1-shot)").click()
        assert page.locator("h1").inner_text() == "Mini-Imagenet 5-way (1-shot)"
        shot("benchmark")

        page.locator("#sota-table tbody tr").first.get_by_role("link").first.click()
        assert page.locator("h1").inner_text().startswith("Model-Agnostic Meta-Learning")
        links = page.locator("#code-links tbody tr")
        assert links.count() == 2
        assert "official" in links.first.inner_text() and "cbfinn/maml" in links.first.inner_text()
        assert page.locator("#pdf-link").get_attribute("href").startswith("https://arxiv.org/pdf/")
        assert "How to train your MAML" in page.locator("#related-papers").inner_text()
        shot("paper")

        page.locator("#paper-methods").get_by_role("link", name="MAML").click()
        assert page.locator("h1").inner_text() == "MAML"
        assert page.locator("#method-full-name").inner_text() == "Model-Agnostic Meta-Learning"
        assert "Introduced in 2017" in page.locator("#method-introduced").inner_text()
        assert page.locator("#method-papers li").count() == 2
        shot("method")

        page.locator(".main-nav").get_by_role("link", name="About", exact=True).click()
        assert "archive, not re-run" in page.locator("main").inner_text()
        assert "CC-BY-SA 4.0" in page.locator("main").inner_text()
        shot("about")
        assert errors == []
    finally:
        context.close()
