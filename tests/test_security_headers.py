"""The security headers on every page and API answer, and the policy's consequences in the
templates: no inline script, style attribute or event handler anywhere."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["/", "/tasks/", "/datasets/", "/papers/", "/search/?q=maml", "/accounts/login/"]


@pytest.fixture
def seeded(db):
    call_command("load_seed", verbosity=0)


def assert_headers(response):
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_security_headers(client, seeded, path):
    r = client.get(path)
    assert r.status_code == 200
    assert_headers(r)


def test_benchmark_paper_submit_and_api_answers_send_them_too(client, seeded, owner):
    from leaderboard.models import Benchmark, Paper

    paths = [
        Benchmark.objects.first().get_absolute_url(),
        Paper.objects.first().get_absolute_url(),
        "/api/papers/",
        "/api/no-such/",
        "/no-such-page/",
        "/api/docs/",
    ]
    client.force_login(owner)
    paths += ["/submit/", "/submissions/", "/accounts/"]
    for path in paths:
        assert_headers(client.get(path))


def test_the_api_docs_page_has_no_inline_script_or_style(client, db):
    r = client.get("/api/docs/")
    html = r.content.decode()
    assert "<style" not in html
    assert re.search(r"<script>(?!</script>)", html) is None
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_no_template_or_chart_has_inline_script_style_or_handlers():
    offenders = []
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]
    files += [ROOT / "leaderboard" / "results" / "charts.py"]
    for path in files:
        text = path.read_text()
        for pattern in (r"<script(?![^>]*\bsrc=)[^>]*>", r"\sstyle=", r"\son[a-z]+=", "<style"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert offenders == []
