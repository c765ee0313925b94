"""The row counts (``leaderboard/db/counters.py``: maintained by migration 0003's triggers on
PostgreSQL, counted under the cache on SQLite) stay equal to the tables' real counts after every
kind of write, the database counted after each action; the pages and paginators use them instead
of counting."""

import datetime

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext

from leaderboard.core.paginators import CachedCountPaginator
from leaderboard.db import counters
from leaderboard.models import (
    Area,
    Benchmark,
    CodeLink,
    Dataset,
    Method,
    Metric,
    MLModel,
    Paper,
    PaperDayCount,
    Result,
    RowCount,
    Task,
)

from .conftest import add_results, make_verified


def real_counts() -> dict[str, int]:
    out = {}
    with connection.cursor() as cursor:
        for table in counters.counted_tables():
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            out[table] = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM leaderboard_result WHERE source = 'verified'")
        out[counters.VERIFIED] = cursor.fetchone()[0]
    return out


def assert_counts_right() -> dict[str, int]:
    kept = counters.totals()
    real = real_counts()
    assert kept == real
    return real


@pytest.fixture
def seeded_counts(seeded):
    return assert_counts_right()


@pytest.fixture
def omniglot(seeded):
    return Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")


@pytest.fixture
def accuracy(seeded):
    return Metric.objects.get(name="Accuracy")


def test_every_table_of_the_catalogue_is_counted_after_migrate_and_the_seed(seeded_counts):
    assert seeded_counts["leaderboard_paper"] == Paper.objects.count() > 0
    assert seeded_counts["leaderboard_result"] == Result.objects.count() > 0
    assert "leaderboard_benchmark_tasks" in seeded_counts  # many-to-many tables too
    assert "leaderboard_rowcount" not in seeded_counts
    assert "leaderboard_catalogueversion" not in seeded_counts


def test_the_counts_stay_right_after_creates_bulk_creates_and_deletes(seeded_counts, omniglot):
    accuracy = Metric.objects.get(name="Accuracy")
    Paper.objects.create(title="Counted one", slug="counted-one")
    assert assert_counts_right()["leaderboard_paper"] == seeded_counts["leaderboard_paper"] + 1
    rows = add_results(omniglot, accuracy, 40)  # bulk_create of models, papers and results
    after_bulk = assert_counts_right()
    assert after_bulk["leaderboard_result"] == seeded_counts["leaderboard_result"] + 40
    rows[0].delete()
    Result.objects.filter(pk__in=[r.pk for r in rows[1:11]]).delete()  # one statement, ten rows
    assert assert_counts_right()["leaderboard_result"] == after_bulk["leaderboard_result"] - 11
    Result.objects.filter(pk__in=[r.pk for r in rows[11:]]).delete()
    MLModel.objects.filter(name__startswith="Model ").delete()
    paper = Paper.objects.get(slug="counted-one")
    paper.tasks.add(*Task.objects.all()[:3])
    CodeLink.objects.create(paper=paper, url="https://github.com/a/b")
    assert_counts_right()
    paper.delete()  # cascades to its code link and its task links
    Paper.objects.filter(slug__startswith="p-").delete()
    assert assert_counts_right() == seeded_counts


def test_the_verified_count_follows_creates_source_changes_and_deletes(
    seeded_counts, omniglot, accuracy
):
    before = seeded_counts[counters.VERIFIED]
    row = make_verified(omniglot, accuracy, 97.0)
    assert assert_counts_right()[counters.VERIFIED] == before + 1
    Result.objects.filter(pk=row.pk).update(source=Result.Source.ARCHIVE)
    assert assert_counts_right()[counters.VERIFIED] == before
    Result.objects.filter(pk=row.pk).update(source=Result.Source.VERIFIED, value=96.0)
    assert assert_counts_right()[counters.VERIFIED] == before + 1
    Result.objects.filter(pk=row.pk).update(value=95.0)  # a change that is not of the source
    assert assert_counts_right()[counters.VERIFIED] == before + 1
    row.delete()
    assert assert_counts_right()[counters.VERIFIED] == before


