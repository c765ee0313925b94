"""Search finds what people type: through model names ("maml"), authors ("finn") and words
("meta learning"), ranked, highlighted, paginated; on PostgreSQL and SQLite alike."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leaderboard import search
from leaderboard.models import Paper, PaperSearch

from .conftest import add_results

MAML = "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks"

pytestmark = pytest.mark.usefixtures("seeded")


def titles(qs) -> list[str]:
    return [p.title for p in qs]


@pytest.mark.parametrize("q", ["maml", "MAML", "finn", "meta learning", "Chelsea Finn"])
def test_it_finds_the_maml_paper(q):
    assert MAML in titles(search.papers(q))


def test_it_finds_the_paper_through_its_model_names_although_no_text_says_maml():
    paper = Paper.objects.get(title=MAML)
    assert "maml" not in (paper.title + paper.abstract).lower()
    assert titles(search.papers("maml"))[0] == MAML


def test_a_paper_whose_title_says_it_ranks_above_one_whose_abstract_says_it(db):
    Paper.objects.create(title="Unrelated title", slug="u", abstract="about zebrafish a lot")
    Paper.objects.create(title="Zebrafish counting", slug="z", abstract="")
    assert titles(search.papers("zebrafish")) == ["Zebrafish counting", "Unrelated title"]


def test_bulk_created_and_updated_papers_are_searchable_at_once(db):
    Paper.objects.bulk_create([Paper(title="Quokka detection", slug="q", authors=["Ada Byron"])])
    assert titles(search.papers("quokka")) == ["Quokka detection"]
    assert titles(search.papers("byron")) == ["Quokka detection"]
    Paper.objects.filter(slug="q").update(title="Wombat detection")
    assert titles(search.papers("quokka")) == []
    assert titles(search.papers("wombat")) == ["Wombat detection"]
    if connection.vendor == "postgresql":
        assert PaperSearch.objects.filter(paper__slug="q").exists()


def test_a_deleted_paper_is_no_longer_found(db):
    Paper.objects.create(title="Platypus tracking", slug="pt")
    Paper.objects.filter(slug="pt").delete()
    assert titles(search.papers("platypus")) == []


def test_names_are_found_by_a_part_and_ranked(db):
    names = [t.name for t in search.tasks("few-shot")]
    assert "Few-Shot Learning" in names and "Few-Shot Image Classification" in names
    assert [d.name for d in search.datasets("omniglot")] == ["Omniglot"]
    assert "MAML" == [m.name for m in search.models("maml")][0]


def test_query_syntax_and_odd_input_never_fail(db):
    for q in ['"', "a -b", "(x", "*", "OR", "'; drop table", "\x00maml", "x" * 500, "  "]:
        list(search.papers(q))
        list(search.tasks(q))


def test_the_search_page_highlights_and_escapes(client):
    Paper.objects.create(title="<script>alert(1)</script> meta tricks", slug="xss")
    body = client.get("/search/", {"q": "meta learning"}).content.decode()
    assert "<mark>Meta</mark>-<mark>Learning</mark>" in body
    body = client.get("/search/", {"q": "tricks"}).content.decode()
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; meta <mark>tricks</mark>" in body


def test_the_search_page_finds_maml_finn_and_meta_learning(client):
    for q in ("maml", "finn", "meta learning"):
        response = client.get("/search/", {"q": q})
        assert response.status_code == 200
        assert MAML in response.content.decode().replace("<mark>", "").replace("</mark>", "")


def test_the_search_page_paginates_one_kind(client, db):
    Paper.objects.bulk_create(
        Paper(title=f"Capybara study {i}", slug=f"cap-{i}") for i in range(45)
    )
    page3 = client.get("/search/", {"q": "capybara", "type": "papers", "page": 3})
    assert page3.context["sections"][0]["page"].number == 3
    assert len(page3.context["sections"][0]["page"]) == 5
    assert "45 in all" in page3.content.decode()


def _queries(client, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/search/", params).status_code == 200
    return len(ctx.captured_queries)


def test_the_search_page_runs_the_same_queries_for_few_and_many_matches(client):
    from leaderboard.models import Benchmark, Metric

    few = _queries(client, {"q": "maml"})
    benchmark = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    add_results(benchmark, Metric.objects.get(name="Accuracy"), 120)
    Paper.objects.bulk_create(Paper(title=f"MAML variant {i}", slug=f"mv-{i}") for i in range(60))
    many = _queries(client, {"q": "maml"})
    # Bounded, whatever the data: per kind a count and a page; on PostgreSQL also the candidate
    # papers (text, model names, methods), whether some paper's text matches and, only where
    # none does (so here before the variants, not after), whether any name contains the query.
    assert many <= few <= 30
    if connection.vendor != "postgresql":
        assert many == few


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_near_misses_are_looked_for_only_where_no_text_or_name_matches(client):
    def similarity_scans(q):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/search/", {"q": q})
        return response, [c["sql"] for c in ctx.captured_queries if "%>" in c["sql"]]

    response, scans = similarity_scans("mamll")  # a typo: in no text, no name
    assert scans and "MAML" in [m.name for m in search.models("mamll")]
    response, scans = similarity_scans("learning")  # in the MAML paper's text
    assert scans == []
    Paper.objects.create(title="Mamll counting", slug="mamll")
    assert similarity_scans("mamll")[1] == []


@pytest.mark.parametrize("q", ["maml", "finn", "meta learning", "1703.03400"])
def test_the_api_search_parameters_use_the_same_search(client, q):
    titles = [p["title"] for p in client.get("/api/papers/", {"search": q}).json()["results"]]
    assert titles[0] == MAML
    v1 = client.get("/api/v1/papers/", {"q": q}).json()["results"]
    assert v1[0]["title"] == MAML


def test_the_api_searches_names_too(client):
    names = [t["name"] for t in client.get("/api/tasks", {"search": "few-shot"}).json()["results"]]
    assert "Few-Shot Image Classification" in names
    assert client.get("/api/v1/search/", {"q": "finn"}).json()["count"] == 1


@pytest.mark.skipif("connection.vendor != 'sqlite'")
@pytest.mark.parametrize("q", ["maml", "finn", "meta learning"])
def test_without_fts5_sqlite_falls_back_to_substrings(monkeypatch, q):
    monkeypatch.setattr(search, "_fts_available", lambda: False)
    assert MAML in titles(search.papers(q))


def test_a_bounded_paper_search_says_what_its_count_means(client, monkeypatch):
    import datetime

    day = datetime.date(2020, 1, 1)
    Paper.objects.bulk_create(
        Paper(title=f"Axolotl study {i}", slug=f"ax-{i}", date=day + datetime.timedelta(days=i))
        for i in range(12)
    )
    postgres = connection.vendor == "postgresql"
    monkeypatch.setattr(search, "TEXT_CANDIDATES", 6)  # PostgreSQL ranks the newest 6 only
    page = client.get("/search/", {"q": "axolotl"})
    body = page.content.decode()
    pwc = client.get("/api/v1/papers/", {"q": "axolotl"}).json()
    api = client.get("/api/papers/", {"search": "axolotl"}).json()
    listed = [p.title for p in page.context["sections"][0]["page"]]
    if postgres:
        note = "the 6 newest of the papers whose text matches (more papers match"
        assert "6 ranked</small>" in body and f"6 papers ranked: {note}" in body
        assert "All 6 ranked papers" in body
        assert pwc["count"] == api["count"] == 6
        assert note in pwc["count_note"] and note in api["count_note"]
        assert listed == [f"Axolotl study {i}" for i in (11, 10, 9, 8, 7)]  # the newest
    else:  # SQLite ranks every match: the count is of every match, nothing to add
        assert "newest of the papers" not in body and "All 12 papers" in body
        assert pwc["count"] == api["count"] == 12
        assert "count_note" not in pwc and "count_note" not in api
    Paper.objects.filter(slug__in=[f"ax-{i}" for i in range(6)]).delete()  # 6 left: all ranked
    body = client.get("/search/", {"q": "axolotl"}).content.decode()
    pwc = client.get("/api/v1/papers/", {"q": "axolotl"}).json()
    assert "newest of the papers" not in body and "All 6 papers" in body
    assert pwc["count"] == 6 and "count_note" not in pwc


@pytest.mark.skipif("connection.vendor != 'postgresql'")  # SQLite matches the words: "50"
def test_names_match_a_percent_or_an_underscore_literally(db):
    from leaderboard.models import Task

    Task.objects.create(name="Top 50% split", slug="top-50-percent")
    Task.objects.create(name="Top 500 split", slug="top-500")
    Task.objects.create(name="snake_case parsing", slug="snake-case")
    Task.objects.create(name="snakeXcase parsing", slug="snakexcase")
    assert [t.name for t in search.tasks("50%")] == ["Top 50% split"]
    assert [t.name for t in search.tasks("snake_case")] == ["snake_case parsing"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_name_searches_are_ilike_which_the_trigram_indexes_serve(db):
    # Django's icontains is UPPER(name) LIKE UPPER(...): no index of the name serves it.
    for qs in (search.tasks("shot"), search.methods("maml"), search.models("maml")):
        sql = str(qs.query)
        assert "ILIKE" in sql and "UPPER(" not in sql
