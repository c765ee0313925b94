"""The PWC API's ``title`` and ``abstract`` filters go through the search's indexes (the stored
vector's GIN index by weight on PostgreSQL, the FTS5 table by column on SQLite), never a scan of
every abstract: every word of the value, stemmed, in that field only; newest first; bounded to the
newest matches with a note saying what ``count`` then means."""

import datetime

import pytest

from leaderboard import search
from leaderboard.models import Paper

URL = "/api/v1/papers/"


@pytest.fixture
def papers(db):
    rows = [
        ("Gradient agnostic methods", "We study adaptation of networks to new tasks.", 1),
        ("Fast adaptation", "A gradient-based learner that adapts quickly.", 2),
        ("Graph networks", "Message passing; nothing about the other topic.", 3),
        ("Learning to adapt", "We learn gradient steps: adapting, adapted, adapts.", 4),
    ]
    return [
        Paper.objects.create(
            title=title,
            slug=f"paper-{i}",
            abstract=abstract,
            date=datetime.date(2020, 1, i),
            authors=["A. Author"],
        )
        for title, abstract, i in rows
    ]


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [p["title"] for p in response.json()["results"]]


def test_abstract_matches_words_of_the_abstract_only_newest_first(client, papers):
    # "gradient" is in the first paper's title, not its abstract: not listed.
    assert titles(client.get(URL, {"abstract": "gradient"})) == [
        "Learning to adapt",
        "Fast adaptation",
    ]
    # Every word, stemmed: "adapting" finds "adapts" and "adaptation".
    assert titles(client.get(URL, {"abstract": "gradient adapting"})) == [
        "Learning to adapt",
        "Fast adaptation",
    ]
    assert titles(client.get(URL, {"abstract": "passing message"})) == ["Graph networks"]
    assert titles(client.get(URL, {"abstract": "zebra"})) == []
    assert titles(client.get(URL, {"abstract": "!!!"})) == []  # no word: nothing


def test_title_matches_words_of_the_title_and_combines_with_abstract(client, papers):
    assert titles(client.get(URL, {"title": "adaptation"})) == [
        "Learning to adapt",
        "Fast adaptation",
    ]
    assert titles(client.get(URL, {"title": "adapt", "abstract": "quickly"})) == ["Fast adaptation"]
    assert titles(client.get(URL, {"title": "graph", "q": "message"})) == ["Graph networks"]


def test_a_common_word_lists_the_newest_matches_and_says_what_count_means(
    client, papers, monkeypatch
):
    monkeypatch.setattr(search, "FIELD_CANDIDATES", 2)
    body = client.get(URL, {"abstract": "we"}).json()
    # "we" is a stop word: nothing to match on PostgreSQL and SQLite's porter stemmer alike...
    assert body["count"] in (0, 2)
    body = client.get(URL, {"abstract": "adapt"}).json()
    assert body["count"] == 2
    assert [p["title"] for p in body["results"]] == ["Learning to adapt", "Fast adaptation"]
    assert "the 2 newest of the papers whose abstract hold these words" in body["count_note"]
    body = client.get(URL, {"abstract": "passing"}).json()
    assert body["count"] == 1 and "count_note" not in body
