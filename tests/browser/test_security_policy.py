"""Under the site's Content-Security-Policy, in a real Chromium: the home, benchmark (with its
chart), paper, log-in, account, submission form and list pages and the API docs load with no
console error and no CSP violation. (The live progress bar under the policy is checked by
test_submission_flow.py, which collects the same errors while the bar moves.)"""

import os

import pytest
from django.core.management import call_command

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile);
});
"""


def watch(page) -> list[str]:
    """Console errors and page errors of every page loaded from now on."""
    errors: list[str] = []
    page.add_init_script(WATCH_CSP)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def visit(page, url: str, errors: list[str]) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__csp")
    assert violations == [], f"{url}: {violations}"
    assert errors == [], f"{url}: {errors}"


def test_pages_load_under_the_policy_without_console_errors(live_server, page, django_user_model):
    from leaderboard.models import Benchmark, Paper

    call_command("load_seed", verbosity=0)
    django_user_model.objects.create_user("ada", "ada@example.org", "engine-1843-notes")
    errors = watch(page)
    base = live_server.url
    benchmark = Benchmark.objects.filter(results__isnull=False).first()
    paper = Paper.objects.filter(results__isnull=False).first()

    visit(page, f"{base}/", errors)
    visit(page, f"{base}{benchmark.get_absolute_url()}", errors)
    assert page.locator("#progress-chart path.sota-line").count() == 1
    assert page.locator("#progress-chart").bounding_box()["width"] > 300
    # The stylesheet applies (a blocked stylesheet would leave the browser's defaults).
    header_bg = "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    assert page.evaluate(header_bg) == "rgb(20, 33, 61)"
    visit(page, f"{base}{paper.get_absolute_url()}", errors)
    visit(page, f"{base}/accounts/login/", errors)
    page.fill("#id_username", "ada")
    page.fill("#id_password", "engine-1843-notes")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    for path in ("/accounts/", "/submit/", "/submissions/", "/tasks/", "/datasets/", "/papers/"):
        visit(page, f"{base}{path}", errors)
    # The logout button's look comes from the stylesheet now (it had a style attribute).
    assert page.evaluate(
        "getComputedStyle(document.getElementById('logout-button')).backgroundColor"
    ) in ("rgba(0, 0, 0, 0)", "transparent")
    visit(page, f"{base}/api/docs/", errors)
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert page.evaluate("window.__csp") == []
    assert errors == []
