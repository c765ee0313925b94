"""The layout at a desktop's and a phone's width (1280 and 390 px) in a real Chromium: home,
benchmark, paper, sign-up, log-in, submit, a submission page, the list and the account page. On
each: no element wider than the viewport or sticking out of its card (a table's columns may
scroll inside the table), no console error or CSP violation; on the home, benchmark and paper
pages the value and verification cells show without scrolling and the chart's labels are at
least 11 px on screen. A full-page screenshot of each goes to tests/artifacts/layout/ (ignored
by git)."""

import os

import pytest
from django.core.management import call_command

from maml_ref import datadir
from tests.browser.conftest import ARTIFACTS

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {1280: 900, 390: 844}  # width: height (an iPhone 12-14's CSS viewport at 390)
SHOTS = ARTIFACTS / "layout"
PASSWORD = "engine-1843-notes"

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""

# Every element inside the viewport and inside its card. An element within a box that scrolls or
# clips (overflow-x auto/scroll/hidden: a wide table, the SVG chart) is checked as that box.
OVERFLOW = """() => {
  const vw = document.documentElement.clientWidth, out = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const clipper = (el, stop) => {
    for (let a = el.parentElement; a && a !== stop && a !== document.body; a = a.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return a;
    }
    return null;
  };
  const shown = (r) => r.width > 0 && r.height > 0;
  if (document.documentElement.scrollWidth > vw) {
    out.push('page: scrollWidth ' + document.documentElement.scrollWidth + ' > ' + vw);
  }
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (!shown(r) || clipper(el, null)) continue;
    if (r.left < -0.5 || r.right > vw + 0.5) {
      out.push(name(el) + ' spans ' + r.left + '..' + r.right);
    }
  }
  const cards = '.hero, .card a, .chart, .account-form, .submission-form, fieldset, ' +
    '.paper-list li, .messages li, .summary, .outcome, .sota-list tr, .paper-results tr, ' +
    '.code-table tr, .sota tbody tr, .recent tbody tr';
  for (const card of document.querySelectorAll(cards)) {
    const c = card.getBoundingClientRect();
    for (const el of card.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (!shown(r) || clipper(el, card)) continue;
      if (r.left < c.left - 0.5 || r.right > c.right + 0.5) {
        out.push(name(el) + ' sticks out of ' + name(card) + ': ' + r.left + '..' + r.right +
                 ' in ' + c.left + '..' + c.right);
      }
    }
  }
  for (const svg of document.querySelectorAll('svg')) {  // labels inside the drawing, not cut
    const s = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.left < s.left - 0.5 || r.right > s.right + 0.5) {
        out.push('label ' + t.textContent + ' is cut');
      }
    }
  }
  return out;
}"""

# Each label's size on screen: its font size in the drawing's units times the drawing's scale.
LABEL_PX = """(id) => {
  const svg = document.getElementById(id);
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const size = (t) => parseFloat(getComputedStyle(t).fontSize) * scale;
  return Array.from(svg.querySelectorAll('text.tick'), size);
}"""

# A cell shows without scrolling: inside the viewport and inside its table's visible box.
CELL_SHOWN = """(el) => {
  const r = el.getBoundingClientRect(), t = el.closest('table').getBoundingClientRect();
  const vw = document.documentElement.clientWidth;
  return r.width > 0 && r.height > 0 && r.left >= Math.max(0, t.left) - 0.5 &&
    r.right <= Math.min(vw, t.right) + 0.5;
}"""


@pytest.fixture
def site(db):
    from evaluator.models import Run, Submission
    from leaderboard import catalogue
    from leaderboard.models import Benchmark, Metric, Paper, Result

    call_command("load_seed", verbosity=0)
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    accuracy = Metric.objects.get(name="Accuracy")
    maml = Paper.objects.get(arxiv_id="1703.03400")
    Result.objects.create(  # a verified row: the longest verification cell
        benchmark=omniglot,
        metric=accuracy,
        model=catalogue.get_model("MAML (re-run, transductive)")[0],
        paper=maml,
        value=98.61,
        ci95=0.42,
        claimed_value=98.7,
        source=Result.Source.VERIFIED,
        evaluation_mode=Result.EvaluationMode.TRANSDUCTIVE,
        verification_url="/submissions/1/",
    )
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("ada", "ada@example.org", PASSWORD)
    submission = Submission.objects.create(
        owner=user,
        benchmark=omniglot,
        metric=accuracy,
        claimed_value=98.7,
        model_name="MAML with a rather long model name, as people write them",
        kind="evaluate",
        paper=maml,
        protocol="omniglot-5w1s",
        checkpoint_sha256="ab" * 32,
    )
    Run.objects.create(
        submission=submission,
        protocol="omniglot-5w1s",
        status=Run.Status.REJECTED,
        progress_done=600,
        progress_total=600,
        reproduced_value=95.2,
        ci95=0.4,
        reason="The reproduced 95.20 ± 0.40% is more than 0.5 points below the claimed 98.7%.",
        log_tail="\n".join(f"episode {i}/600 accuracy 95.{i % 10}%" for i in range(560, 601)),
    )
    return {"benchmark": omniglot, "paper": maml, "submission": submission}


