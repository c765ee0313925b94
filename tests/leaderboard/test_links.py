"""Only http(s) links are stored and rendered: import, API, form, admin, and the pages (the
``safe_href`` filter) even for a row stored before the check existed."""

import json
import re

import pytest
from django.core.management import call_command

from leaderboard.core.json_bounds import JSONBoundError, loads_bounded
from leaderboard.core.links import http_url_or_empty, is_http_url
from leaderboard.models import CodeLink, Dataset, Paper

HOSTILE = [
    "javascript:alert(1)",
    " JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://example.org/paper.pdf",
    "//evil.example/x",
    "/relative/path",
    "https://",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_it_refuses_every_link_that_is_not_http_or_https(url):
    assert not is_http_url(url)
    assert http_url_or_empty(url) == ""


def test_it_keeps_http_and_https_links():
    assert http_url_or_empty(" https://arxiv.org/abs/1703.03400 ") == (
        "https://arxiv.org/abs/1703.03400"
    )
    assert is_http_url("http://example.org/a?b=c#d")


def archive(paper_url, code_url):
    row = {
        "model_name": "Evil",
        "metrics": {"Accuracy": "50.0"},
        "paper_title": "A hostile paper",
        "paper_url": paper_url,
        "paper_date": "2020-01-01",
        "code_links": [{"title": "x", "url": code_url}, {"url": "https://github.com/a/b"}],
    }
    return [
        {
            "task": "Few-Shot Image Classification",
            "datasets": [{"dataset": "Omniglot", "sota": {"metrics": ["Accuracy"], "rows": [row]}}],
        }
    ]


def test_the_importer_drops_hostile_links_with_a_warning(db, tmp_path, capsys, client):
    path = tmp_path / "evaluation-tables.json"
    path.write_text(json.dumps(archive("javascript:alert(1)", "data:text/html,<b>x</b>")))
    call_command("import_archive", str(path))
    err = capsys.readouterr().err
    assert "paper_url 'javascript:alert(1)' is not an http(s) URL, dropped" in err
    assert "data:text/html,<b>x</b>" in err  # the code link's warning names it
    paper = Paper.objects.get(title="A hostile paper")
    assert paper.url == ""
    assert list(CodeLink.objects.values_list("url", flat=True)) == ["https://github.com/a/b"]
    page = client.get(paper.get_absolute_url()).content.decode()
    assert "javascript:" not in page and "data:text" not in page


def test_the_importer_refuses_a_file_nested_too_deep(db, tmp_path):
    from django.core.management import CommandError

    path = tmp_path / "deep.json"
    path.write_text('[{"task": "T", "datasets": ' + "[" * 3000 + "]" * 3000 + "}]")
    with pytest.raises(CommandError, match="(?i)deep|depth|nest"):
        call_command("import_archive", str(path))
    assert Paper.objects.count() == 0


def test_pages_and_api_never_emit_a_stored_hostile_link(db, client):
    paper = Paper.objects.create(
        title="Old row", slug="old-row", url="javascript:alert(1)", pdf_url="data:text/html,x"
    )
    CodeLink.objects.create(paper=paper, url="javascript:alert(2)")
    dataset = Dataset.objects.create(name="D", slug="d", url="javascript:alert(3)")
    page = client.get(paper.get_absolute_url()).content.decode()
    assert re.search(r'<a [^>]*href="\s*(javascript|data):', page) is None
    assert "javascript:alert(2)" in page  # shown as text, not as a link
    assert 'href="javascript' not in client.get(dataset.get_absolute_url()).content.decode()
    body = client.get(f"/api/papers/{paper.slug}/").json()
    assert body["url"] == "" and body["pdf_url"] == ""
    assert body["code_links"][0]["url"] == ""
    assert client.get("/api/datasets/d/").json()["url"] == ""


def test_the_admin_refuses_a_hostile_link(db, client, staff):
    client.force_login(staff)
    r = client.post(
        "/admin/leaderboard/dataset/add/",
        {"name": "Evil", "slug": "evil", "url": "javascript:alert(1)", "description": ""},
    )
    assert r.status_code == 200
    assert "Only http:// and https:// links are accepted." in r.content.decode()
    assert not Dataset.objects.filter(slug="evil").exists()


def test_the_json_bound_names_each_bound():
    with pytest.raises(JSONBoundError) as size:
        loads_bounded("[1, 2, 3]", max_bytes=5)
    assert size.value.bound == "size"
    with pytest.raises(JSONBoundError) as depth:
        loads_bounded("[[[1]]]", max_bytes=None, max_depth=2)
    assert depth.value.bound == "depth"
    with pytest.raises(JSONBoundError) as digits:
        loads_bounded("[" + "1" * 30 + "]", max_bytes=None)
    assert digits.value.bound == "integer"
    assert loads_bounded('{"a": [1, {"b": -2}]}', max_bytes=100, max_depth=3) == {
        "a": [1, {"b": -2}]
    }