def test_raw_sql_and_a_rolled_back_transaction_leave_the_counts_right(seeded_counts):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO leaderboard_task (name, slug, description, categories, synonyms) "
            "VALUES ('Raw task', 'raw', '', '[]', '[]')"
        )
    assert assert_counts_right()["leaderboard_task"] == seeded_counts["leaderboard_task"] + 1
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(name="Kept for a moment", slug="kept")
        Task.objects.create(name="Same slug", slug="raw")  # unique: the block rolls back
    assert assert_counts_right()["leaderboard_task"] == seeded_counts["leaderboard_task"] + 1
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM leaderboard_task WHERE slug = 'raw'")
    assert assert_counts_right()["leaderboard_task"] == seeded_counts["leaderboard_task"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_truncate_resets_the_counts_of_every_table_it_empties(seeded_counts):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred key checks pending
        cursor.execute("TRUNCATE leaderboard_model CASCADE")  # results reference models
    counts = assert_counts_right()
    assert counts["leaderboard_model"] == counts["leaderboard_result"] == 0
    assert counts[counters.VERIFIED] == 0
    MLModel.objects.create(name="After truncate", slug="after-truncate")
    assert assert_counts_right()["leaderboard_model"] == 1


def test_an_archive_import_and_a_second_seed_leave_the_counts_right(seeded_counts, tmp_path):
    from .test_archive_files import write_all

    call_command("import_archive", "--all", str(write_all(tmp_path / "a")))
    imported = assert_counts_right()
    assert imported["leaderboard_result"] > seeded_counts["leaderboard_result"]
    assert imported["leaderboard_codelink"] > seeded_counts["leaderboard_codelink"]
    call_command("import_archive", "--all", str(tmp_path / "a"))  # unchanged rows: no change
    assert assert_counts_right() == imported
    call_command("load_seed")
    assert_counts_right()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_writers_fold_the_change_rows_and_the_counts_stay_right(seeded):
    counters.fold()
    names = len(RowCount.objects.values("name").distinct())
    assert RowCount.objects.count() == names  # folded: one row per name
    for i in range(3 * counters.FOLD_EVERY + 10):  # one statement, so one change row, each
        MLModel.objects.create(name=f"Fold {i}", slug=f"fold-{i}")
        assert RowCount.objects.count() <= counters.FOLD_EVERY + names
    assert_counts_right()
    counters.fold()
    assert RowCount.objects.count() == names
    assert_counts_right()


def pending_change_rows(n: int = 3 * counters.FOLD_EVERY) -> None:
    """Change rows that change no count, more than reads once folded at (one statement: the
    writers' fold does not run)."""
    RowCount.objects.bulk_create(RowCount(name="leaderboard_model", n=0) for _ in range(n))
    if connection.vendor == "postgresql":
        PaperDayCount.objects.bulk_create(PaperDayCount(day=None, n=0) for _ in range(n))


def test_reading_the_counts_writes_nothing(seeded):
    pending_change_rows()
    rows = sorted(RowCount.objects.values_list("pk", "name", "n"))
    with CaptureQueriesContext(connection) as ctx:
        kept = counters.totals()
    assert [q["sql"] for q in ctx.captured_queries if is_write(q["sql"])] == []
    assert sorted(RowCount.objects.values_list("pk", "name", "n")) == rows
    assert kept == real_counts()


def is_write(sql: str) -> bool:
    return any(word in sql.upper() for word in ("INSERT ", "UPDATE ", "DELETE ", "TRUNCATE "))


@pytest.mark.parametrize(
    "url",
    ["/", "/papers/", "/papers/?page=3", "/tasks/", "/datasets/", "/sota/", "/methods/",
     "/api/v1/papers/", "/search/?q=learning"],
)  # fmt: skip
def test_a_get_of_home_and_the_unfiltered_lists_issues_no_write(client, seeded, url, settings):
    settings.RESPONSE_CACHE_ENTRIES = 0
    add_results(Benchmark.objects.first(), Metric.objects.first(), 80)
    pending_change_rows()  # which reads used to fold
    days = sorted(PaperDayCount.objects.values_list("pk", "day", "n"))
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert len(ctx.captured_queries) > 0
    assert [q["sql"] for q in ctx.captured_queries if is_write(q["sql"])] == []
    assert sorted(PaperDayCount.objects.values_list("pk", "day", "n")) == days
    assert_counts_right()


@pytest.mark.skipif("connection.vendor != 'postgresql'")  # SQLite keeps no counts: it counts
def test_the_migration_recounts_counts_that_went_wrong(seeded_counts):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps

    RowCount.objects.create(name="leaderboard_paper", n=1000)
    RowCount.objects.create(name="leaderboard_gone", n=5)
    assert counters.totals()["leaderboard_paper"] == seeded_counts["leaderboard_paper"] + 1000
    migration = import_module("leaderboard.migrations.0003_database_triggers")
    migration.install(apps, SimpleNamespace(connection=connection))
    assert "leaderboard_gone" not in assert_counts_right()


def test_the_home_page_figures_are_the_counts_and_follow_a_write(client, seeded_counts):
    def figures():
        with CaptureQueriesContext(connection) as ctx:
            body = client.get("/").content.decode()
        scans = [q["sql"] for q in ctx.captured_queries if '"__count"' in q["sql"]]
        return body, scans

    body, scans = figures()
    assert f"<strong>{seeded_counts['leaderboard_paper']}</strong> papers" in body
    assert scans == []  # no queryset.count(): the figures are maintained counts
    Paper.objects.bulk_create(
        Paper(title=f"Home {i}", slug=f"home-{i}", date=datetime.date(2020, 1, 1))
        for i in range(1234)
    )
    body, scans = figures()
    assert f"<strong>{seeded_counts['leaderboard_paper'] + 1234}</strong> papers" in body
    assert scans == []


@pytest.mark.parametrize(
    "url", ["/papers/", "/papers/?page=3", "/tasks/", "/datasets/", "/sota/", "/methods/"]
)
def test_an_unfiltered_list_takes_its_total_from_the_counts_not_a_count(client, seeded, url):
    add_results(Benchmark.objects.first(), Metric.objects.first(), 80)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert [q["sql"] for q in ctx.captured_queries if '"__count"' in q["sql"]] == []


def test_a_filtered_list_is_still_counted(client, seeded):
    with CaptureQueriesContext(connection) as ctx:
        client.get("/sota/", {"q": "omniglot"})
    assert any('"__count"' in q["sql"] for q in ctx.captured_queries)


@pytest.mark.parametrize(
    "url, model",
    [
        ("/api/v1/papers/", Paper),
        ("/api/v1/search/", Paper),
        ("/api/v1/tasks/", Task),
        ("/api/v1/datasets/", Dataset),
        ("/api/v1/evaluations/", Benchmark),
        ("/api/v1/methods/", Method),
        ("/api/v1/areas/", Area),
    ],
)
def test_an_unfiltered_api_list_takes_its_total_from_the_counts(client, seeded, url, model):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200 and response.json()["count"] == model.objects.count()
    assert [q["sql"] for q in ctx.captured_queries if '"__count"' in q["sql"]] == []


@pytest.mark.parametrize(
    "url",
    [
        "/sota/?area=few-shot",
        "/sota/?task=few-shot-image-classification",
        "/methods/?q=maml",
        "/methods/?collection=meta-learning",
        "/methods/?area=computer-vision",
        "/api/v1/papers/?arxiv_id=1703.03400",
        "/api/v1/papers/?title=learning",
        "/api/v1/search/?q=maml",
        "/api/v1/tasks/?q=shot",
        "/api/v1/tasks/?name=few-shot",
        "/api/v1/datasets/?full_name=omniglot",
        "/api/v1/methods/?name=maml",
        "/api/v1/areas/?name=vision",
    ],
)
def test_a_filtered_list_of_a_view_that_has_a_whole_table_is_counted(client, seeded, url):
    """The views say when a list is a whole table (``whole_table``): with any filter it is not."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert any('"__count"' in q["sql"] for q in ctx.captured_queries), url


def paginator_total(qs, whole_table=None) -> tuple[int, list[str]]:
    """``CachedCountPaginator``'s total of ``qs`` (``whole_table``: the caller's word that it is
    that model's whole table) and the COUNT queries it ran (Django's ``COUNT(``: the one query
    that counts every table on SQLite writes ``count(*)``)."""
    with CaptureQueriesContext(connection) as ctx:
        total = CachedCountPaginator(qs, 10, whole_table=whole_table).count
    return total, [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]


@pytest.mark.filterwarnings("ignore::django.core.paginator.UnorderedObjectListWarning")
def test_only_querysets_of_every_row_once_use_the_count(seeded, monkeypatch):
    """The shapes the views call whole tables (forward joins, per-row aggregates) take the
    maintained count, and it is their real count; any other list, not said to be one, is
    counted."""
    tasks = Task.objects.count()
    kept = [
        Task.objects.all(),
        Task.objects.order_by("name"),
        Task.objects.select_related("parent", "area"),
        Task.objects.annotate(n=Count("benchmarks", distinct=True)),
        Benchmark.tasks.through.objects.select_related("task__area", "benchmark__dataset"),
    ]
    for qs in kept:
        total, scans = paginator_total(qs, qs.model)
        assert total == qs.count(), qs.query
        assert scans == [], qs.query
    assert paginator_total(Task.objects.all(), Task)[0] == tasks
    refused = [
        Task.objects.filter(name__icontains="shot"),
        Task.objects.none(),
        Task.objects.distinct(),
        Task.objects.all()[:2],
        Task.objects.values("parent").annotate(n=Count("pk")),
        Task.objects.values_list("pk", flat=True),
        Task.objects.union(Task.objects.all()),
        Task.objects.extra(where=["1 = 1"]),
        Task.objects.annotate(b=F("benchmarks__name")),  # a row per benchmark
    ]
    consulted = []
    monkeypatch.setattr(counters, "count", consulted.append)
    for qs in refused:
        try:
            expected = qs.count()
        except DatabaseError:  # SQLite: an ordered union cannot be counted, paginated or not
            continue
        total, scans = paginator_total(qs)
        assert total == expected, qs.query
        assert scans or total == 0, qs.query  # counted (none(): nothing to count)
    assert consulted == []  # never the maintained count of a list not said to be whole


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_sqlite_counts_once_per_catalogue_version(seeded_counts):
    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            kept = counters.totals()
        return kept, [q["sql"] for q in ctx.captured_queries if "count(*)" in q["sql"]]

    kept, scans = count_queries()
    assert kept == seeded_counts and len(scans) <= 1  # counted now, or by the fixture
    kept, scans = count_queries()
    assert kept == seeded_counts and scans == []  # the same version: from the cache
    Paper.objects.create(title="A write", slug="a-write")  # a new version: counted again
    kept, scans = count_queries()
    assert len(scans) == 1 and kept["leaderboard_paper"] == seeded_counts["leaderboard_paper"] + 1
    assert kept == real_counts()