def check_page(page, name: str, width: int, errors: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    assert page.evaluate(OVERFLOW) == [], f"{name} at {width} px"
    assert page.evaluate("window.__csp") == [] and errors == [], f"{name} at {width} px"


@pytest.mark.parametrize("width", sorted(WIDTHS, reverse=True))
def test_the_pages_fit_the_screen_at_a_desktops_and_a_phones_width(
    live_server, browser, site, width
):
    context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.add_init_script(WATCH)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    base = live_server.url
    try:
        page.goto(f"{base}/")
        search = page.locator(".big-search")
        button = search.locator("button").bounding_box()
        hero = page.locator(".hero").bounding_box()
        assert button["x"] + button["width"] <= hero["x"] + hero["width"]
        check_page(page, "home", width, errors)
        recent = page.locator("#recent-verified tbody tr").first
        for cell in ("td.value", "td.mark-cell"):
            assert recent.locator(cell).evaluate(CELL_SHOWN), f"home's {cell} at {width} px"

        page.goto(f"{base}{site['benchmark'].get_absolute_url()}")
        check_page(page, "benchmark", width, errors)
        rows = page.locator("#sota-table tbody tr")
        assert rows.count() >= 2
        for i in range(rows.count()):
            for cell in ("td.rank", "td.model", "td.value", "td.mark-cell"):
                locator = rows.nth(i).locator(cell)
                assert locator.evaluate(CELL_SHOWN), f"{cell} of row {i} at {width} px"
        assert page.locator("#sota-table .badge.verified").count() == 1
        sizes = page.evaluate(LABEL_PX, "progress-chart")
        assert sizes and min(sizes) >= 11, sizes

        if width == 1280:  # the README's picture (docs/screenshots/benchmark.png), by hand
            page.goto(f"{base}/benchmarks/mini-imagenet-5-way-1-shot/")
            page.screenshot(path=str(SHOTS / "readme-benchmark.png"))

        page.goto(f"{base}{site['paper'].get_absolute_url()}")
        check_page(page, "paper", width, errors)
        results = page.locator("#paper-results tbody tr")
        assert results.count() > 1
        first = results.first
        assert first.locator("td.value").inner_text().strip()
        for cell in ("td.value", "td[data-label=Verification]"):
            assert first.locator(cell).evaluate(CELL_SHOWN), f"{cell} at {width} px"

        page.goto(f"{base}/accounts/signup/")
        assert page.locator(".account-form .field label").count() >= 4
        check_page(page, "signup", width, errors)

        # Logged out, the nav's Submit link leads to the log-in page and back.
        page.locator("header .main-nav").get_by_role("link", name="Submit").click()
        page.wait_for_url("**/accounts/login/?next=/submit/")
        check_page(page, "login", width, errors)
        page.fill("#id_username", "ada")
        page.fill("#id_password", PASSWORD)
        page.click(".account-form button[type=submit]")
        page.wait_for_url(f"{base}/submit/")
        # The form's fields have the site's look, not the browser's defaults.
        radius = "getComputedStyle(document.getElementById('id_model_name')).borderTopLeftRadius"
        assert page.evaluate(radius) == "6px"
        check_page(page, "submit", width, errors)

        page.goto(f"{base}{site['submission'].get_absolute_url()}")
        assert page.locator("#outcome").get_attribute("data-status") == "rejected"
        check_page(page, "submission", width, errors)
        # The account pages have the same look (the site's stylesheet and cards).
        for path, name in (("/submissions/", "submissions"), ("/accounts/", "account")):
            page.goto(f"{base}{path}")
            check_page(page, name, width, errors)
            if name == "submissions":
                status = page.locator("#submission-list tbody tr td.status-cell").first
                assert status.evaluate(CELL_SHOWN), f"the status at {width} px"
        page.click("#logout-button")  # back to the home page (LOGOUT_REDIRECT_URL), logged out
        page.wait_for_url(f"{base}/")
        assert page.locator(".account-nav").get_by_role("link", name="Log in").is_visible()
    finally:
        context.close()


def test_the_submit_form_offers_only_the_chosen_benchmarks_metrics(live_server, page, site):
    from leaderboard.models import Benchmark, Metric

    several = Benchmark.objects.get(name="Mini-Imagenet 5-way (1-shot)")
    several.metrics.add(*Metric.objects.exclude(name="Accuracy")[:2])
    assert several.metrics.count() == 3
    page.goto(f"{live_server.url}/accounts/login/?next=/submit/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click(".account-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/submit/")

    def offered() -> list[str]:
        return page.eval_on_selector_all(
            "#id_metric option", "os => os.filter(o => o.value).map(o => o.textContent)"
        )

    all_metrics = offered()
    assert len(all_metrics) > 2  # before a benchmark is chosen, every metric
    # The verifiable ones head the menu, under their mark.
    groups = page.locator("#id_benchmark optgroup")
    assert groups.first.get_attribute("label").startswith("Verifiable now")
    # Omniglot is verifiable with the data present, and refused without it (a fresh clone).
    has_data = datadir.omniglot_dir(datadir.data_dir()) is not None
    mark = "Verifiable now" if has_data else "Not verifiable now"
    omniglot_group = groups.filter(has_text="OMNIGLOT - 1-Shot, 5-way")
    assert omniglot_group.count() == 1
    assert omniglot_group.get_attribute("label").startswith(mark)

    for benchmark in (site["benchmark"], several):
        page.select_option("#id_benchmark", str(benchmark.pk))
        expected = sorted(benchmark.metrics.values_list("name", flat=True))
        assert sorted(offered()) == expected
    page.select_option("#id_benchmark", str(site["benchmark"].pk))
    assert offered() == ["Accuracy"]
    chosen = page.eval_on_selector("#id_metric", "s => s.selectedOptions[0].textContent")
    assert chosen == "Accuracy"  # the only one, chosen for the user
