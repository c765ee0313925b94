"""Deep pages of the papers list (``leaderboard/db/paper_days.py``): every page lists exactly the
rows OFFSET would, after creates, date changes and deletes; the day counts stay right."""

import datetime

import pytest
from django.db import connection
from django.db.models import Count

from leaderboard.db import paper_days as paper_pages
from leaderboard.models import Paper, PaperDayCount

pytestmark = pytest.mark.django_db

DAY = datetime.date(2020, 1, 1)


def make(n: int, start: int = 0) -> None:
    Paper.objects.bulk_create(
        Paper(
            title=f"Paper {i}",
            slug=f"pp-{i}",
            date=None if i % 7 == 0 else DAY + datetime.timedelta(days=i % 5),
        )
        for i in range(start, start + n)
    )


def listed_pages(client, per_page: int = 25) -> list[list[str]]:
    total = Paper.objects.count()
    pages = []
    for number in range(1, (total + per_page - 1) // per_page + 1):
        response = client.get("/papers/", {"page": number})
        pages.append([p.slug for p in response.context["page"].object_list])
    return pages


def expected_pages(per_page: int = 25) -> list[list[str]]:
    slugs = list(Paper.objects.order_by(*paper_pages.NEWEST).values_list("slug", flat=True))
    return [slugs[i : i + per_page] for i in range(0, len(slugs), per_page)]


def assert_days_right() -> None:
    if connection.vendor != "postgresql":
        return
    sums: dict = {}
    for day, n in PaperDayCount.objects.values_list("day", "n"):
        sums[day] = sums.get(day, 0) + n
    real = dict(Paper.objects.values_list("date").annotate(n=Count("pk")).order_by())
    assert {d: n for d, n in sums.items() if n} == real


def test_every_page_lists_the_rows_offset_would(client):
    make(130)
    assert_days_right()
    assert listed_pages(client) == expected_pages()


def test_pages_stay_right_after_date_changes_deletes_and_more_papers(client):
    make(90)
    Paper.objects.filter(slug__in=["pp-1", "pp-2", "pp-14"]).update(date=None)
    Paper.objects.filter(slug__in=["pp-7", "pp-21"]).update(date=DAY)
    Paper.objects.filter(slug__in=["pp-3", "pp-28", "pp-40"]).delete()
    make(40, start=200)
    assert_days_right()
    assert listed_pages(client) == expected_pages()


def test_undated_papers_come_last_and_a_page_past_the_end_shows_the_last(client):
    make(60)
    pages = listed_pages(client)
    dates = dict(Paper.objects.values_list("slug", "date"))
    listed = [dates[s] for page in pages for s in page]
    undated = listed.index(None)
    assert undated == 60 - 9 and listed[undated:] == [None] * 9  # i % 7 == 0: undated
    last = client.get("/papers/", {"page": 999}).context["page"]
    assert [p.slug for p in last.object_list] == pages[-1]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_writers_fold_the_day_change_rows_and_the_pages_stay_right(client):
    for i in range(2 * paper_pages.FOLD_EVERY + 20):  # a statement, so a change row, each
        Paper.objects.create(title=f"One {i}", slug=f"one-{i}", date=DAY)
        assert PaperDayCount.objects.count() <= paper_pages.FOLD_EVERY + 1
    assert listed_pages(client)[:2] == expected_pages()[:2]
    paper_pages.fold_days()
    assert PaperDayCount.objects.count() == 1
    assert_days_right()
