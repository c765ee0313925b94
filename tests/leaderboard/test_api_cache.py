"""The read API's response cache (``leaderboard/core/cache.py``, the same one as the pages'): a
hit is the miss's exact response, and never stale."""

import json

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.http import HttpResponse

from leaderboard.core import cache
from leaderboard.db.counters import counted_tables as catalogue_tables
from leaderboard.merging import merge_papers
from leaderboard.models import Benchmark, CatalogueVersion, Metric, Paper, Result, Task

from .conftest import add_results, make_verified

pytestmark = pytest.mark.usefixtures("seeded")

URL = "/api/results?dataset=omniglot"


@pytest.fixture(autouse=True)
def fresh_responses(seeded):
    assert CatalogueVersion.objects.count() == 1
    cache.store().clear()
    yield
    cache.store().clear()


def stored() -> int:
    """How many responses the store holds (each process's own, as the tests run: locmem)."""
    return len(cache.store()._cache)


@pytest.fixture
def omniglot():
    return Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")


def values(client, url=URL):
    return sorted(r["value"] for r in client.get(url).json()["results"])


def test_a_hit_is_the_exact_response_of_the_miss_for_one_query(client, django_assert_num_queries):
    urls = [
        URL,
        "/api/results?page_size=2&dataset=omniglot",
        "/api/results?dataset=omniglot&page_size=2",
        "/api/results?dataset=omniglot&page_size=2&page=2",
        "/api/papers/?search=model-agnostic",
        "/api/benchmarks/mini-imagenet-5-way-1-shot",
        "/api/tasks",
        "/api/datasets/omniglot",
    ]
    misses = {url: client.get(url) for url in urls}
    for url, miss in misses.items():
        assert miss.status_code == 200
        with django_assert_num_queries(1):  # the catalogue version
            hit = client.get(url)
        assert hit.status_code == 200
        assert hit.content == miss.content
        assert dict(hit.headers) == dict(miss.headers)
    assert stored() == len(urls)


def test_a_new_result_is_visible_on_the_next_request(client, omniglot):
    before = values(client)
    accuracy = Metric.objects.get(name="Accuracy")
    Result.objects.create(
        benchmark=omniglot, metric=accuracy, model=Result.objects.first().model, value=12.5
    )
    assert values(client) == sorted([*before, 12.5])


def test_an_edited_value_is_visible_on_the_next_request(client):
    assert 98.7 in values(client)
    row = Result.objects.get(value=98.7)
    row.value = 98.75
    row.save()
    assert 98.75 in values(client) and 98.7 not in values(client)
    Result.objects.filter(pk=row.pk).update(value=1.5)  # no signal: the trigger still fires
    assert 1.5 in values(client)


def test_a_verified_row_published_like_the_evaluator_does_is_visible(client, omniglot):
    url = URL + "&verified=true"
    assert client.get(url).json()["count"] == 0
    make_verified(omniglot, Metric.objects.get(name="Accuracy"), 99.1)  # Result.objects.create
    rows = client.get(url).json()["results"]
    assert [(r["value"], r["verified"]) for r in rows] == [(99.1, True)]
    Result.objects.verified().delete()  # a curator's override unpublishes it
    assert client.get(url).json()["count"] == 0


def test_an_archive_import_is_visible_on_the_next_request(client, tmp_path):
    url = "/api/results?dataset=cache-test-set"
    assert client.get(url).json()["count"] == 0
    archive = [
        {
            "task": "Few-Shot Image Classification",
            "datasets": [
                {
                    "dataset": "Cache Test Set",
                    "sota": {
                        "metrics": ["Accuracy"],
                        "rows": [{"model_name": "Cached Net", "metrics": {"Accuracy": "77.7"}}],
                    },
                }
            ],
        }
    ]
    path = tmp_path / "evaluation-tables.json"
    path.write_text(json.dumps(archive), encoding="utf-8")
    call_command("import_archive", str(path))
    assert [r["value"] for r in client.get(url).json()["results"]] == [77.7]


def test_bulk_writes_and_many_to_many_changes_are_visible(client, omniglot):
    accuracy = Metric.objects.get(name="Accuracy")
    count = client.get(URL).json()["count"]
    add_results(omniglot, accuracy, 5)  # bulk_create, no signal
    assert client.get(URL).json()["count"] == count + 5
    task = Task.objects.create(name="Cache Task", slug="cache-task")
    assert client.get("/api/benchmarks/?task=cache-task").json()["count"] == 0
    omniglot.tasks.add(task)
    assert client.get("/api/benchmarks/?task=cache-task").json()["count"] == 1


def test_a_paper_merge_is_visible_on_the_next_request(client):
    maml = Paper.objects.get(arxiv_id="1703.03400")
    dup = Paper.objects.create(title="MAML again", slug="maml-again")
    row = Result.objects.filter(paper=maml).first()
    Result.objects.filter(pk=row.pk).update(paper=dup, value=42.0)
    assert client.get("/api/papers/maml-again").json()["results"][0]["value"] == 42.0
    merge_papers(maml, [dup])  # moves rows with QuerySet.update()
    assert client.get("/api/papers/maml-again").status_code == 404
    paper = client.get(f"/api/papers/{maml.slug}").json()
    assert 42.0 in [r["value"] for r in paper["results"]]


def test_a_rolled_back_write_never_names_another_state(client, omniglot):
    before = client.get(URL).content
    accuracy = Metric.objects.get(name="Accuracy")
    with pytest.raises(RuntimeError), transaction.atomic():
        make_verified(omniglot, accuracy, 55.5)
        assert 55.5 in values(client)
        raise RuntimeError("roll back")
    assert client.get(URL).content == before  # the old version's entry, still right
    make_verified(omniglot, accuracy, 66.6)  # the counter reaches the rolled-back value again
    assert 66.6 in values(client) and 55.5 not in values(client)


def test_the_browsable_api_is_never_served_from_the_cache(client, django_assert_max_num_queries):
    client.get(URL)
    for _ in range(2):
        html = client.get(URL, HTTP_ACCEPT="text/html")
        assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert client.get(URL + "&format=json")["Content-Type"] == "application/json"
    assert stored() == 1
    with django_assert_max_num_queries(1):
        assert client.get(URL)["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "url,status",
    [("/api/results?verified=maybe", 400), ("/api/papers/no-such-paper", 404)],
)
def test_error_responses_are_not_cached(client, url, status):
    for _ in range(2):
        assert client.get(url).status_code == status
    assert stored() == 0


def test_requests_with_credentials_are_computed(client, owner):
    client.get(URL)
    bad_token = client.get(URL, HTTP_AUTHORIZATION="Token not-a-token")
    assert bad_token.status_code == 401
    client.force_login(owner)
    assert client.get(URL).status_code == 200
    assert stored() == 1


def test_every_catalogue_table_has_the_version_triggers():
    tables = set(catalogue_tables())
    assert {"leaderboard_result", "leaderboard_benchmark_tasks", "leaderboard_paper"} <= tables
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgname = 'leaderboard_version_bump'"
            )
            assert {r[0] for r in cursor.fetchall()} == tables
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            found = {}
            for table, name in cursor.fetchall():
                if name.startswith("leaderboard_version_"):
                    found.setdefault(table, set()).add(name.rsplit("_", 1)[1])
            assert found == {t: {"insert", "update", "delete"} for t in tables}


def test_the_cache_is_bounded_least_recently_used_out_first(settings, rf):
    """The store is Django's cache: in each process a locmem cache of RESPONSE_CACHE_ENTRIES
    entries that drops the least recently used first; a body over RESPONSE_CACHE_MAX_BODY is
    not stored; another catalogue version's entries are never served."""
    assert settings.CACHES["responses"]["OPTIONS"]["MAX_ENTRIES"] == settings.RESPONSE_CACHE_ENTRIES
    settings.CACHES = {
        **settings.CACHES,
        "responses": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "lru-test",
            "OPTIONS": {"MAX_ENTRIES": 2, "CULL_FREQUENCY": 2},
        },
    }
    settings.RESPONSE_CACHE_MAX_BODY = 100
    computed = []

    def get(path, size=10):
        def compute():
            computed.append(path)
            return HttpResponse(b"x" * size)

        return cache.cached_response(rf.get(path), compute, api=False)

    get("/a")
    get("/b")
    assert get("/a")["X-Page-Cache"] == "hit"  # b is now the least recently used
    get("/c")
    assert "X-Page-Cache" not in get("/b") and stored() == 2
    assert computed == ["/a", "/b", "/c", "/b"]
    get("/big", 101)  # over the largest body stored
    assert "X-Page-Cache" not in get("/big", 101) and computed[-2:] == ["/big", "/big"]
    assert get("/b")["X-Page-Cache"] == "hit"
    Task.objects.create(name="Version bump", slug="version-bump")
    assert "X-Page-Cache" not in get("/b")  # another version: nothing of the old one is served
    assert get("/b")["X-Page-Cache"] == "hit"
